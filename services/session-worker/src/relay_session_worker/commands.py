"""One bot's commands, taken in order from its own durable consumer.

The consumer is named after the bot, not the worker: commands published while the bot
moves between workers wait in it and reach the new holder.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from relay_common.bus import Delivery, RejectMessage
from relay_common.contract import (
    ControlAction,
    ControlBot,
    Envelope,
    MessageSent,
    Origin,
    SendMessage,
    SetPresence,
)
from relay_common.logging import get_logger
from relay_common.metrics import MESSAGES_SENT, PACING_DELAY_SECONDS, SEND_SECONDS
from relay_session_worker import repo
from relay_session_worker.domain import outgoing_message_id
from relay_session_worker.pacing import typing_time_s, warming_up
from relay_session_worker.transports.base import Sent, TransportError

if TYPE_CHECKING:
    from relay_session_worker.worker import HeldBot, SessionWorker

log = get_logger(__name__)


class BotCommands:
    def __init__(self, worker: SessionWorker, held: HeldBot) -> None:
        self.worker = worker
        self.held = held

    async def on_command(self, command: Envelope, _: Delivery) -> None:
        if isinstance(command, SendMessage):
            await self.on_send_message(command)
        elif isinstance(command, ControlBot):
            await self.on_control_bot(command)
        elif isinstance(command, SetPresence):
            await self.held.require_session().set_typing(command.chat_jid, command.typing)

    async def on_send_message(self, command: SendMessage) -> None:
        held, pool = self.held, self.worker.pool
        if command.origin is Origin.BOT and held.paused:
            log.info("reply_dropped_paused", command_id=str(command.event_id))
            return
        session = held.require_session()
        claim = await repo.claim_send(pool, command.event_id, held.bot)
        sent = claim.earlier
        if sent is not None:
            log.info("send_already_done", command_id=str(command.event_id))
        elif not claim.first_attempt and not session.idempotent_sends:
            # An attempt was cut off mid-send (a crash): it may have reached WhatsApp, and
            # this transport cannot resend under the same id. Never risk sending twice.
            raise RejectMessage("an earlier attempt may have sent it; not sending twice")
        else:
            await self._check_allowed(command)
            try:
                sent = await self._paced_send(command)
            except TransportError:
                await repo.unclaim_send(pool, command.event_id)
                raise
            await repo.record_sent(pool, command.event_id, sent.whatsapp_message_id, sent.sent_at)
            MESSAGES_SENT.labels(held.bot.transport).inc()
        await self.worker.bus.publish(
            command.caused(
                MessageSent,
                command_id=command.event_id,
                whatsapp_message_id=sent.whatsapp_message_id,
                chat_jid=command.chat_jid,
                text=command.text,
                origin=command.origin,
                sent_by_user_id=command.sent_by_user_id,
                image_sha256=command.image_sha256,
                sent_at=sent.sent_at,
            )
        )

    async def _check_allowed(self, command: SendMessage) -> None:
        held, pool, policy = self.held, self.worker.pool, self.held.setup.pacing
        if not policy.first_contact and not await repo.customer_has_written(
            pool, held.bot, command.chat_jid
        ):
            raise RejectMessage("never a first message to a contact who has not written")
        if (
            held.bot.transport != "simulated"
            and warming_up(policy, held.setup.linked_at, datetime.now(UTC))
            and await repo.sends_today(pool, held.bot) >= policy.warmup_per_day
        ):
            raise RejectMessage(f"warm-up quota of {policy.warmup_per_day} messages a day reached")

    async def _paced_send(self, command: SendMessage) -> Sent:
        held, policy = self.held, self.held.setup.pacing
        session = held.require_session()
        started = time.monotonic()
        if command.origin is Origin.BOT and command.in_reply_to and policy.read_before_reply:
            await session.mark_read(command.chat_jid, [command.in_reply_to])
        await held.rate.take(policy)
        typing = typing_time_s(policy, command.text) if command.origin is Origin.BOT else 0.0
        if typing:
            await session.set_typing(command.chat_jid, True)
            await asyncio.sleep(typing)
        PACING_DELAY_SECONDS.observe(time.monotonic() - started)
        message_id = outgoing_message_id(command.event_id)
        sending = time.monotonic()
        if command.image_sha256:
            image = await repo.load_image(self.worker.pool, held.bot, command.image_sha256)
            if image is None:
                raise RejectMessage(f"no stored image {command.image_sha256}")
            sent = await session.send_image(
                command.chat_jid, image, caption=command.text, message_id=message_id
            )
        else:
            sent = await session.send_text(command.chat_jid, command.text, message_id=message_id)
        SEND_SECONDS.labels(held.bot.transport).observe(time.monotonic() - sending)
        if typing:
            await session.set_typing(command.chat_jid, False)
        return sent

    async def on_control_bot(self, command: ControlBot) -> None:
        held = self.held
        match command.action:
            case ControlAction.PAUSE:
                await self.worker.set_paused(held, True)
            case ControlAction.RESUME:
                await self.worker.set_paused(held, False)
            case ControlAction.RELINK:
                await held.require_session().relink(command.phone_number)
            case ControlAction.LOGOUT:
                await held.require_session().logout()
            case ControlAction.RESTART:
                await self.worker.restart(held, "requested")
