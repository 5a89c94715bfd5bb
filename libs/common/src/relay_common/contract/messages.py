"""WhatsApp messages as they cross the bus: received by a bot, sent by a bot."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from relay_common.contract import subjects
from relay_common.contract.envelope import Envelope
from relay_common.contract.subjects import Subject


class MessageKind(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"
    DOCUMENT = "document"
    LOCATION = "location"
    CONTACT = "contact"
    OTHER = "other"


class Origin(StrEnum):
    """Who wrote a message in a conversation."""

    CUSTOMER = "customer"
    BOT = "bot"
    VENDOR = "vendor"
    PHONE = "phone"
    """Someone typed on the bot's own phone."""


class Media(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    mime_type: str | None = None
    file_name: str | None = None
    size_bytes: int | None = Field(default=None, ge=0)
    sha256: str | None = None


class MessageReceived(Envelope):
    """A session worker received a WhatsApp message for one of its bots."""

    subject: ClassVar[Subject] = subjects.INBOUND_MESSAGE

    whatsapp_message_id: str = Field(min_length=1, max_length=128)
    chat_jid: str = Field(min_length=1, max_length=128, description="The customer's chat.")
    sender_phone: str | None = Field(default=None, description="E.164 when known.")
    push_name: str | None = Field(default=None, max_length=256)
    kind: MessageKind = MessageKind.TEXT
    text: str = Field(default="", max_length=65536, description="Text, or a media caption.")
    media: Media | None = None
    sent_at: datetime = Field(description="When WhatsApp says the customer sent it.")
    from_me: bool = Field(default=False, description="Written on the bot's own phone.")
    is_history: bool = Field(default=False, description="Synced history: store, never answer.")
    stale: bool = Field(
        default=False,
        description="Queued while the bot was offline and older than the cutoff: never answer.",
    )

    def dedupe_id(self) -> str:
        return f"in:{self.bot_id}:{self.whatsapp_message_id}"


class MessageSent(Envelope):
    """A session worker delivered a bot's or vendor's message to WhatsApp."""

    subject: ClassVar[Subject] = subjects.MESSAGE_SENT

    command_id: UUID = Field(description="The SendMessage command this fulfils.")
    whatsapp_message_id: str = Field(min_length=1, max_length=128)
    chat_jid: str = Field(min_length=1, max_length=128)
    text: str = Field(default="", max_length=65536)
    origin: Origin = Origin.BOT
    sent_by_user_id: UUID | None = None
    image_sha256: str | None = Field(default=None, description="The image sent, if any.")
    sent_at: datetime

    def dedupe_id(self) -> str:
        return f"sent:{self.command_id}"


class ReceiptKind(StrEnum):
    DELIVERED = "delivered"
    READ = "read"
    PLAYED = "played"


class MessageReceiptReceived(Envelope):
    """WhatsApp reported that messages a bot sent were delivered, read or played."""

    subject: ClassVar[Subject] = subjects.MESSAGE_RECEIPT

    chat_jid: str
    whatsapp_message_ids: list[str] = Field(min_length=1)
    kind: ReceiptKind
    at: datetime
