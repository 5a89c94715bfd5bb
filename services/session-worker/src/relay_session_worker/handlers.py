"""Bus handlers of the session worker."""

from __future__ import annotations

import asyncpg

from relay_common.bus import Bus, Delivery
from relay_common.contract import MessageSent, SendMessage
from relay_common.logging import get_logger
from relay_common.metrics import MESSAGES_SENT
from relay_session_worker import repo
from relay_session_worker.domain import outgoing_message_id
from relay_session_worker.sessions import SessionManager

log = get_logger(__name__)


class SessionNotHereError(Exception):
    """This worker holds no session for the bot (yet): let another try or retry later."""


class SendHandler:
    def __init__(self, bus: Bus, pool: asyncpg.Pool, sessions: SessionManager) -> None:
        self.bus = bus
        self.pool = pool
        self.sessions = sessions

    async def on_send_message(self, command: SendMessage, _: Delivery) -> None:
        session = self.sessions.get(command.bot_id)
        if session is None:
            raise SessionNotHereError(str(command.bot_id))
        sent = await repo.claim_send(self.pool, command.event_id, session.bot)
        if sent is not None:
            log.info("send_already_done", command_id=str(command.event_id))
        else:
            sent = await session.send_text(
                command.chat_jid, command.text, message_id=outgoing_message_id(command.event_id)
            )
            await repo.record_sent(
                self.pool, command.event_id, sent.whatsapp_message_id, sent.sent_at
            )
            MESSAGES_SENT.labels(session.bot.transport).inc()
        await self.bus.publish(
            command.caused(
                MessageSent,
                command_id=command.event_id,
                whatsapp_message_id=sent.whatsapp_message_id,
                chat_jid=command.chat_jid,
                text=command.text,
                origin=command.origin,
                sent_by_user_id=command.sent_by_user_id,
                sent_at=sent.sent_at,
            )
        )
