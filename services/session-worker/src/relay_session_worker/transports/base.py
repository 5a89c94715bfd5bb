"""The interface every transport implements; the worker above it is transport-agnostic.

A transport opens one ``Session`` per bot. The session reports what happens through the
``SessionHooks`` it was given (messages, receipts, state changes) and carries out what the
worker asks (send, typing, read receipts, relink, logout). Real WhatsApp (neonize) and the
simulated network report the same kinds of events.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from uuid import UUID

from relay_common.contract import MessageReceived, SessionState
from relay_common.contract import ReceiptKind as ReceiptKind  # transports use the contract's


@dataclass(frozen=True)
class BotRef:
    workspace_id: UUID
    bot_id: UUID
    transport: str


@dataclass(frozen=True)
class Sent:
    whatsapp_message_id: str
    sent_at: datetime


@dataclass(frozen=True)
class StateDetails:
    """Extra facts that come with some states."""

    qr_code: str | None = None
    pair_code: str | None = None
    phone_number: str | None = None
    """The linked number (E.164) once paired or connected."""
    device_jid: str | None = None
    """The bot's own device JID once paired; the worker stores it to resume the session."""
    banned_until: datetime | None = None


@dataclass(frozen=True)
class Receipt:
    chat_jid: str
    whatsapp_message_ids: tuple[str, ...]
    kind: ReceiptKind
    at: datetime


OnMessage = Callable[[MessageReceived], Awaitable[None]]
OnState = Callable[[SessionState, str | None, StateDetails], Awaitable[None]]
OnReceipt = Callable[[Receipt], Awaitable[None]]


@dataclass(frozen=True)
class SessionHooks:
    on_message: OnMessage
    """Live messages, history (``is_history=True``) and stale offline ones (``stale=True``)."""
    on_state: OnState
    on_receipt: OnReceipt
    device_jid: str | None = None
    """The device to resume (None: link a new one)."""
    extra: dict[str, str] = field(default_factory=dict)


class TransportError(Exception):
    """A send or action failed; the worker retries the command later."""


class Session(Protocol):
    """One bot's live connection."""

    bot: BotRef
    idempotent_sends: bool
    """True when a send retried with the same ``message_id`` cannot arrive twice."""

    async def start(self) -> None:
        """Connect (or start linking); returns once the attempt is under way."""
        ...

    async def send_text(self, chat_jid: str, text: str, *, message_id: str) -> Sent:
        """Send; ``message_id`` is ours to choose so a retried send keeps the same id."""
        ...

    async def send_image(
        self, chat_jid: str, image: bytes, *, caption: str, message_id: str
    ) -> Sent: ...

    async def set_typing(self, chat_jid: str, typing: bool) -> None:
        """Show or clear the "typing..." indicator in a chat."""
        ...

    async def mark_read(self, chat_jid: str, message_ids: list[str]) -> None: ...

    async def relink(self, phone_number: str | None = None) -> None:
        """Start linking again: a new QR, or a pairing code for ``phone_number``."""
        ...

    async def logout(self) -> None:
        """Unlink the device from the phone; the session ends as LOGGED_OUT."""
        ...

    async def stop(self) -> None:
        """Disconnect and release everything (the device stays linked)."""
        ...


class Transport(Protocol):
    name: str

    def open(self, bot: BotRef, hooks: SessionHooks) -> Session: ...
