"""The interface every transport implements; the worker above it is transport-agnostic."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from relay_common.contract import MessageReceived, SessionState


@dataclass(frozen=True)
class BotRef:
    workspace_id: UUID
    bot_id: UUID
    transport: str


@dataclass(frozen=True)
class Sent:
    whatsapp_message_id: str
    sent_at: datetime


OnMessage = Callable[[MessageReceived], Awaitable[None]]
OnState = Callable[[SessionState, str | None], Awaitable[None]]


class Session(Protocol):
    """One bot's live connection."""

    bot: BotRef

    async def start(self) -> None: ...

    async def send_text(self, chat_jid: str, text: str, *, message_id: str) -> Sent:
        """Send; ``message_id`` is ours to choose so a retried send keeps the same id."""
        ...

    async def stop(self) -> None: ...


class Transport(Protocol):
    name: str

    def open(self, bot: BotRef, on_message: OnMessage, on_state: OnState) -> Session: ...
