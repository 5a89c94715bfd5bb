"""Every NATS subject and JetStream stream of Relay, spelled here and nowhere else.

A subject reads ``<prefix>.<domain>.<name>.v<version>.<workspace_id>.<bot_id>``, for
example ``relay.lead.qualified.v1.<workspace>.<bot>``. The prefix (``RELAY_BUS_PREFIX``,
default ``relay``) lets several installations or test runs share one NATS server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

_TOKEN = re.compile(r"^[a-z][a-z0-9_-]*$")


def stream_name(prefix: str, stream: str) -> str:
    """JetStream stream and KV names allow no dots; upper case keeps them apart from subjects."""
    return f"{re.sub(r'[^A-Za-z0-9_-]', '_', prefix).upper()}_{stream}"


@dataclass(frozen=True)
class Stream:
    """A JetStream stream that holds every subject under ``<prefix>.<domain>.>``."""

    name: str
    domain: str
    max_age: timedelta
    description: str
    duplicate_window: timedelta = timedelta(minutes=2)

    def full_name(self, prefix: str) -> str:
        return stream_name(prefix, self.name)

    def wildcard(self, prefix: str) -> str:
        """Every subject of this stream."""
        return f"{prefix}.{self.domain}.>"

    def workspace_wildcard(self, prefix: str, workspace_id: UUID) -> str:
        """Every subject of this stream addressed to one workspace."""
        return f"{prefix}.{self.domain}.*.*.{workspace_id}.*"


@dataclass(frozen=True)
class Subject:
    """One kind of message on the bus, addressed per workspace and bot."""

    stream: Stream
    name: str
    version: int

    def __post_init__(self) -> None:
        for token in self.name.split("."):
            if not _TOKEN.match(token):
                raise ValueError(f"bad subject token {token!r}")

    @property
    def path(self) -> str:
        """The subject without prefix and ids: ``lead.qualified.v1``."""
        return f"{self.stream.domain}.{self.name}.v{self.version}"

    def for_bot(self, prefix: str, workspace_id: UUID, bot_id: UUID) -> str:
        return f"{prefix}.{self.path}.{workspace_id}.{bot_id}"

    def for_workspace(self, prefix: str, workspace_id: UUID) -> str:
        """Wildcard for every bot of one workspace."""
        return f"{prefix}.{self.path}.{workspace_id}.*"

    def template(self) -> str:
        """The subject with placeholders, for documentation."""
        return f"<prefix>.{self.path}.<workspace_id>.<bot_id>"

    def wildcard(self, prefix: str) -> str:
        """Wildcard for every workspace and bot."""
        return f"{prefix}.{self.path}.*.*"

    def stream_wildcard_for_bot(self, prefix: str, workspace_id: UUID, bot_id: UUID) -> str:
        """Every subject of this subject's stream addressed to one bot."""
        return f"{prefix}.{self.stream.domain}.*.*.{workspace_id}.{bot_id}"


MESSAGES = Stream(
    "MESSAGES", "message", timedelta(days=7), "WhatsApp messages received and sent by bots."
)
COMMANDS = Stream(
    "COMMANDS", "command", timedelta(days=1), "Commands for the session worker owning a bot."
)
SESSIONS = Stream(
    "SESSIONS", "session", timedelta(days=1), "Runtime state of bot sessions (QR, connected...)."
)
LEADS = Stream("LEADS", "lead", timedelta(days=30), "Public lead events for other systems.")
SIMNET = Stream(
    "SIMNET", "simnet", timedelta(days=1), "The simulated WhatsApp network (customers' side)."
)
EXTRACTIONS = Stream(
    "EXTRACTIONS",
    "extraction",
    timedelta(days=7),
    "Lead details the AI worker found, for the lead service to apply (internal).",
)
BOTS = Stream(
    "BOTS", "bot", timedelta(days=7), "Bots created, changed or deleted; features; schedules."
)
FEED = Stream(
    "FEED",
    "feed",
    timedelta(days=1),
    "What browsers see live: sources LEADS, SESSIONS and BOTS into one sequence, so an "
    "event stream can resume after its last event id (JetStream sequence).",
)
"""Holds no subjects of its own: its messages keep the subjects of the streams it sources."""
DEADLETTER = Stream(
    "DEADLETTER", "deadletter", timedelta(days=30), "Messages that failed every delivery attempt."
)

