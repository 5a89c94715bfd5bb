"""Bus handlers of the AI worker."""

from __future__ import annotations

import asyncpg

from relay_ai_worker import repo
from relay_ai_worker.domain import reply_command_id, should_answer
from relay_ai_worker.engine import Conversation, ReplyEngine
from relay_common.bus import Bus, Delivery
from relay_common.contract import LeadMessageRecorded, Origin, SendMessage
from relay_common.logging import get_logger
from relay_common.metrics import REPLIES_PRODUCED

log = get_logger(__name__)


class ReplyHandler:
    def __init__(self, bus: Bus, pool: asyncpg.Pool, engine: ReplyEngine) -> None:
        self.bus = bus
        self.pool = pool
        self.engine = engine

    async def on_lead_message(self, message: LeadMessageRecorded, _: Delivery) -> None:
        if message.origin is not Origin.CUSTOMER or not message.needs_reply:
            return
        bot = await repo.bot_settings(self.pool, message.workspace_id, message.bot_id)
        if bot is None or not should_answer(
            message, bot_status=bot.status, auto_reply=bot.auto_reply
        ):
            return
        seen = await repo.customer_message_count(self.pool, message.workspace_id, message.lead_id)
        text = await self.engine.reply(
            Conversation(
                bot_name=bot.name,
                prompt=bot.prompt,
                customer_text=message.text,
                customer_name=await repo.lead_name(
                    self.pool, message.workspace_id, message.lead_id
                ),
                is_first_message=seen <= 1,
            )
        )
        await self.bus.publish(
            message.caused(
                SendMessage,
                event_id=reply_command_id(message.bot_id, message.whatsapp_message_id),
                chat_jid=message.chat_jid,
                text=text,
                origin=Origin.BOT,
                in_reply_to=message.whatsapp_message_id,
            )
        )
        REPLIES_PRODUCED.labels(self.engine.name).inc()
