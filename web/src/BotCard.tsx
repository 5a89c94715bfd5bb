import { useState } from "react";
import { api, type Bot } from "./api";

const STATE_STYLE: Record<string, string> = {
  connected: "bg-emerald-100 text-emerald-800",
  paused: "bg-sky-100 text-sky-800",
  starting: "bg-amber-100 text-amber-800",
  linking: "bg-amber-100 text-amber-800",
  disconnected: "bg-rose-100 text-rose-800",
  unresponsive: "bg-rose-100 text-rose-800",
  logged_out: "bg-slate-200 text-slate-700",
  replaced: "bg-rose-100 text-rose-800",
  banned: "bg-rose-200 text-rose-900",
  stopped: "bg-slate-200 text-slate-700",
};

type Props = { bot: Bot; selected: boolean; canManage: boolean; onSelect: () => void };

/** A bot: its live state, its QR code while linking, and what an admin can do with it. */
export default function BotCard({ bot, selected, canManage, onSelect }: Props) {
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  async function act(action: string, path = `/bots/${bot.id}/session/${action}`, body?: object) {
    setBusy(action);
    setError(null);
    try {
      await api(path, { method: "POST", body: body ? JSON.stringify(body) : undefined });
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(null);
    }
  }

  const linking = bot.runtime_state === "linking";
  const connected = bot.runtime_state === "connected" || bot.runtime_state === "paused";
  return (
    <div
      className={`rounded-lg border bg-white p-3 shadow-sm ${selected ? "ring-2 ring-emerald-500" : ""}`}
      data-testid="bot-card"
    >
      <button onClick={onSelect} className="w-full text-left">
        <div className="font-medium">{bot.name}</div>
        <div className="text-xs text-slate-500">{bot.phone_number ?? "no number linked"}</div>
        <div className="mt-1 flex flex-wrap gap-2 text-xs">
          <span className={`rounded px-1.5 py-0.5 ${STATE_STYLE[bot.runtime_state] ?? "bg-slate-100"}`} data-testid="bot-state">
            {bot.runtime_state.replace("_", " ")}
          </span>
          <span className="rounded bg-slate-100 px-1.5 py-0.5">{bot.transport}</span>
        </div>
        {bot.runtime_reason && <div className="mt-1 text-xs text-slate-500">{bot.runtime_reason}</div>}
        {bot.banned_until && (
          <div className="mt-1 text-xs text-rose-700">banned until {new Date(bot.banned_until).toLocaleString()}</div>
        )}
      </button>
      {linking && bot.qr_data_url && (
        <div className="mt-2 text-center">
          <img src={bot.qr_data_url} alt="QR code to link WhatsApp" className="mx-auto w-40" data-testid="qr" />
          <div className="text-xs text-slate-500">WhatsApp → Linked devices → Link a device</div>
          {bot.pair_code && <div className="mt-1 font-mono text-lg tracking-widest">{bot.pair_code}</div>}
          {canManage && bot.transport === "simulated" && (
            <button
              className="mt-2 rounded bg-emerald-600 px-2 py-1 text-xs text-white"
              disabled={busy !== null}
              onClick={() => act("scan", `/bots/${bot.id}/simulator/scan`, { phone_number: "+15550009999" })}
            >
              Scan with a simulated phone
            </button>
          )}
        </div>
      )}
      {canManage && (
        <div className="mt-2 flex flex-wrap gap-1 text-xs">
          {connected && bot.runtime_state !== "paused" && (
            <ActionButton label="Pause" busy={busy === "pause"} onClick={() => act("pause")} />
          )}
          {bot.runtime_state === "paused" && (
            <ActionButton label="Resume" busy={busy === "resume"} onClick={() => act("resume")} />
          )}
          <ActionButton label={linking ? "New QR" : "Relink"} busy={busy === "relink"} onClick={() => act("relink")} />
          {connected && <ActionButton label="Log out" busy={busy === "logout"} onClick={() => act("logout")} />}
          <ActionButton label="Restart" busy={busy === "restart"} onClick={() => act("restart")} />
        </div>
      )}
      {error && <p className="mt-1 text-xs text-rose-700">{error}</p>}
    </div>
  );
}

function ActionButton({ label, busy, onClick }: { label: string; busy: boolean; onClick: () => void }) {
  return (
    <button className="rounded border px-2 py-0.5 hover:bg-slate-100 disabled:opacity-50" disabled={busy} onClick={onClick}>
      {busy ? "…" : label}
    </button>
  );
}
