"""Public lead events: other systems subscribe to these; they keep backward compatibility."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from pydantic import Field

from relay_common.contract import subjects
from relay_common.contract.envelope import Envelope
from relay_common.contract.messages import MessageKind, Origin
from relay_common.contract.subjects import Subject


class LeadCreated(Envelope):
    """A customer wrote to a bot for the first time."""

    subject: ClassVar[Subject] = subjects.LEAD_CREATED

    lead_id: UUID
    chat_jid: str
    phone: str | None = Field(default=None, description="E.164 when known.")
    name: str | None = None
    created_at: datetime

    def dedupe_id(self) -> str:
        return f"lead-created:{self.lead_id}"


class LeadMessageRecorded(Envelope):
    """A message of a lead's conversation was stored (customer, bot, vendor or phone)."""

    subject: ClassVar[Subject] = subjects.LEAD_MESSAGE

    lead_id: UUID
    chat_jid: str = Field(description="The customer's WhatsApp chat.")
    message_id: UUID = Field(description="Relay's id of the stored message.")
    whatsapp_message_id: str
    origin: Origin
    kind: MessageKind = MessageKind.TEXT
    text: str
    sent_at: datetime
    is_history: bool = False
    needs_reply: bool = Field(
        default=False, description="A customer message that the bot may answer."
    )

    def dedupe_id(self) -> str:
        return f"lead-message:{self.message_id}"
