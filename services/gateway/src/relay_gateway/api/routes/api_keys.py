"""API keys for integrators: made by owners and admins (never by another key), shown once,
stored only as a hash, revoked at once."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field, StringConstraints

from relay_gateway.api.deps import API_KEY_PREFIX, AdminDep, StateDep, get_member
from relay_gateway.errors import ApiError
from relay_gateway.repo import api_keys as repo
from relay_gateway.repo import audit
from relay_gateway.repo.principals import hash_api_key

router = APIRouter(prefix="/api-keys", tags=["api-keys"])

Scope = Literal["read", "send", "manage"]
SHOWN_PREFIX_LENGTH = 12


class ApiKeyCreate(BaseModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    scopes: set[Scope] = Field(
        min_length=1,
        description="read: look; send: write to customers; manage: change bots and settings.",
    )


class ApiKeyPublic(BaseModel):
    id: UUID
    name: str
    prefix: str = Field(description="The key's first characters, to tell keys apart.")
    scopes: list[Scope]
    created_at: datetime
    created_by: str | None = Field(description="Email of who made the key.")
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="The key itself: shown only now, store it safely.")


@router.post(
    "",
    operation_id="create_api_key",
    status_code=201,
    response_model=ApiKeyCreated,
    dependencies=[Depends(get_member)],
)
async def create_api_key(body: ApiKeyCreate, principal: AdminDep, state: StateDep) -> ApiKeyCreated:
    """A new key, sent as ``Authorization: Bearer rly_...``; the response is the only
    place the key ever appears."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    async with state.transaction() as tx:
        row = await repo.create_key(
            tx.conn,
            principal.workspace_id,
            body.name,
            key[:SHOWN_PREFIX_LENGTH],
            hash_api_key(key),
            sorted(body.scopes),
            principal.user_id,
        )
        await audit.record(
            tx.conn,
            principal,
            "api_key.created",
            "api_key",
            row["id"],
            {"name": body.name, "scopes": row["scopes"]},
        )
    return ApiKeyCreated(**row, key=key)


@router.get("", operation_id="list_api_keys", response_model=list[ApiKeyPublic])
async def list_api_keys(principal: AdminDep, state: StateDep) -> list[ApiKeyPublic]:
    """The workspace's keys, live and revoked (never the keys themselves)."""
    rows = await repo.list_keys(state.pool, principal.workspace_id)
    return [ApiKeyPublic(**row) for row in rows]


@router.delete(
    "/{key_id}",
    operation_id="revoke_api_key",
    status_code=204,
    response_class=Response,
    responses={204: {"description": "Revoked: the key is refused from now on"}},
)
async def revoke_api_key(key_id: UUID, principal: AdminDep, state: StateDep) -> Response:
    """Revoke a key; revoking a revoked key again changes nothing."""
    async with state.transaction() as tx:
        revoked = await repo.revoke_key(tx.conn, principal.workspace_id, key_id)
        if revoked is None:
            raise ApiError(404, "No such API key.")
        name, was_live = revoked
        if was_live:
            await audit.record(
                tx.conn, principal, "api_key.revoked", "api_key", key_id, {"name": name}
            )
    await state.hub.revoke_access(principal.workspace_id, api_key_id=key_id)
    return Response(status_code=204)
