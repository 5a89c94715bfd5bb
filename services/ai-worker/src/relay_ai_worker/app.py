"""Composition root of the AI worker."""

from __future__ import annotations

from starlette.types import ASGIApp

from relay_ai_worker.handlers import ReplyHandler
from relay_ai_worker.models import ModelDirectory
from relay_ai_worker.settings import Settings
from relay_common.contract import LeadMessageRecorded
from relay_common.contract import subjects as s
from relay_common.logging import get_logger
from relay_common.runner import ServiceContext, run_worker

log = get_logger(__name__)


async def setup(ctx: ServiceContext[Settings]) -> ASGIApp | None:
    models = ModelDirectory(ctx.pool, ctx.settings.model_settings())
    ctx.stack.push_async_callback(models.aclose)
    if models.installation is None:
        log.info("reply_engine", default="local", reason="no DEEPSEEK_API_KEY set")
    else:
        log.info("reply_engine", default="model", model=ctx.settings.model_name)
    handler = ReplyHandler(ctx.bus, ctx.pool, models)
    ctx.bus.consumer(
        durable="ai-worker-replies",
        subject=s.LEAD_MESSAGE,
        model=LeadMessageRecorded,
        handler=handler.on_lead_message,
        concurrency=ctx.settings.concurrency,
        # Short: a message held by a crashed worker comes back soon; the consumer sends
        # progress while a handler waits out the burst window or the model.
        ack_wait_s=10.0,
    )
    return None


def main() -> None:
    run_worker("ai-worker", Settings(), setup)
