import { useEffect, useState } from "react";

export type LiveEvent = { name: string; data: Record<string, unknown>; at: Date };

const NAMES = ["CONNECTED", "lead.message.v1", "lead.created.v1", "session.state.v1"];

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
