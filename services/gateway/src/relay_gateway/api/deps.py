"""Dependencies shared by the routes: state, the signed-in principal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import asyncpg
from fastapi import Cookie, Depends, Request

from relay_common.bus import Bus
from relay_gateway import auth, repo
from relay_gateway.errors import ApiError
from relay_gateway.events import EventHub
from relay_gateway.settings import Settings


@dataclass
class GatewayState:
    settings: Settings
    pool: asyncpg.Pool
    bus: Bus
    hub: EventHub


def get_state(request: Request) -> GatewayState:
    state: GatewayState = request.app.state.gateway
    return state


StateDep = Annotated[GatewayState, Depends(get_state)]


async def get_principal(
    state: StateDep,
    relay_session: Annotated[str | None, Cookie()] = None,
) -> repo.Principal:
    secret = state.settings.jwt_secret.get_secret_value()
    user_id = auth.read_token(secret, relay_session) if relay_session else None
    if user_id is None:
        raise ApiError(401, "Sign in first.")
    principal = await repo.principal(state.pool, user_id)
    if principal is None:
        raise ApiError(401, "This account has no active workspace membership.")
    return principal


PrincipalDep = Annotated[repo.Principal, Depends(get_principal)]


async def get_admin(principal: PrincipalDep) -> repo.Principal:
    if principal.role not in ("owner", "admin"):
        raise ApiError(403, "Only workspace owners and admins can do this.")
    return principal


AdminDep = Annotated[repo.Principal, Depends(get_admin)]
