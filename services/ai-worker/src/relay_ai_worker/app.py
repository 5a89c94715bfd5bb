"""Composition root of the AI worker."""

from __future__ import annotations

from starlette.types import ASGIApp

from relay_ai_worker.engine import LocalReplyEngine
from relay_ai_worker.handlers import ReplyHandler
from relay_ai_worker.settings import Settings
from relay_common.contract import LeadMessageRecorded
from relay_common.contract import subjects as s
from relay_common.runner import ServiceContext, run_worker


async def setup(ctx: ServiceContext[Settings]) -> ASGIApp | None:
    handler = ReplyHandler(ctx.bus, ctx.pool, LocalReplyEngine())
    ctx.bus.consumer(
        durable="ai-worker-replies",
        subject=s.LEAD_MESSAGE,
        model=LeadMessageRecorded,
        handler=handler.on_lead_message,
        concurrency=ctx.settings.concurrency,
    )
    return None


def main() -> None:
    run_worker("ai-worker", Settings(), setup)
