"""Bus handlers: store each message exactly once, then publish lead events.

Events are published after the commit and again on every redelivery; their Nats-Msg-Id
(the stored message's id) lets JetStream drop the repeats, and every reader is idempotent.
"""

from __future__ import annotations

import asyncpg

from relay_common.bus import Bus, Delivery, RejectMessage
from relay_common.contract import (
    LeadCreated,
    LeadMessageRecorded,
    MessageReceived,
    MessageSent,
)
from relay_common.logging import get_logger
from relay_common.metrics import MESSAGES_STORED
from relay_lead_service import repo
from relay_lead_service.domain import needs_reply, origin_of

log = get_logger(__name__)


class LeadHandlers:
    def __init__(self, bus: Bus, pool: asyncpg.Pool) -> None:
        self.bus = bus
        self.pool = pool

    async def on_message_received(self, message: MessageReceived, _: Delivery) -> None:
        origin = origin_of(message)
        async with self.pool.acquire() as conn, conn.transaction():
            if not await repo.bot_exists(conn, message.workspace_id, message.bot_id):
                raise RejectMessage("unknown bot for this workspace")
            lead = await repo.get_or_create_lead(
                conn,
                workspace_id=message.workspace_id,
                bot_id=message.bot_id,
                chat_jid=message.chat_jid,
                phone=message.sender_phone,
                at=message.sent_at,
            )
            stored = await repo.store_message(
                conn,
                workspace_id=message.workspace_id,
                bot_id=message.bot_id,
                lead_id=lead.id,
                whatsapp_message_id=message.whatsapp_message_id,
                origin=origin.value,
                kind=message.kind.value,
                body=message.text,
                media=message.media.model_dump() if message.media else None,
                sent_by=None,
                is_history=message.is_history,
                sent_at=message.sent_at,
            )
        if stored.inserted:
            MESSAGES_STORED.labels(origin.value).inc()
        if lead.created:
            await self.bus.publish(
                message.caused(
                    LeadCreated,
                    lead_id=lead.id,
                    chat_jid=message.chat_jid,
                    phone=lead.phone,
                    name=lead.name,
                    created_at=lead.created_at,
                )
            )
        await self.bus.publish(
            message.caused(
                LeadMessageRecorded,
                lead_id=lead.id,
                chat_jid=message.chat_jid,
                message_id=stored.id,
                whatsapp_message_id=message.whatsapp_message_id,
                origin=origin,
                kind=message.kind,
                text=message.text,
                sent_at=message.sent_at,
                is_history=message.is_history,
                needs_reply=needs_reply(message),
            )
        )

    async def on_message_sent(self, message: MessageSent, _: Delivery) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            if not await repo.bot_exists(conn, message.workspace_id, message.bot_id):
                raise RejectMessage("unknown bot for this workspace")
            lead = await repo.get_or_create_lead(
                conn,
                workspace_id=message.workspace_id,
                bot_id=message.bot_id,
                chat_jid=message.chat_jid,
                phone=None,
                at=message.sent_at,
            )
            stored = await repo.store_message(
                conn,
                workspace_id=message.workspace_id,
                bot_id=message.bot_id,
                lead_id=lead.id,
                whatsapp_message_id=message.whatsapp_message_id,
                origin=message.origin.value,
                kind="text",
                body=message.text,
                media=None,
                sent_by=message.sent_by_user_id,
                is_history=False,
                sent_at=message.sent_at,
            )
        if stored.inserted:
            MESSAGES_STORED.labels(message.origin.value).inc()
        await self.bus.publish(
            message.caused(
                LeadMessageRecorded,
                lead_id=lead.id,
                chat_jid=message.chat_jid,
                message_id=stored.id,
                whatsapp_message_id=message.whatsapp_message_id,
                origin=message.origin,
                text=message.text,
                sent_at=message.sent_at,
            )
        )
