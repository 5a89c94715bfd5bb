"""Public lead events: other systems subscribe to these; they keep backward compatibility."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

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


LeadField = Literal["name", "email", "phone", "location"]


class FoundValue(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    value: str = Field(min_length=1, max_length=320)
    confidence: float = Field(ge=0, le=1)
    source: str = Field(description="deterministic or model", max_length=40)


class LeadDetailsFound(Envelope):
    """The AI worker found lead details in a conversation (internal, to the lead service)."""

    subject: ClassVar[Subject] = subjects.LEAD_DETAILS_FOUND

    lead_id: UUID
    message_id: UUID = Field(description="The latest customer message the details came from.")
    found: dict[LeadField, FoundValue]

    def dedupe_id(self) -> str:
        return f"details:{self.lead_id}:{self.message_id}"


class FieldChange(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    field: LeadField
    old: str | None
    new: str
    source: str


class LeadStatus(StrEnum):
    CAPTURING = "capturing"
    QUALIFIED = "qualified"
    ASSIGNED = "assigned"
    WON = "won"
    LOST = "lost"


class LeadUpdated(Envelope):
    """Lead details changed; each change names the message that caused it."""

    subject: ClassVar[Subject] = subjects.LEAD_UPDATED

    lead_id: UUID
    changes: list[FieldChange]
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    location: str | None = None
    caused_by_message_id: UUID | None = None


class LeadQualified(Envelope):
    """A lead has every field its bot requires: published once per lead."""

    subject: ClassVar[Subject] = subjects.LEAD_QUALIFIED

    lead_id: UUID
    chat_jid: str
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    location: str | None = None
    qualified_at: datetime

    def dedupe_id(self) -> str:
        return f"lead-qualified:{self.lead_id}"


class LeadAssigned(Envelope):
    """A lead was given to a vendor (``vendor_user_id``), or released (None)."""

    subject: ClassVar[Subject] = subjects.LEAD_ASSIGNED

    lead_id: UUID
    vendor_user_id: UUID | None
    vendor_email: str | None = None
    by: Literal["round_robin", "manual", "release"] = "manual"
    at: datetime


class LeadStatusChanged(Envelope):
    """A lead's status changed, or it was flagged (``unclaimed``: qualified, nobody took it)."""

    subject: ClassVar[Subject] = subjects.LEAD_STATUS

    lead_id: UUID
    status: LeadStatus
    previous: LeadStatus | None = None
    flag: str | None = None
    at: datetime
