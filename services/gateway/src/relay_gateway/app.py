"""Composition root of the gateway."""

from __future__ import annotations

import gc

from fastapi import APIRouter, FastAPI
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
from relay_gateway.headers import SecurityHeaders
from relay_gateway.settings import Settings
from relay_gateway.web import mount_web

GC_YOUNG_THRESHOLD = 200_000


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

    app.add_middleware(SecurityHeaders)

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
    try:
        keys = session_keys.KeyRing(
            settings.jwt_secret.get_secret_value(),
            [k.get_secret_value() for k in settings.jwt_previous_secrets],
        )
    except ValueError as error:
        raise SystemExit(f"GATEWAY_JWT_SECRET / GATEWAY_JWT_PREVIOUS_SECRETS: {error}") from None
    outbox = OutboxRelay(ctx.bus, ctx.pool)
    outbox.start()
    ctx.stack.push_async_callback(outbox.stop)
    hub = EventHub(ctx.bus, ctx.pool, settings.sse_queue_size, settings.sse_heartbeat_s)
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
    tune_gc_for_many_connections()
    return build_app(state, list(ctx.health.routes()))


def tune_gc_for_many_connections() -> None:
    """Thousands of open event streams are hundreds of thousands of long-lived objects:
    with the default thresholds, what one event allocates for each stream keeps
    reaching the oldest generation, whose collections then pause for over half a
    second. Collect the young generation less often (most of it is gone by then) and
    leave what startup made out of every collection."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)


def main() -> None:
    settings = Settings()
    run_service("gateway", settings, setup, http_host=settings.host, http_port=settings.port)
