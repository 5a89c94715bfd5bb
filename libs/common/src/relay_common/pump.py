"""A background step run whenever it is kicked, and every few seconds anyway."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from relay_common.logging import get_logger

log = get_logger(__name__)


class Pump:
    def __init__(self, name: str, step: Callable[[], Awaitable[object]], poll_s: float) -> None:
        self.name = name
        self.step = step
        self.poll_s = poll_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def kick(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_s)
            self._wake.clear()
            try:
                await self.step()
            except Exception:
                log.exception("pump_step_failed", pump=self.name)
