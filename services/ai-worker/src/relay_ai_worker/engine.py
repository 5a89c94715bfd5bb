"""Reply engines. The local engine works offline; the model provider arrives with its issue."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Conversation:
    bot_name: str
    prompt: str
    customer_text: str
    customer_name: str | None
    is_first_message: bool


class ReplyEngine(Protocol):
    name: str

    async def reply(self, conversation: Conversation) -> str: ...


class LocalReplyEngine:
    """Rule-based replies: greets a new customer, acknowledges the others."""

    name = "local"

    async def reply(self, conversation: Conversation) -> str:
        who = f" {conversation.customer_name}" if conversation.customer_name else ""
        if conversation.is_first_message:
            return (
                f"Hi{who}! This is {conversation.bot_name}. Thanks for your message; "
                "how can we help you today?"
            )
        return f'Thanks{who}, we got your message: "{conversation.customer_text[:200]}".'
