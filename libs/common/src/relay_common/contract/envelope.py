"""The envelope every bus message shares: ids, time, tenant, causality."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar, TypeVar
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field

from relay_common.contract.subjects import Subject

E = TypeVar("E", bound="Envelope")


class Envelope(BaseModel):
    """Base of every event and command.

    Readers ignore fields they do not know, so adding an optional field keeps the version;
    any other change is a new model with a new versioned subject.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    subject: ClassVar[Subject]

    schema_version: int = Field(default=1, description="Version of this payload's schema.")
    event_id: UUID = Field(
        default_factory=uuid4,
        description="Unique id of this message; also its Nats-Msg-Id for de-duplication.",
    )
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    workspace_id: UUID = Field(description="The tenant this message belongs to.")
    bot_id: UUID = Field(description="The bot (WhatsApp number) this message is about.")
    correlation_id: UUID | None = Field(
        default=None, description="Id shared by every message of one flow (first event's id)."
    )
    causation_id: UUID | None = Field(
        default=None, description="event_id of the message that caused this one."
    )

    def subject_for(self, prefix: str) -> str:
        return self.subject.for_bot(prefix, self.workspace_id, self.bot_id)

    def dedupe_id(self) -> str:
        """Nats-Msg-Id; subclasses with a natural key override it so retries collapse."""
        return str(self.event_id)

    def caused(self, cls: type[E], **fields: object) -> E:
        """Build a follow-up message that carries this one's correlation and causation."""
        base: dict[str, object] = {
            "workspace_id": self.workspace_id,
            "bot_id": self.bot_id,
            "correlation_id": self.correlation_id or self.event_id,
            "causation_id": self.event_id,
        }
        return cls(**(base | fields))
