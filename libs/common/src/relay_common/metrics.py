"""Every Prometheus metric of Relay, defined once."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

BUS_MESSAGES_HANDLED = Counter(
    "relay_bus_messages_handled_total",
    "Bus messages handled by a consumer, by outcome (ack, retry, dead_letter, invalid).",
    ["consumer", "outcome"],
)
BUS_HANDLER_SECONDS = Histogram(
    "relay_bus_handler_seconds",
    "Time spent in a consumer's handler.",
    ["consumer"],
)
BUS_PUBLISHED = Counter(
    "relay_bus_published_total", "Messages published to JetStream.", ["subject"]
)
BUS_DUPLICATES = Counter(
    "relay_bus_publish_duplicates_total",
    "Publishes JetStream dropped as duplicates (same Nats-Msg-Id).",
    ["subject"],
)
MESSAGES_STORED = Counter(
    "relay_messages_stored_total", "Conversation messages stored, by origin.", ["origin"]
)
REPLIES_PRODUCED = Counter(
    "relay_replies_produced_total", "Bot replies produced, by engine.", ["engine"]
)
MESSAGES_SENT = Counter(
    "relay_messages_sent_total", "Messages sent to WhatsApp, by transport.", ["transport"]
)
SESSIONS_ACTIVE = Gauge(
    "relay_sessions_active", "Bot sessions held by this worker, by state.", ["state"]
)
SSE_CLIENTS = Gauge("relay_sse_clients", "Browsers connected to the event stream.")
MESSAGES_RECEIVED = Counter(
    "relay_messages_received_total",
    "WhatsApp messages received by bots, by transport and kind (live, history, stale).",
    ["transport", "kind"],
)
SEND_SECONDS = Histogram(
    "relay_send_seconds",
    "Time the transport took to send one message (pacing excluded).",
    ["transport"],
)
PACING_DELAY_SECONDS = Histogram(
    "relay_pacing_delay_seconds",
    "Time a send waited for pacing (rate limit, jitter, typing).",
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60),
)
SESSION_RESTARTS = Counter(
    "relay_session_restarts_total", "Sessions restarted by the worker, by reason.", ["reason"]
)
LEASE_CHANGES = Counter(
    "relay_lease_changes_total",
    "Bot leases acquired, released or lost by this worker.",
    ["change"],
)

GC_PAUSE_SECONDS = Histogram(
    "relay_gc_pause_seconds",
    "Pauses of Python's garbage collector, by generation.",
    ["generation"],
    buckets=(0.001, 0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
