"""/healthz, /readyz and /metrics, served by every service."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable, Iterator

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

ReadinessCheck = Callable[[], Awaitable[str | None]]
"""Returns None when healthy, else a short reason."""


class Health:
    """Readiness of one process: every registered check must pass, and not shutting down."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.checks: dict[str, ReadinessCheck] = {}
        self.stopping = False

    def add_check(self, name: str, check: ReadinessCheck) -> None:
        self.checks[name] = check

    async def readiness(self) -> tuple[bool, dict[str, str]]:
        results: dict[str, str] = {}
        for name, check in self.checks.items():
            try:
                problem = await asyncio.wait_for(check(), timeout=2.0)
            except Exception as exc:
                problem = f"{type(exc).__name__}: {exc}"
            results[name] = problem or "ok"
        if self.stopping:
            results["shutdown"] = "stopping"
        return all(v == "ok" for v in results.values()), results

    def routes(self) -> list[Route]:
        async def healthz(_: Request) -> Response:
            return JSONResponse({"status": "ok", "service": self.service})

        async def readyz(_: Request) -> Response:
            ready, checks = await self.readiness()
            body = {"status": "ready" if ready else "unavailable", "checks": checks}
            return JSONResponse(body, status_code=200 if ready else 503)

        async def metrics(_: Request) -> Response:
            return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

        return [
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ]

    def app(self) -> Starlette:
        return Starlette(routes=self.routes())


class _InLoopServer(uvicorn.Server):
    """uvicorn inside our own loop: our runner, not uvicorn, owns SIGTERM and SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpServer:
    def __init__(self, app: ASGIApp, host: str, port: int) -> None:
        config = uvicorn.Config(
            app, host=host, port=port, log_config=None, access_log=False, lifespan="off"
        )
        self._server = _InLoopServer(config)
        self._task: asyncio.Task[None] | None = None
        self.host = host

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(), name="http")
        while not self._server.started:
            if self._task.done():
                self._task.result()  # re-raises the bind error
                raise RuntimeError("http server stopped during start")
            await asyncio.sleep(0.02)

    @property
    def port(self) -> int:
        sockets = self._server.servers[0].sockets
        return int(sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        """Where others reach this server: this host's address when bound to all."""
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            host = socket.gethostbyname(socket.gethostname())
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task
