"""The simulated WhatsApp network: what customers' phones send and receive.

It stands in for WhatsApp itself in the embedded mode, the dashboard's simulator, tests
and benchmarks. Messages to a bot wait in JetStream until the bot's session takes them,
as WhatsApp keeps messages for an offline device.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from relay_common.contract import subjects
from relay_common.contract.envelope import Envelope
from relay_common.contract.subjects import Subject


class SimulatedCustomerWrote(Envelope):
    """A simulated customer's phone sent a message to a bot's number."""

    subject: ClassVar[Subject] = subjects.SIMNET_CUSTOMER_MESSAGE

    customer_phone: str = Field(pattern=r"^\+[1-9][0-9]{6,14}$")
    whatsapp_message_id: str = Field(min_length=1, max_length=128)
    push_name: str | None = None
    text: str = Field(min_length=1, max_length=65536)
    sent_at: datetime

    def dedupe_id(self) -> str:
        return f"sim-in:{self.bot_id}:{self.whatsapp_message_id}"


class SimulatedDelivery(Envelope):
    """A bot's message reached a simulated customer's phone."""

    subject: ClassVar[Subject] = subjects.SIMNET_DELIVERY

    customer_phone: str
    whatsapp_message_id: str
    text: str
    image_sha256: str | None = None
    sent_at: datetime

    def dedupe_id(self) -> str:
        return f"sim-out:{self.bot_id}:{self.whatsapp_message_id}"


class SimulatedPhoneScanned(Envelope):
    """A simulated phone scanned the QR code a bot showed (links the bot to that number)."""

    subject: ClassVar[Subject] = subjects.SIMNET_SCAN

    qr_code: str
    phone_number: str = Field(pattern=r"^\+[1-9][0-9]{6,14}$")
