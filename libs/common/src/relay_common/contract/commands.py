"""Commands for the session worker that owns a bot."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from pydantic import Field

from relay_common.contract import subjects
from relay_common.contract.envelope import Envelope
from relay_common.contract.messages import Origin
from relay_common.contract.subjects import Subject


class SendMessage(Envelope):
    """Send text to a chat. ``event_id`` is the command id: a redelivery never sends twice."""

    subject: ClassVar[Subject] = subjects.SEND_MESSAGE

    chat_jid: str = Field(min_length=1, max_length=128)
    text: str = Field(min_length=1, max_length=65536)
    origin: Origin = Origin.BOT
    in_reply_to: str | None = Field(
        default=None, description="WhatsApp id of the customer message this answers."
    )
    sent_by_user_id: UUID | None = None
