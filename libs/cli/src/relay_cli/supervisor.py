"""Runs services as child processes, restarts the ones that die, prefixes their logs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from relay_common.services import SERVICE_MODULES

RESTART_BACKOFF_S = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
STABLE_AFTER_S = 30.0
"""A child that ran this long counts as healthy again: its next crash restarts quickly."""


@dataclass
class Child:
    service: str
    proc: asyncio.subprocess.Process | None = None
    restarts: int = 0
    quick_failures: int = 0
    started_at: float = 0.0
    pumps: list[asyncio.Task[None]] = field(default_factory=list)


class Supervisor:
    def __init__(
        self,
        services: list[str],
        env: Mapping[str, str],
        on_change: Callable[[], None] = lambda: None,
        say: Callable[[str], None] = print,
    ) -> None:
        self.children = {name: Child(name) for name in services}
        self.env = dict(env)
        self.on_change = on_change
        self.say = say
        self._stopping = False
        self._watchers: list[asyncio.Task[None]] = []
        self._width = max(len(n) for n in services)

    def pids(self) -> dict[str, int | None]:
        return {
            name: (c.proc.pid if c.proc and c.proc.returncode is None else None)
            for name, c in self.children.items()
        }

    async def start(self) -> None:
        for child in self.children.values():
            await self._spawn(child)
            self._watchers.append(asyncio.create_task(self._watch(child)))

    async def _spawn(self, child: Child) -> None:
        child.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            SERVICE_MODULES[child.service],
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            # Own process group: Ctrl-C reaches only us, and we stop children in order.
            start_new_session=True,
        )
        child.started_at = time.monotonic()
        assert child.proc.stdout is not None
        child.pumps = [asyncio.create_task(self._pump(child.service, child.proc.stdout))]
        self.on_change()

    async def _pump(self, service: str, stream: asyncio.StreamReader) -> None:
        label = f"{service:<{self._width}} | "
        while line := await stream.readline():
            sys.stdout.write(label + line.decode(errors="replace"))
            sys.stdout.flush()

    async def _watch(self, child: Child) -> None:
        while True:
            assert child.proc is not None
            code = await child.proc.wait()
            await asyncio.gather(*child.pumps, return_exceptions=True)
            if self._stopping:
                return
            ran = time.monotonic() - child.started_at
            child.quick_failures = 0 if ran > STABLE_AFTER_S else child.quick_failures + 1
            delay = RESTART_BACKOFF_S[min(child.quick_failures, len(RESTART_BACKOFF_S) - 1)]
            self.say(f"{child.service} exited with code {code}; restarting in {delay:g} s")
            self.on_change()
            await asyncio.sleep(delay)
            if self._stopping:
                return
            child.restarts += 1
            await self._spawn(child)

    async def stop(self, grace_s: float = 25.0) -> None:
        """SIGTERM every child, wait for them to finish their work, SIGKILL stragglers."""
        self._stopping = True
        running = [c.proc for c in self.children.values() if c.proc and c.proc.returncode is None]
        for proc in running:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.gather(*(p.wait() for p in running)), timeout=grace_s)
        except TimeoutError:
            for proc in running:
                if proc.returncode is None:
                    self.say(f"killing pid {proc.pid} after {grace_s:g} s")
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
            await asyncio.gather(*(p.wait() for p in running))
        for watcher in self._watchers:
            watcher.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)
