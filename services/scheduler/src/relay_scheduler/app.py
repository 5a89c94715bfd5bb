"""Composition root of the scheduler."""

from __future__ import annotations

import asyncio
import contextlib

from starlette.types import ASGIApp

from relay_common.logging import get_logger
from relay_common.runner import ServiceContext, run_worker
from relay_scheduler import repo
from relay_scheduler.settings import Settings

log = get_logger(__name__)


async def setup(ctx: ServiceContext[Settings]) -> ASGIApp | None:
    async def tick_forever() -> None:
        while True:
            try:
                for done in await repo.execute_due(ctx.pool, ctx.settings.batch):
                    log.info(
                        "schedule_executed",
                        schedule_id=str(done.schedule_id),
                        bot_id=str(done.bot_id),
                        action=done.action,
                    )
            except Exception:
                log.exception("schedule_tick_failed")
            await asyncio.sleep(ctx.settings.poll_s)

    task = asyncio.create_task(tick_forever(), name="scheduler")

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    ctx.stack.push_async_callback(stop)
    return None


def main() -> None:
    run_worker("scheduler", Settings(), setup)