STREAMS: tuple[Stream, ...] = (
    MESSAGES,
    COMMANDS,
    SESSIONS,
    LEADS,
    EXTRACTIONS,
    SIMNET,
    BOTS,
    DEADLETTER,
)
FEED_SOURCES: tuple[Stream, ...] = (LEADS, SESSIONS, BOTS)

INBOUND_MESSAGE = Subject(MESSAGES, "inbound", 1)
MESSAGE_SENT = Subject(MESSAGES, "sent", 1)
MESSAGE_RECEIPT = Subject(MESSAGES, "receipt", 1)
SEND_MESSAGE = Subject(COMMANDS, "send", 1)
CONTROL_BOT = Subject(COMMANDS, "control", 1)
SET_PRESENCE = Subject(COMMANDS, "presence", 1)
SESSION_STATE = Subject(SESSIONS, "state", 1)
LEAD_CREATED = Subject(LEADS, "created", 1)
LEAD_MESSAGE = Subject(LEADS, "message", 1)
LEAD_UPDATED = Subject(LEADS, "updated", 1)
LEAD_QUALIFIED = Subject(LEADS, "qualified", 1)
LEAD_ASSIGNED = Subject(LEADS, "assigned", 1)
LEAD_STATUS = Subject(LEADS, "status", 1)
LEAD_DETAILS_FOUND = Subject(EXTRACTIONS, "found", 1)
BOT_CREATED = Subject(BOTS, "created", 1)
BOT_UPDATED = Subject(BOTS, "updated", 1)
BOT_DELETED = Subject(BOTS, "deleted", 1)
BOT_FEATURES = Subject(BOTS, "features", 1)
BOT_SCHEDULE = Subject(BOTS, "schedule", 1)
SIMNET_CUSTOMER_MESSAGE = Subject(SIMNET, "customer", 1)
SIMNET_DELIVERY = Subject(SIMNET, "delivery", 1)
SIMNET_SCAN = Subject(SIMNET, "scan", 1)

SERVICES_BUCKET = "SERVICES"
WORKERS_BUCKET = "WORKERS"
"""KV bucket where session workers announce themselves (capacity, heartbeat)."""
LEASES_BUCKET = "LEASES"
"""KV bucket of bot leases: key ``bot.<bot_id>``, the holder renews it or it expires."""
"""KV bucket (prefixed like streams) where every running service instance announces itself."""


def deadletter_subject(prefix: str, original_subject: str) -> str:
    """Where a message goes after its last failed attempt; keeps the original subject's tail."""
    tail = original_subject.removeprefix(f"{prefix}.")
    return f"{prefix}.{DEADLETTER.domain}.{tail}"


@dataclass(frozen=True)
class Address:
    """What a concrete subject names: the message kind and its tenant and bot."""

    path: str
    workspace_id: UUID
    bot_id: UUID


def parse(prefix: str, subject: str) -> Address | None:
    """``<prefix>.<domain>.<name>.v<n>.<workspace>.<bot>`` -> Address; None if not one."""
    tokens = subject.split(".")
    if len(tokens) != 6 or tokens[0] != prefix:
        return None
    try:
        return Address(".".join(tokens[1:4]), UUID(tokens[4]), UUID(tokens[5]))
    except ValueError:
        return None


def access_revoked(prefix: str) -> str:
    """Core NATS (not a stream): gateways end the event streams of a member or API key
    whose access was just taken away or changed."""
    return f"{prefix}.gateway.access-revoked"


def services_bucket(prefix: str) -> str:
    return stream_name(prefix, SERVICES_BUCKET)


def lease_key(bot_id: UUID) -> str:
    return f"bot.{bot_id}"


def bot_of_lease_key(key: str) -> UUID | None:
    try:
        return UUID(key.removeprefix("bot."))
    except ValueError:
        return None
