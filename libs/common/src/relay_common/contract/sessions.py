"""Runtime state of a bot's WhatsApp session."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from relay_common.contract import subjects
from relay_common.contract.envelope import Envelope
from relay_common.contract.subjects import Subject


class SessionState(StrEnum):
    STARTING = "starting"
    LINKING = "linking"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    LOGGED_OUT = "logged_out"
    REPLACED = "replaced"
    BANNED = "banned"
    PAUSED = "paused"
    """Connected, receiving and storing, but the bot does not auto-reply."""
    UNRESPONSIVE = "unresponsive"
    """Claims to be connected but stopped answering (keepalive timeouts): being restarted."""
    STOPPED = "stopped"


class SessionStateChanged(Envelope):
    """A bot's WhatsApp session changed state (linking, connected, logged out...)."""

    subject: ClassVar[Subject] = subjects.SESSION_STATE

    state: SessionState
    reason: str | None = Field(default=None, max_length=512)
    worker_id: str | None = None
    qr_code: str | None = Field(default=None, description="Raw QR payload while linking.")
    pair_code: str | None = Field(default=None, description="Code to type on the phone.")
    phone_number: str | None = Field(default=None, description="The linked number, E.164.")
    banned_until: datetime | None = None
