"""The audit log of the current workspace: who changed what, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from relay_gateway.api.deps import AdminDep, StateDep
from relay_gateway.repo import audit as repo

router = APIRouter(prefix="/audit", tags=["audit"])

NAME_PATTERN = r"^[A-Za-z0-9_.:-]+$"
MAX_ID = 2**63 - 1


class Actor(BaseModel):
    user_id: UUID | None
    email: str | None
    api_key_id: UUID | None


class AuditEntry(BaseModel):
    id: int = Field(description="Pass as `before` to get the entries older than this one.")
    at: datetime
    actor: Actor
    action: str = Field(examples=["member.invited"])
    target_type: str = Field(examples=["member"])
    target_id: str | None
    details: dict[str, Any]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> AuditEntry:
        actor = Actor(
            user_id=row.pop("actor_user_id"),
            email=row.pop("actor_email"),
            api_key_id=row.pop("actor_api_key"),
        )
        return cls(**row, actor=actor)


@router.get("", operation_id="list_audit", response_model=list[AuditEntry])
async def list_audit(
    principal: AdminDep,
    state: StateDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    action: Annotated[str | None, Query(max_length=100, pattern=NAME_PATTERN)] = None,
    target_type: Annotated[str | None, Query(max_length=100, pattern=NAME_PATTERN)] = None,
) -> list[AuditEntry]:
    """Entries newest first; for the next page pass the last entry's id as ``before``."""
    rows = await repo.list_entries(
        state.pool,
        principal.workspace_id,
        limit=limit,
        before=before,
        action=action,
        target_type=target_type,
    )
    return [AuditEntry.from_row(row) for row in rows]
