import { useEffect, useState } from "react";

export type LiveEvent = { name: string; data: Record<string, unknown>; at: Date };

/** Event names of GET /api/v1/events (see docs/events.md). */
export const NAMES = [
  "CONNECTED",
  "INIT",
  "INIT_LEADS",
  "QR_GENERATED",
  "UPDATE_BOT",
  "NEW_BOT",
  "BOT_DELETED",
  "BOT_FEATURES_UPDATED",
  "SCHEDULE_CREATED",
  "SCHEDULE_UPDATED",
  "NEW_LEAD",
  "LEAD_UPDATED",
  "NEW_QUALIFIED_LEAD",
  "LEAD_ASSIGNED",
  "LEAD_STATUS_CHANGED",
  "NEW_MESSAGE_FOR_SALES",
  "MESSAGE_SENT",
  "LEAD_MESSAGES",
];

/** Subscribes to the workspace's event stream; the browser reconnects by itself. */
export function useEvents(enabled: boolean, onEvent: (event: LiveEvent) => void) {
  const [connected, setConnected] = useState(false);
  useEffect(() => {
    if (!enabled) return;
    const source = new EventSource("/api/v1/events");
    source.onopen = () => setConnected(true);
    source.onerror = () => setConnected(false);
    const handler = (name: string) => (e: MessageEvent) =>
      onEvent({ name, data: JSON.parse(e.data), at: new Date() });
    const listeners = NAMES.map((name) => [name, handler(name)] as const);
    listeners.forEach(([name, fn]) => source.addEventListener(name, fn));
    return () => source.close();
  }, [enabled, onEvent]);
  return connected;
}
