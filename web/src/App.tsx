import { useCallback, useEffect, useState } from "react";
import { api, ApiError, type Bot, type Me } from "./api";
import BotCard from "./BotCard";
import Simulator from "./Simulator";
import { useEvents, type LiveEvent } from "./useEvents";

export default function App() {
  const [me, setMe] = useState<Me | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [bots, setBots] = useState<Bot[]>([]);
  const [selected, setSelected] = useState<string | null>(null);
  const [events, setEvents] = useState<LiveEvent[]>([]);

  useEffect(() => {
    api<Me>("/auth/me")
      .then(setMe)
      .catch((e) => {
        if (!(e instanceof ApiError && e.status === 401)) setError(String(e.message ?? e));
      })
      .finally(() => setLoading(false));
  }, []);

  useEffect(() => {
    if (!me) return;
    api<Bot[]>("/bots")
      .then((list) => {
        setBots(list);
        setSelected((current) => current ?? list[0]?.id ?? null);
      })
      .catch((e) => setError(String(e.message ?? e)));
  }, [me]);

  const onEvent = useCallback((event: LiveEvent) => {
    setEvents((previous) => [event, ...previous].slice(0, 50));
    const isSessionState =
      (event.name === "UPDATE_BOT" || event.name === "QR_GENERATED") && "state" in event.data;
    if (isSessionState) {
      const e = event.data as {
        bot_id: string;
        state: string;
        reason: string | null;
        qr_data_url?: string;
        pair_code: string | null;
        phone_number: string | null;
        banned_until: string | null;
      };
      setBots((list) =>
        list.map((b) =>
          b.id === e.bot_id
            ? {
                ...b,
                runtime_state: e.state,
                runtime_reason: e.reason,
                qr_data_url: e.qr_data_url ?? null,
                pair_code: e.pair_code,
                banned_until: e.banned_until,
                phone_number: e.phone_number ?? b.phone_number,
              }
            : b,
        ),
      );
    }
  }, []);
  const live = useEvents(me !== null, onEvent);

  if (loading) return <p className="p-8 text-slate-500">Loading…</p>;
  if (!me) return <SignIn error={error} />;

  const bot = bots.find((b) => b.id === selected) ?? null;
  return (
    <div className="min-h-screen">
      <header className="flex items-center justify-between border-b bg-white px-6 py-3">
        <div className="flex items-center gap-3">
          <span className="text-lg font-semibold text-emerald-700">Relay</span>
          <span className="text-slate-500">{me.workspace_name}</span>
        </div>
        <div className="flex items-center gap-4 text-sm">
          <span className={live ? "text-emerald-700" : "text-rose-700"} data-testid="live-status">
            {live ? "● live" : "○ reconnecting…"}
          </span>
          <span className="text-slate-600">
            {me.email} · {me.role}
          </span>
          <button
            className="rounded border px-2 py-1 hover:bg-slate-100"
            onClick={() => api("/auth/sign-out", { method: "POST" }).catch(() => null).finally(() => location.reload())}
          >
            Sign out
          </button>
        </div>
      </header>
      {error && <p className="bg-rose-50 px-6 py-2 text-rose-800">{error}</p>}
      <main className="grid gap-6 p-6 lg:grid-cols-[18rem_1fr_20rem]">
        <section>
          <h2 className="mb-2 font-semibold">Bots</h2>
          {bots.length === 0 && <p className="text-slate-500">No bots yet.</p>}
          <ul className="space-y-2">
            {bots.map((b) => (
              <li key={b.id}>
                <BotCard
                  bot={b}
                  selected={b.id === selected}
                  canManage={me.role === "owner" || me.role === "admin"}
                  onSelect={() => setSelected(b.id)}
                />
              </li>
            ))}
          </ul>
        </section>
        <section>{bot ? <Simulator bot={bot} events={events} /> : <p className="text-slate-500">Pick a bot.</p>}</section>
        <section>
          <h2 className="mb-2 font-semibold">Live events</h2>
          <ul className="space-y-1 text-xs">
            {events.map((e, i) => (
              <li key={i} className="rounded bg-white p-2 shadow-sm">
                <span className="font-mono text-emerald-700">{e.name}</span>{" "}
                <span className="text-slate-400">{e.at.toLocaleTimeString()}</span>
              </li>
            ))}
          </ul>
        </section>
      </main>
    </div>
  );
}

type SignInOptions = { google: boolean; dev: boolean };

const SIGN_IN_ERRORS: Record<string, string> = {
  access_denied: "Sign-in was cancelled.",
  deactivated: "Your access to this workspace has been turned off. Ask its owner.",
  email_not_verified: "Google has not verified this email address.",
  bad_state: "That sign-in took too long or was started in another browser. Try again.",
  sign_in_failed: "Google's answer could not be verified. Try again.",
  linked_elsewhere: "This email address is linked to another Google account.",
  unavailable: "Google cannot be reached right now. Try again shortly.",
  rate_limited: "Too many sign-in attempts. Wait a minute and try again.",
};

function SignIn({ error }: { error: string | null }) {
  const [options, setOptions] = useState<SignInOptions | null>(null);
  useEffect(() => {
    api<SignInOptions>("/auth/options")
      .then(setOptions)
      .catch(() => setOptions({ google: false, dev: false }));
  }, []);
  const reason = new URLSearchParams(location.search).get("sign_in_error");
  const problem = error ?? (reason ? (SIGN_IN_ERRORS[reason] ?? `Sign-in failed (${reason}).`) : null);
  const button =
    "mt-6 block rounded-lg bg-emerald-600 px-4 py-2 text-center font-medium text-white hover:bg-emerald-700";
  return (
    <div className="mx-auto mt-24 max-w-sm rounded-xl border bg-white p-8 shadow">
      <h1 className="text-2xl font-semibold text-emerald-700">Relay</h1>
      <p className="mt-2 text-slate-600">AI WhatsApp bots and a sales panel, for your whole team.</p>
      {problem && <p className="mt-4 rounded bg-rose-50 p-2 text-rose-800">{problem}</p>}
      {options === null && <p className="mt-6 text-slate-500">Loading…</p>}
      {options?.google && (
        <a href="/api/v1/auth/google/login" className={button}>
          Sign in with Google
        </a>
      )}
      {options?.dev && (
        <>
          <a href="/api/v1/auth/dev" className={button}>
            Sign in (local development)
          </a>
          <p className="mt-3 text-xs text-slate-500">
            Offered because this runs with <code>relay up</code>.
          </p>
        </>
      )}
      {options && !options.google && !options.dev && (
        <p className="mt-6 text-slate-600">
          No sign-in method is configured: set <code>GOOGLE_CLIENT_ID</code> and{" "}
          <code>GOOGLE_CLIENT_SECRET</code> on the gateway.
        </p>
      )}
    </div>
  );
}
