"""Composition root of the lead service."""

from __future__ import annotations

from starlette.types import ASGIApp

from relay_common.contract import MessageReceived, MessageSent
from relay_common.contract import subjects as s
from relay_common.runner import ServiceContext, run_worker
from relay_lead_service.handlers import LeadHandlers
from relay_lead_service.settings import Settings


async def setup(ctx: ServiceContext[Settings]) -> ASGIApp | None:
    handlers = LeadHandlers(ctx.bus, ctx.pool)
    ctx.bus.consumer(
        durable="lead-service-inbound",
        subject=s.INBOUND_MESSAGE,
        model=MessageReceived,
        handler=handlers.on_message_received,
        concurrency=ctx.settings.concurrency,
    )
    ctx.bus.consumer(
        durable="lead-service-sent",
        subject=s.MESSAGE_SENT,
        model=MessageSent,
        handler=handlers.on_message_sent,
        concurrency=ctx.settings.concurrency,
    )
    return None


def main() -> None:
    run_worker("lead-service", Settings(), setup)
