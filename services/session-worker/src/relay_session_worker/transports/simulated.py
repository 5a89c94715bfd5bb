"""The simulated WhatsApp network, seen from a bot's side.

Customers' messages wait in the SIMNET stream until the bot's session takes them (as
WhatsApp keeps messages for an offline device); what the bot sends is delivered back to
the customer's simulated phone through the same stream. A bot without a linked device
shows a QR code (or a pairing code) until a simulated phone "scans" it.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from datetime import UTC, datetime

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from relay_common.bus import Bus, Consumer, Delivery
from relay_common.contract import (
    MessageReceived,
    SessionState,
    SimulatedCustomerWrote,
    SimulatedDelivery,
    SimulatedPhoneScanned,
)
from relay_common.contract import subjects as s
from relay_common.phone import chat_jid_for_phone, device_jid_for_phone, phone_for_chat_jid
from relay_session_worker.transports.base import (
    BotRef,
    Sent,
    SessionHooks,
    StateDetails,
    TransportError,
)


class SimulatedSession:
    # The network keeps one copy per message id, as WhatsApp does for ids it knows.
    idempotent_sends = True

    def __init__(self, bus: Bus, bot: BotRef, hooks: SessionHooks) -> None:
        self.bus = bus
        self.bot = bot
        self.hooks = hooks
        self.device_jid = hooks.device_jid
        self.typing: dict[str, bool] = {}
        self.read: list[str] = []
        self._inbox: Consumer[SimulatedCustomerWrote] | None = None
        self._scan: Subscription | None = None
        self._codes: set[str] = set()
        self._linking: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.device_jid is None:
            await self._link(None)
        else:
            await self._connect("simulated network")

    async def _connect(self, reason: str) -> None:
        assert self.device_jid is not None
        self._inbox = Consumer(
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
            ack_wait_s=5.0,
            concurrency=1,
        )
        await self._inbox.start()
        phone = phone_for_chat_jid(self.device_jid)
        await self.hooks.on_state(
            SessionState.CONNECTED,
            reason,
            StateDetails(phone_number=phone, device_jid=self.device_jid),
        )

    async def _link(self, phone_number: str | None) -> None:
        """Show a QR code (or a pairing code) that a simulated phone can scan."""
        qr = f"SIMQR-{secrets.token_hex(8)}"
        pair = secrets.token_hex(4).upper() if phone_number else None
        self._codes = {qr} | ({pair} if pair else set())
        if self._scan is None:
            subject = s.SIMNET_SCAN.for_bot(self.bus.prefix, self.bot.workspace_id, self.bot.bot_id)
            self._scan = await self.bus.nc.subscribe(subject, cb=self._on_scan)
        await self.hooks.on_state(
            SessionState.LINKING, None, StateDetails(qr_code=qr, pair_code=pair)
        )

    async def _on_scan(self, msg: Msg) -> None:
        scanned = SimulatedPhoneScanned.model_validate_json(msg.data)
        if scanned.qr_code not in self._codes:
            return
        self._codes = set()
        # Not here: unsubscribing inside this subscription's own callback cancels it.
        self._linking = asyncio.create_task(self._linked(scanned))

    async def _linked(self, scanned: SimulatedPhoneScanned) -> None:
        if self._scan is not None:
            await self._scan.unsubscribe()
            self._scan = None
        self.device_jid = device_jid_for_phone(scanned.phone_number)
        await self._connect("linked by a simulated phone")

    async def _on_customer_wrote(self, event: SimulatedCustomerWrote, _: Delivery) -> None:
        await self.hooks.on_message(
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

    async def _deliver(self, chat_jid: str, text: str, message_id: str, image: str | None) -> Sent:
        if self._inbox is None:
            raise TransportError("the simulated bot is not linked")
        sent = Sent(whatsapp_message_id=message_id, sent_at=datetime.now(UTC))
        await self.bus.publish(
            SimulatedDelivery(
                workspace_id=self.bot.workspace_id,
                bot_id=self.bot.bot_id,
                customer_phone=phone_for_chat_jid(chat_jid),
                whatsapp_message_id=message_id,
                text=text,
                image_sha256=image,
                sent_at=sent.sent_at,
            )
        )
        return sent

    async def send_text(self, chat_jid: str, text: str, *, message_id: str) -> Sent:
        return await self._deliver(chat_jid, text, message_id, None)

    async def send_image(
        self, chat_jid: str, image: bytes, *, caption: str, message_id: str
    ) -> Sent:
        return await self._deliver(chat_jid, caption, message_id, hashlib.sha256(image).hexdigest())

    async def set_typing(self, chat_jid: str, typing: bool) -> None:
        self.typing[chat_jid] = typing

    async def mark_read(self, chat_jid: str, message_ids: list[str]) -> None:
        self.read.extend(message_ids)

    async def _disconnect(self) -> None:
        if self._inbox is not None:
            await self._inbox.stop()
            self._inbox = None
        if self._scan is not None:
            await self._scan.unsubscribe()
            self._scan = None

    async def relink(self, phone_number: str | None = None) -> None:
        await self._disconnect()
        self.device_jid = None
        await self._link(phone_number)

    async def logout(self) -> None:
        await self._disconnect()
        self.device_jid = None
        await self.hooks.on_state(SessionState.LOGGED_OUT, "logged out from Relay", StateDetails())

    async def stop(self) -> None:
        await self._disconnect()


class SimulatedTransport:
    name = "simulated"

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    def open(self, bot: BotRef, hooks: SessionHooks) -> SimulatedSession:
        return SimulatedSession(self.bus, bot, hooks)
