"""Pure rules of the AI worker."""

from __future__ import annotations

from uuid import UUID, uuid5

from relay_common.contract import LeadMessageRecorded, Origin

_REPLY_NAMESPACE = UUID("5b0f3a4e-2f55-4c1e-9d5c-1f1e4c2a7b10")


def reply_command_id(bot_id: UUID, whatsapp_message_id: str) -> UUID:
    """The send command answering one customer message: the same on every redelivery."""
    return uuid5(_REPLY_NAMESPACE, f"{bot_id}:{whatsapp_message_id}")


def should_answer(message: LeadMessageRecorded, *, bot_status: str, auto_reply: bool) -> bool:
    return (
        message.origin is Origin.CUSTOMER
        and message.needs_reply
        and bot_status == "enabled"
        and auto_reply
    )
