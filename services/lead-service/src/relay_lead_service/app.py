"""Composition root of the lead service."""

from __future__ import annotations

import asyncio
import contextlib

from starlette.types import ASGIApp

from relay_common.contract import LeadDetailsFound, MessageReceived, MessageSent
from relay_common.contract import subjects as s
from relay_common.logging import get_logger
from relay_common.outbox import OutboxRelay
from relay_common.runner import ServiceContext, run_worker
from relay_lead_service.handlers import LeadHandlers
from relay_lead_service.settings import Settings
from relay_lead_service.webhooks import AnyLeadEvent, Webhooks, decode_lead_event

log = get_logger(__name__)


async def setup(ctx: ServiceContext[Settings]) -> ASGIApp | None:
    outbox = OutboxRelay(ctx.bus, ctx.pool)
    outbox.start()
    ctx.stack.push_async_callback(outbox.stop)
    handlers = LeadHandlers(ctx.bus, ctx.pool, outbox)
    for durable, subject, model, handler in (
        ("lead-service-inbound", s.INBOUND_MESSAGE, MessageReceived, handlers.on_message_received),
        ("lead-service-sent", s.MESSAGE_SENT, MessageSent, handlers.on_message_sent),
        ("lead-service-details", s.LEAD_DETAILS_FOUND, LeadDetailsFound, handlers.on_details_found),
    ):
        ctx.bus.consumer(
            durable=durable,
            subject=subject,
            model=model,
            handler=handler,  # type: ignore[arg-type]
            concurrency=ctx.settings.concurrency,
        )

    webhooks = Webhooks(ctx.pool, allow_http=ctx.settings.webhook_allow_http)
    webhooks.start()
    ctx.stack.push_async_callback(webhooks.stop)
    ctx.bus.consumer(
        durable="lead-service-webhooks",
        subject=s.LEAD_CREATED,
        filter_subject=s.LEADS.wildcard(ctx.bus.prefix),
        model=AnyLeadEvent,
        decode=decode_lead_event,
        handler=webhooks.on_lead_event,
        concurrency=ctx.settings.concurrency,
    )

    async def flag_forever() -> None:
        while True:
            await asyncio.sleep(ctx.settings.unclaimed_check_s)
            try:
                await handlers.flag_unclaimed()
            except Exception:
                log.exception("unclaimed_check_failed")

    task = asyncio.create_task(flag_forever(), name="unclaimed")

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    ctx.stack.push_async_callback(stop)
    return None


def main() -> None:
    run_worker("lead-service", Settings(), setup)
