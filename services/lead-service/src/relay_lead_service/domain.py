"""Pure rules of the lead service."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from relay_common.contract import FoundValue, MessageKind, MessageReceived, Origin
from relay_common.contract.leads import LeadField

FIELDS = ("name", "email", "phone", "location")


def origin_of(message: MessageReceived) -> Origin:
    """A message written on the bot's own phone is the owner's, not the customer's."""
    return Origin.PHONE if message.from_me else Origin.CUSTOMER


def needs_reply(message: MessageReceived) -> bool:
    """Only live customer messages may get an answer: never history, stale offline
    messages (queued while the bot was offline, older than the cutoff) or own messages."""
    return not (message.from_me or message.is_history or message.stale)


@dataclass(frozen=True)
class Incoming:
    """A conversation message to store, whoever wrote it."""

    chat_jid: str
    phone: str | None
    whatsapp_message_id: str
    origin: Origin
    kind: MessageKind
    text: str
    media: dict[str, Any] | None
    sent_by: UUID | None
    is_history: bool
    sent_at: datetime
    needs_reply: bool
    by_a_human: bool
    """Written by a vendor or on the bot's own phone: the bot keeps quiet for a while."""


@dataclass(frozen=True)
class Known:
    value: str | None
    confidence: float


@dataclass(frozen=True)
class Change:
    field: LeadField
    old: str | None
    new: str
    confidence: float
    source: str


def merge(known: Mapping[str, Known], found: Mapping[LeadField, FoundValue]) -> list[Change]:
    """Which found values replace what we know: a field is only replaced by a value that
    is at least as confident (found later, so newer) and different."""
    changes: list[Change] = []
    for field, candidate in found.items():
        current = known.get(field, Known(None, 0.0))
        if candidate.value == current.value:
            continue
        if current.value is None or candidate.confidence >= current.confidence:
            changes.append(
                Change(
                    field, current.value, candidate.value, candidate.confidence, candidate.source
                )
            )
    return changes


def qualified(values: Mapping[str, str | None], required: Sequence[str]) -> bool:
    """Every required field present; ``phone_or_email`` is satisfied by either."""
    for need in required:
        if need == "phone_or_email":
            if not (values.get("phone") or values.get("email")):
                return False
        elif not values.get(need):
            return False
    return True
