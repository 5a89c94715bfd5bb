"""Composition root of the gateway."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware

from relay_common.outbox import OutboxRelay
from relay_common.registry import list_instances
from relay_common.runner import ServiceContext, run_service
from relay_gateway import auth as session_keys
from relay_gateway.api.deps import GatewayState
from relay_gateway.api.routes import (
    api_keys,
    audit,
    auth,
    bots,
    events,
    google,
    images,
    leads,
    schedules,
    team,
    workspaces,
)
from relay_gateway.errors import ERROR_RESPONSES, install_error_handlers
from relay_gateway.events import EventHub
from relay_gateway.settings import Settings
from relay_gateway.web import mount_web

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # The dashboard loads only its own files; QR codes are data: images; /api/docs uses
    # FastAPI's bundled Swagger UI from its CDN.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: https://fastapi.tiangolo.com; "
        "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
        "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
}


def build_app(state: GatewayState, health_routes: list[object]) -> FastAPI:
    app = FastAPI(
        title="Relay API",
        version="1",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.gateway = state
    install_error_handlers(app)

    @app.middleware("http")
    async def request_id_and_security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        rid = request.headers.get("x-request-id") or uuid.uuid4().hex
        response = await call_next(request)
        response.headers["X-Request-Id"] = rid
        response.headers.update(SECURITY_HEADERS)
        if request.url.scheme == "https":
            response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        return response

    if state.settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=state.settings.cors_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Content-Type", "Authorization", session_keys.CSRF_HEADER],
            expose_headers=["X-Request-Id"],
        )

    api = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)
    for module in (
        auth,
        google,
        workspaces,
        team,
        api_keys,
        audit,
        bots,
        images,
        schedules,
        leads,
        events,
    ):
        api.include_router(module.router)
    app.include_router(api)
    app.router.routes.extend(health_routes)  # type: ignore[arg-type]
    mount_web(app, state.settings.web_dist)
    return app


async def setup(ctx: ServiceContext[Settings]) -> FastAPI:
    settings = ctx.settings
    if not settings.jwt_secret.get_secret_value():
        raise SystemExit("GATEWAY_JWT_SECRET must be set")
    keys = session_keys.KeyRing(
        settings.jwt_secret.get_secret_value(),
        [k.get_secret_value() for k in settings.jwt_previous_secrets],
    )
    outbox = OutboxRelay(ctx.bus, ctx.pool)
    outbox.start()
    ctx.stack.push_async_callback(outbox.stop)
    hub = EventHub(ctx.bus, ctx.pool, settings.sse_queue_size)
    await hub.start()
    ctx.stack.push_async_callback(hub.stop)

    if settings.require_services:
        required = set(settings.require_services)

        async def stack_ready() -> str | None:
            live = {i.service for i in await list_instances(ctx.bus)}
            missing = sorted(required - live)
            return f"waiting for {', '.join(missing)}" if missing else None

        ctx.health.add_check("stack", stack_ready)

    state = GatewayState(settings, ctx.pool, ctx.bus, hub, keys, outbox)
    return build_app(state, list(ctx.health.routes()))


def main() -> None:
    settings = Settings()
    run_service("gateway", settings, setup, http_host=settings.host, http_port=settings.port)
