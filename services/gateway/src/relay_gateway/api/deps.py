"""Dependencies shared by the routes: state, the caller, and what the caller may do."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated

import asyncpg
from fastapi import Depends, Request
from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from relay_common.bus import Bus
from relay_common.contract.envelope import Envelope
from relay_common.db import DbConn
from relay_common.outbox import OutboxRelay, stage
from relay_gateway import auth
from relay_gateway.errors import ApiError
from relay_gateway.events import EventHub
from relay_gateway.repo import principals
from relay_gateway.repo.principals import Principal
from relay_gateway.settings import Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
API_KEY_PREFIX = "rly_"


@dataclass
class GatewayState:
    settings: Settings
    pool: asyncpg.Pool
    bus: Bus
    hub: EventHub
    keys: auth.KeyRing
    outbox: OutboxRelay
    limiter: MovingWindowRateLimiter = field(
        default_factory=lambda: MovingWindowRateLimiter(MemoryStorage())
    )

    @property
    def admin_emails(self) -> frozenset[str]:
        return frozenset(e.lower() for e in self.settings.admin_emails)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Changes]:
        """A transaction whose staged events are published once it commits."""
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                yield Changes(conn, self.bus.prefix)
            self.outbox.kick()


@dataclass
class Changes:
    """A database transaction and the bus events it causes (through the outbox)."""

    conn: DbConn
    bus_prefix: str

    async def emit(self, event: Envelope) -> None:
        await stage(self.conn, self.bus_prefix, event)


def get_state(request: Request) -> GatewayState:
    state: GatewayState = request.app.state.gateway
    return state


StateDep = Annotated[GatewayState, Depends(get_state)]


async def rate_limit(state: GatewayState, key: str, per_minute: int) -> None:
    if not await state.limiter.hit(RateLimitItemPerMinute(per_minute), key):
        raise ApiError(429, "Too many requests: wait a minute and try again.")


async def get_principal(request: Request, state: StateDep) -> Principal:
    """The caller: an API key (``Authorization: Bearer rly_...``) or a session cookie.

    Cookie sessions must echo their CSRF secret in ``X-CSRF-Token`` on every request that
    changes something; API keys are not sent by browsers on their own, so need none.
    """
    authorization = request.headers.get("authorization", "")
    if authorization:
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not key.startswith(API_KEY_PREFIX):
            raise ApiError(401, "Use Authorization: Bearer rly_... with an API key.")
        principal = await principals.for_api_key(state.pool, key.strip())
        if principal is None:
            raise ApiError(401, "This API key is unknown or revoked.")
    else:
        token = request.cookies.get(auth.COOKIE)
        session = state.keys.read(token) if token else None
        if session is None:
            raise ApiError(401, "Sign in first.")
        principal_or_none = await principals.for_user(
            state.pool, session.user_id, session.workspace_id, state.admin_emails
        )
        if principal_or_none is None:
            raise ApiError(401, "This account has no active membership in this workspace.")
        principal = principal_or_none
        if request.method not in SAFE_METHODS and (
            request.headers.get(auth.CSRF_HEADER) != session.csrf
        ):
            raise ApiError(
                403,
                f"Missing or wrong {auth.CSRF_HEADER} header (copy it from the "
                f"{auth.CSRF_COOKIE} cookie).",
                code="csrf_failed",
            )
    await rate_limit(
        state,
        f"principal:{principal.user_id or principal.api_key_id}",
        state.settings.requests_per_minute,
    )
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def requires(scope: str) -> Callable[[Principal], Awaitable[Principal]]:
    async def check(principal: PrincipalDep) -> Principal:
        if scope not in principal.scopes:
            who = "This API key" if principal.api_key_id else f"A {principal.role}"
            raise ApiError(403, f"{who} may not do this (needs the {scope} permission).")
        return principal

    return check


ReaderDep = Annotated[Principal, Depends(requires("read"))]
SenderDep = Annotated[Principal, Depends(requires("send"))]
AdminDep = Annotated[Principal, Depends(requires("manage"))]
"""Owners, admins, and API keys with the manage scope."""


async def get_owner(principal: PrincipalDep) -> Principal:
    if principal.role != "owner":
        raise ApiError(403, "Only the workspace owner can do this.")
    return principal


OwnerDep = Annotated[Principal, Depends(get_owner)]


async def get_member(principal: PrincipalDep) -> Principal:
    """A signed-in person (not an API key): for things only people do."""
    if principal.user_id is None:
        raise ApiError(403, "API keys cannot do this; sign in.")
    return principal


MemberDep = Annotated[Principal, Depends(get_member)]
