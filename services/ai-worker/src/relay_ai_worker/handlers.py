"""The AI worker's one handler: a customer wrote; decide whether and how the bot answers.

Steps: gates (bot enabled, auto-reply, ignored chats), the burst window (only the latest
message of a burst answers, with the whole burst as context), human takeover, working
hours (an away message, no model call), lead details (deterministic parsing, then the
model's structured output for name and location when a model is configured), the reply
(model or local engine, a polite fallback when the model is unavailable), keyword images.
Every send is keyed so that redeliveries and repeated decisions never send twice.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg

from relay_ai_worker import repo
from relay_ai_worker.details import find_details, find_with_model
from relay_ai_worker.domain import (
    WorkingHours,
    away_command_id,
    guess_language,
    human_in_charge,
    ignored_chat,
    image_command_id,
    keyword_matches,
    missing_fields,
    reply_command_id,
    should_answer,
)
from relay_ai_worker.engine import (
    FALLBACK,
    Conversation,
    LocalReplyEngine,
    ModelReplyEngine,
    Reply,
    ReplyEngine,
)
from relay_ai_worker.models import ModelDirectory
from relay_ai_worker.providers import ChatModel, ModelError
from relay_common.bus import Bus, Delivery
from relay_common.contract import (
    LeadDetailsFound,
    LeadMessageRecorded,
    Origin,
    SendMessage,
)
from relay_common.logging import get_logger
from relay_common.metrics import REPLIES_PRODUCED

log = get_logger(__name__)

AWAY_DEFAULT = {
    "en": "Thanks for writing! We're closed right now; we'll answer as soon as we open.",
    "es": "¡Gracias por escribir! Ahora estamos cerrados; te responderemos en cuanto abramos.",
}


class ReplyHandler:
    def __init__(self, bus: Bus, pool: asyncpg.Pool, models: ModelDirectory) -> None:
        self.bus = bus
        self.pool = pool
        self.models = models
        self.local = LocalReplyEngine()

    async def on_lead_message(self, message: LeadMessageRecorded, _: Delivery) -> None:
        if message.origin is not Origin.CUSTOMER or not message.needs_reply:
            return
        ws, bot_id = message.workspace_id, message.bot_id
        bot = await repo.bot_context(self.pool, ws, bot_id)
        if bot is None or not should_answer(
            message, bot_status=bot.status, auto_reply=bot.auto_reply
        ):
            return
        if ignored_chat(
            message.chat_jid, answer_groups=bot.answer_groups, ignored_numbers=bot.ignored_numbers
        ):
            return
        # A burst gets one answer: wait, then only the latest message of it goes on.
        await asyncio.sleep(bot.debounce_ms / 1000)
        latest = await repo.latest_customer_message(self.pool, ws, message.lead_id)
        if latest != message.message_id:
            return
        lead = await repo.lead_context(self.pool, ws, message.lead_id)
        if lead is None:
            return
        now = datetime.now(UTC)
        if human_in_charge(lead.human_active_at, bot.takeover_idle_s, now):
            log.info("bot_quiet_human_in_charge", lead_id=str(message.lead_id))
            return
        turns = await repo.history(self.pool, ws, message.lead_id, bot.history_size)
        burst = repo.burst_of(turns) or [message.text]
        if bot.working_hours:
            hours = WorkingHours(bot.hours_start, bot.hours_end, bot.time_zone)
            if not hours.is_open(now):
                await self._away(message, bot.away_message, burst, hours.closed_period(now))
                return

        model = await self.models.for_workspace(ws)
        engine: ReplyEngine = ModelReplyEngine(model) if model else self.local
        captured: dict[str, str] = {}
        values = dict(lead.values)
        if bot.lead_capture:
            captured = await self._capture(message, burst, bot.region, values, model)
            values |= captured
        conversation = Conversation(
            bot_name=bot.name,
            prompt=bot.prompt,
            history=turns,
            burst=burst,
            values=values,
            captured_now=captured,
            missing=missing_fields(values, bot.required) if bot.lead_capture else [],
            faq=bot.faq,
        )
        reply = await self._reply(engine, conversation)
        if reply.usage is not None:
            await repo.record_usage(
                self.pool, ws, bot_id, reply.usage.prompt_tokens, reply.usage.completion_tokens
            )
        await self.bus.publish(
            message.caused(
                SendMessage,
                event_id=reply_command_id(bot_id, message.whatsapp_message_id),
                chat_jid=message.chat_jid,
                text=reply.text,
                origin=Origin.BOT,
                in_reply_to=message.whatsapp_message_id,
            )
        )
        REPLIES_PRODUCED.labels(reply.engine).inc()
        await self._images(message, [*burst, reply.text])

    async def _reply(self, engine: ReplyEngine, conversation: Conversation) -> Reply:
        try:
            return await engine.reply(conversation)
        except ModelError as exc:
            log.warning("model_failed_fallback", error=str(exc))
            return Reply(FALLBACK[guess_language(conversation.burst)], "fallback")

    async def _away(
        self, message: LeadMessageRecorded, away: str | None, burst: list[str], period: str
    ) -> None:
        text = away or AWAY_DEFAULT[guess_language(burst)]
        await self.bus.publish(
            message.caused(
                SendMessage,
                event_id=away_command_id(message.bot_id, message.lead_id, period),
                chat_jid=message.chat_jid,
                text=text,
                origin=Origin.BOT,
                in_reply_to=message.whatsapp_message_id,
            )
        )
        REPLIES_PRODUCED.labels("away").inc()

    async def _capture(
        self,
        message: LeadMessageRecorded,
        burst: list[str],
        region: str | None,
        known: dict[str, str | None],
        model: ChatModel | None,
    ) -> dict[str, str]:
        found = find_details(burst, region)
        if model is not None and not (found.get("name") and found.get("location")):
            found |= await find_with_model(model, burst, found)
        fresh = {k: v for k, v in found.items() if v.value != known.get(k)}
        if fresh:
            await self.bus.publish(
                message.caused(
                    LeadDetailsFound,
                    lead_id=message.lead_id,
                    message_id=message.message_id,
                    found=fresh,
                )
            )
        return {k: v.value for k, v in fresh.items()}

    async def _images(self, message: LeadMessageRecorded, texts: list[str]) -> None:
        for image in await repo.images(self.pool, message.workspace_id, message.bot_id):
            if keyword_matches(image.keywords, texts):
                await self.bus.publish(
                    message.caused(
                        SendMessage,
                        event_id=image_command_id(message.bot_id, message.lead_id, image.sha256),
                        chat_jid=message.chat_jid,
                        text="",
                        image_sha256=image.sha256,
                        origin=Origin.BOT,
                    )
                )
