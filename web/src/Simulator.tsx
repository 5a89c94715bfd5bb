import { type FormEvent, useEffect, useState } from "react";
import { api, type Bot, type ChatMessage } from "./api";
import type { LiveEvent } from "./useEvents";

const DEFAULT_PHONE = "+15550001111";

function chatJid(phone: string) {
  return `${phone.replace(/^\+/, "")}@s.whatsapp.net`;
}

/** Write to a bot as a simulated WhatsApp customer and watch it answer live. */
export default function Simulator({ bot, events }: { bot: Bot; events: LiveEvent[] }) {
  const [phone, setPhone] = useState(DEFAULT_PHONE);
  const [messages, setMessages] = useState<ChatMessage[]>([]);
  const [text, setText] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [sending, setSending] = useState(false);

  useEffect(() => {
    if (bot.transport !== "simulated" || !/^\+[1-9][0-9]{6,14}$/.test(phone)) return;
    api<ChatMessage[]>(`/bots/${bot.id}/simulator/messages?customer_phone=${encodeURIComponent(phone)}`)
      .then(setMessages)
      .catch((e) => setError(e.message));
  }, [bot.id, bot.transport, phone]);

  // Messages of this chat arrive live on the event stream; merge any not shown yet.
  useEffect(() => {
    const jid = chatJid(phone);
    const arrived = events
      .filter((e) => e.name === "NEW_MESSAGE_FOR_SALES" || e.name === "MESSAGE_SENT")
      .map((e) => e.data as ChatMessage & { bot_id: string; chat_jid: string })
      .filter((m) => m.bot_id === bot.id && m.chat_jid === jid)
      .reverse();
    if (arrived.length === 0) return;
    setMessages((list) => {
      const known = new Set(list.map((m) => m.whatsapp_message_id));
      const fresh = arrived.filter((m) => !known.has(m.whatsapp_message_id));
      return fresh.length ? [...list, ...fresh] : list;
    });
  }, [events, bot.id, phone]);

  async function send(e: FormEvent) {
    e.preventDefault();
    if (!text.trim()) return;
    setSending(true);
    setError(null);
    try {
      await api(`/bots/${bot.id}/simulator/messages`, {
        method: "POST",
        body: JSON.stringify({ customer_phone: phone, text }),
      });
      setText("");
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setSending(false);
    }
  }

  if (bot.transport !== "simulated") {
    return <p className="text-slate-500">The simulator works with bots on the simulated network.</p>;
  }
  return (
    <div className="flex h-[70vh] flex-col rounded-xl border bg-white shadow-sm">
      <div className="flex items-center justify-between border-b px-4 py-2">
        <div>
          <div className="font-semibold">Simulator · {bot.name}</div>
          <div className="text-xs text-slate-500">You are a WhatsApp customer writing to this bot.</div>
        </div>
        <label className="text-xs text-slate-600">
          Customer phone{" "}
          <input
            value={phone}
            onChange={(e) => setPhone(e.target.value.trim())}
            className="ml-1 w-36 rounded border px-2 py-1 font-mono"
            aria-label="Customer phone"
          />
        </label>
      </div>
      <ol className="flex-1 space-y-2 overflow-y-auto bg-[#efeae2] p-4" data-testid="chat">
        {messages.length === 0 && <li className="text-center text-sm text-slate-500">Say hello to start a conversation.</li>}
        {messages.map((m) => (
          <li key={m.whatsapp_message_id} className={`flex ${m.origin === "customer" ? "justify-end" : "justify-start"}`}>
            <div
              className={`max-w-[75%] rounded-lg px-3 py-2 text-sm shadow ${m.origin === "customer" ? "bg-[#d9fdd3]" : "bg-white"}`}
              data-origin={m.origin}
            >
              {m.text}
              <div className="mt-1 text-right text-[10px] text-slate-400">
                {m.origin} · {new Date(m.sent_at).toLocaleTimeString()}
              </div>
            </div>
          </li>
        ))}
      </ol>
      {error && <p className="bg-rose-50 px-4 py-1 text-sm text-rose-800">{error}</p>}
      <form onSubmit={send} className="flex gap-2 border-t p-3">
        <input
          value={text}
          onChange={(e) => setText(e.target.value)}
          placeholder="Type a message"
          className="flex-1 rounded-lg border px-3 py-2"
          aria-label="Message"
        />
        <button disabled={sending} className="rounded-lg bg-emerald-600 px-4 py-2 font-medium text-white disabled:opacity-50">
          {sending ? "Sending…" : "Send"}
        </button>
      </form>
    </div>
  );
}
