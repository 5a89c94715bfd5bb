"""Composition root of the scheduler."""

from __future__ import annotations

import asyncio
import contextlib

from starlette.types import ASGIApp

from relay_common.contract import SESSION_ACTION_FOR_STATUS, ControlBot
from relay_common.logging import get_logger
from relay_common.outbox import OutboxRelay
from relay_common.runner import ServiceContext, run_worker
from relay_scheduler import repo
from relay_scheduler.settings import Settings

log = get_logger(__name__)


async def setup(ctx: ServiceContext[Settings]) -> ASGIApp | None:
    outbox = OutboxRelay(ctx.bus, ctx.pool)
    outbox.start()
    ctx.stack.push_async_callback(outbox.stop)

    async def tick_forever() -> None:
        while True:
            try:
                executed = await repo.execute_due(ctx.pool, ctx.settings.batch, ctx.bus.prefix)
                if executed:
                    outbox.kick()
                for done in executed:
                    log.info(
                        "schedule_executed",
                        schedule_id=str(done.schedule_id),
                        bot_id=str(done.bot_id),
                        action=done.action,
                    )
                    await tell_session(done)
            except Exception:
                log.exception("schedule_tick_failed")
            await asyncio.sleep(ctx.settings.poll_s)

    async def tell_session(done: repo.Executed) -> None:
        """A live session shows the new status at once (workers also read it later)."""
        action = SESSION_ACTION_FOR_STATUS.get(done.status)
        if action is not None and done.changed:
            await ctx.bus.publish(
                ControlBot(workspace_id=done.workspace_id, bot_id=done.bot_id, action=action)
            )

    task = asyncio.create_task(tick_forever(), name="scheduler")

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    ctx.stack.push_async_callback(stop)
    return None


def main() -> None:
    run_worker("scheduler", Settings(), setup)
