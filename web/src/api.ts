export type Me = {
  user_id: string;
  email: string;
  workspace_id: string;
  workspace_name: string;
  role: string;
};

export type Bot = {
  id: string;
  name: string;
  status: string;
  transport: string;
  phone_number: string | null;
  runtime_state: string;
  runtime_reason: string | null;
  qr_data_url: string | null;
  pair_code: string | null;
  banned_until: string | null;
};

export type ChatMessage = {
  id?: string;
  message_id?: string;
  whatsapp_message_id: string;
  origin: string;
  text: string;
  sent_at: string;
};

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The CSRF secret of this sign-in, echoed on every request that changes something. */
function csrfToken(): string {
  const match = document.cookie.match(/(?:^|;\s*)relay_csrf=([^;]*)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export async function api<T>(path: string, init?: RequestInit): Promise<T> {
  const headers = new Headers(init?.headers);
  if (!(init?.body instanceof FormData)) headers.set("Content-Type", "application/json");
  headers.set("X-CSRF-Token", csrfToken());
  const response = await fetch(`/api/v1${path}`, {
    credentials: "same-origin",
    ...init,
    headers,
  });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new ApiError(response.status, body.code ?? "error", body.message ?? response.statusText);
  }
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}
