"""Commands for the session worker that owns a bot."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from pydantic import Field, model_validator

from relay_common.contract import subjects
from relay_common.contract.envelope import Envelope
from relay_common.contract.messages import Origin
from relay_common.contract.subjects import Subject


class SendMessage(Envelope):
    """Send text (or an image) to a chat. ``event_id`` is the command id: sent at most once."""

    subject: ClassVar[Subject] = subjects.SEND_MESSAGE

    chat_jid: str = Field(min_length=1, max_length=128)
    text: str = Field(default="", max_length=65536, description="The text, or the caption.")
    origin: Origin = Origin.BOT
    in_reply_to: str | None = Field(
        default=None, description="WhatsApp id of the customer message this answers."
    )
    sent_by_user_id: UUID | None = None
    image_sha256: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description="Send this stored image (media_blobs) with ``text`` as its caption.",
    )

    @model_validator(mode="after")
    def _something_to_send(self) -> SendMessage:
        if not self.text.strip() and not self.image_sha256:
            raise ValueError("a message needs text or an image")
        return self


class ControlAction(StrEnum):
    PAUSE = "pause"
    """Keep the connection, store messages, send no bot replies."""
    RESUME = "resume"
    RELINK = "relink"
    """Start linking again: a new QR code, or a pairing code for ``phone_number``."""
    LOGOUT = "logout"
    RESTART = "restart"


class ControlBot(Envelope):
    """Change a bot's session: pause, resume, relink, log out, restart."""

    subject: ClassVar[Subject] = subjects.CONTROL_BOT

    action: ControlAction
    phone_number: str | None = Field(default=None, pattern=r"^\+[1-9][0-9]{6,14}$")


class SetPresence(Envelope):
    """Show or clear "typing..." in a chat."""

    subject: ClassVar[Subject] = subjects.SET_PRESENCE

    chat_jid: str = Field(min_length=1, max_length=128)
    typing: bool


BOT_COMMANDS: dict[str, type[Envelope]] = {
    model.subject.path: model for model in (SendMessage, ControlBot, SetPresence)
}
"""Every command a session worker takes for a bot, by subject path."""
