"""Composition root of the session worker."""

from __future__ import annotations

import asyncio
import contextlib

from starlette.types import ASGIApp

from relay_common.contract import SendMessage
from relay_common.contract import subjects as s
from relay_common.logging import get_logger
from relay_common.runner import ServiceContext, run_worker
from relay_session_worker import repo
from relay_session_worker.handlers import SendHandler
from relay_session_worker.sessions import SessionManager
from relay_session_worker.settings import Settings
from relay_session_worker.transports.base import Transport
from relay_session_worker.transports.simulated import SimulatedTransport

log = get_logger(__name__)


async def setup(ctx: ServiceContext[Settings]) -> ASGIApp | None:
    transports: dict[str, Transport] = {"simulated": SimulatedTransport(ctx.bus)}
    sessions = SessionManager(ctx.bus, ctx.pool, transports, ctx.settings.common.instance_id)
    ctx.stack.push_async_callback(sessions.stop_all)

    handler = SendHandler(ctx.bus, ctx.pool, sessions)
    ctx.bus.consumer(
        durable="session-worker-send",
        subject=s.SEND_MESSAGE,
        model=SendMessage,
        handler=handler.on_send_message,
        concurrency=ctx.settings.send_concurrency,
        max_deliver=10,
    )

    async def keep_sessions() -> None:
        while True:
            try:
                await sessions.reconcile(await repo.runnable_bots(ctx.pool))
            except Exception:
                log.exception("reconcile_failed")
            await asyncio.sleep(ctx.settings.bot_refresh_s)

    await sessions.reconcile(await repo.runnable_bots(ctx.pool))
    task = asyncio.create_task(keep_sessions(), name="keep-sessions")

    async def stop_reconciling() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    ctx.stack.push_async_callback(stop_reconciling)
    return None


def main() -> None:
    run_worker("session-worker", Settings(), setup)
