"""The simulated WhatsApp network, seen from a bot's side.

Customers' messages wait in the SIMNET stream until the bot's session takes them (as
WhatsApp keeps messages for an offline device); what the bot sends is delivered back to
the customer's simulated phone through the same stream.
"""

from __future__ import annotations

from datetime import UTC, datetime

from relay_common.bus import Bus, Consumer, Delivery
from relay_common.contract import (
    MessageReceived,
    SessionState,
    SimulatedCustomerWrote,
    SimulatedDelivery,
)
from relay_common.contract import subjects as s
from relay_common.phone import chat_jid_for_phone, phone_for_chat_jid
from relay_session_worker.transports.base import BotRef, OnMessage, OnState, Sent


class SimulatedSession:
    def __init__(self, bus: Bus, bot: BotRef, on_message: OnMessage, on_state: OnState) -> None:
        self.bus = bus
        self.bot = bot
        self._on_message = on_message
        self._on_state = on_state
        self._consumer: Consumer[SimulatedCustomerWrote] | None = None

    async def start(self) -> None:
        await self._on_state(SessionState.STARTING, None)
        self._consumer = Consumer(
            bus=self.bus,
            durable=f"simnet-bot-{self.bot.bot_id}",
            stream=s.SIMNET.full_name(self.bus.prefix),
            filter_subject=s.SIMNET_CUSTOMER_MESSAGE.for_bot(
                self.bus.prefix, self.bot.workspace_id, self.bot.bot_id
            ),
            model=SimulatedCustomerWrote,
            handler=self._on_customer_wrote,
            max_deliver=20,
            backoff_s=(0.5, 1.0, 2.0, 5.0),
            ack_wait_s=30.0,
            concurrency=1,
        )
        await self._consumer.start()
        await self._on_state(SessionState.CONNECTED, "simulated network")

    async def _on_customer_wrote(self, event: SimulatedCustomerWrote, _: Delivery) -> None:
        await self._on_message(
            event.caused(
                MessageReceived,
                whatsapp_message_id=event.whatsapp_message_id,
                chat_jid=chat_jid_for_phone(event.customer_phone),
                sender_phone=event.customer_phone,
                push_name=event.push_name,
                text=event.text,
                sent_at=event.sent_at,
            )
        )

    async def send_text(self, chat_jid: str, text: str, *, message_id: str) -> Sent:
        sent = Sent(whatsapp_message_id=message_id, sent_at=datetime.now(UTC))
        await self.bus.publish(
            SimulatedDelivery(
                workspace_id=self.bot.workspace_id,
                bot_id=self.bot.bot_id,
                customer_phone=phone_for_chat_jid(chat_jid),
                whatsapp_message_id=message_id,
                text=text,
                sent_at=sent.sent_at,
            )
        )
        return sent

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
        await self._on_state(SessionState.STOPPED, None)


class SimulatedTransport:
    name = "simulated"

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    def open(self, bot: BotRef, on_message: OnMessage, on_state: OnState) -> SimulatedSession:
        return SimulatedSession(self.bus, bot, on_message, on_state)
