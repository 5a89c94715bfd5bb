"""Bot lifecycle events, published by the gateway when an admin changes a bot."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import Field

from relay_common.contract import subjects
from relay_common.contract.commands import ControlAction
from relay_common.contract.envelope import Envelope
from relay_common.contract.subjects import Subject


class BotStatus(StrEnum):
    ENABLED = "enabled"
    PAUSED = "paused"
    """Connected and storing messages, but no automatic replies."""
    DISABLED = "disabled"
    """No session at all: no worker holds it."""


SESSION_ACTION_FOR_STATUS: dict[BotStatus, ControlAction] = {
    BotStatus.PAUSED: ControlAction.PAUSE,
    BotStatus.ENABLED: ControlAction.RESUME,
}
"""What a live session is told when a bot's status changes; a disabled bot needs nothing:
session workers let go of it by themselves."""


class BotCreated(Envelope):
    """A bot was added to a workspace."""

    subject: ClassVar[Subject] = subjects.BOT_CREATED

    name: str
    status: BotStatus
    transport: str = Field(description="simulated or whatsapp")
    created_by: UUID | None = None


class BotUpdated(Envelope):
    """A bot's name, prompt or status changed; ``changed`` names the fields."""

    subject: ClassVar[Subject] = subjects.BOT_UPDATED

    name: str
    status: BotStatus
    changed: list[str]
    updated_by: UUID | None = None


class BotDeleted(Envelope):
    """A bot and everything it owned (leads, messages, images) were deleted."""

    subject: ClassVar[Subject] = subjects.BOT_DELETED

    deleted_by: UUID | None = None


class BotFeaturesUpdated(Envelope):
    """A bot's feature settings changed; ``features`` holds all of them after the change."""

    subject: ClassVar[Subject] = subjects.BOT_FEATURES

    features: dict[str, Any]
    changed: list[str]
    updated_by: UUID | None = None


class ScheduleChanged(Envelope):
    """A timed action on a bot was created, cancelled, carried out or failed."""

    subject: ClassVar[Subject] = subjects.BOT_SCHEDULE

    schedule_id: UUID
    action: Literal["enable", "disable", "pause"]
    run_at: datetime
    cron: str | None = None
    time_zone: str = "UTC"
    status: Literal["pending", "done", "cancelled", "failed"]
    changed_by: UUID | None = None

    @classmethod
    def of(
        cls, schedule: Mapping[str, Any], status: str, changed_by: UUID | None
    ) -> ScheduleChanged:
        """The event for a row of the ``schedules`` table that now has ``status``."""
        return cls(
            workspace_id=schedule["workspace_id"],
            bot_id=schedule["bot_id"],
            schedule_id=schedule["id"],
            action=schedule["action"],
            run_at=schedule["run_at"],
            cron=schedule["cron"],
            time_zone=schedule["time_zone"],
            status=status,
            changed_by=changed_by,
        )
