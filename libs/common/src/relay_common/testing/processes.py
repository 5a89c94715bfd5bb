"""Run services as real child processes, the way `relay up` and Kubernetes run them."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

from relay_common.services import SERVICE_MODULES


class ServiceProcess:
    def __init__(self, service: str, env: Mapping[str, str], log_path: Path) -> None:
        self.service = service
        self.env = dict(os.environ) | dict(env) | {"LOG_FORMAT": "json"}
        self.log_path = log_path
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        log = self.log_path.open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            SERVICE_MODULES[self.service],
            env=self.env,
            stdout=log,
            stderr=log,
        )
        log.close()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def wait_ready(self, url: str, within_s: float = 40.0) -> None:
        """Until ``url``/readyz answers 200; fails at once, with the log, if the process died."""
        import httpx

        from relay_common.testing.waiting import eventually

        async with httpx.AsyncClient(timeout=5) as client:

            async def ready() -> bool:
                assert self.proc is not None
                assert self.proc.returncode is None, self.log_text()
                try:
                    return (await client.get(f"{url}/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(ready, within_s=within_s, what=f"{self.service} ready")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def stop(self, sig: int = signal.SIGTERM, grace_s: float = 30.0) -> int:
        """Signal the process and wait; returns its exit code."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
            try:
                await asyncio.wait_for(self.proc.wait(), grace_s)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        assert self.proc.returncode is not None
        return self.proc.returncode
