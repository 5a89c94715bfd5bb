"""Workspaces: the caller's, a new one, the current one with its plan and usage, and the
installation's list for platform administrators."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, StringConstraints

from relay_common.provisioning import create_workspace as provision_workspace
from relay_gateway.api.deps import MemberDep, OwnerDep, PrincipalDep, ReaderDep, StateDep
from relay_gateway.errors import ApiError
from relay_gateway.repo import audit
from relay_gateway.repo import workspaces as repo
from relay_gateway.repo.principals import ROLE_SCOPES

router = APIRouter(tags=["workspaces"])

WorkspaceName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
]


class WorkspaceSummary(BaseModel):
    id: UUID
    name: str
    role: str
    plan: str
    is_current: bool
    created_at: datetime


class WorkspaceCreate(BaseModel):
    name: WorkspaceName


class WorkspaceUpdate(BaseModel):
    name: WorkspaceName


class PlanLimits(BaseModel):
    bots: int
    vendors: int
    monthly_messages: int


class WorkspaceUsage(BaseModel):
    bots: int
    vendors: int


class WorkspacePublic(BaseModel):
    id: UUID
    name: str
    plan: str
    subscription_status: str
    current_period_end: datetime | None
    limits: PlanLimits
    usage: WorkspaceUsage
    created_at: datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> WorkspacePublic:
        return cls(
            id=row["id"],
            name=row["name"],
            plan=row["plan"],
            subscription_status=row["status"],
            current_period_end=row["current_period_end"],
            limits=PlanLimits(
                bots=row["bot_limit"],
                vendors=row["vendor_limit"],
                monthly_messages=row["monthly_message_limit"],
            ),
            usage=WorkspaceUsage(bots=row["bots"], vendors=row["vendors"]),
            created_at=row["created_at"],
        )


class WorkspaceAdminView(BaseModel):
    id: UUID
    name: str
    plan: str
    subscription_status: str
    owner_email: str | None
    members: int
    vendors: int
    bots: int
    created_at: datetime


@router.get("/workspaces", operation_id="list_workspaces", response_model=list[WorkspaceSummary])
async def list_workspaces(principal: MemberDep, state: StateDep) -> list[WorkspaceSummary]:
    """The workspaces the caller is an active member of; switch with POST
    /auth/workspace/{id}."""
    assert principal.user_id is not None
    rows = await repo.list_for_user(state.pool, principal.user_id)
    return [WorkspaceSummary(**row, is_current=row["id"] == principal.workspace_id) for row in rows]


@router.post(
    "/workspaces",
    operation_id="create_workspace",
    status_code=201,
    response_model=WorkspaceSummary,
)
async def create_workspace(
    body: WorkspaceCreate, principal: MemberDep, state: StateDep
) -> WorkspaceSummary:
    """A new workspace on the free plan, owned by the caller (who stays in the current one)."""
    assert principal.email is not None
    async with state.transaction() as tx:
        created = await provision_workspace(tx.conn, body.name, principal.email)
        as_owner = replace(
            principal,
            workspace_id=created.workspace_id,
            workspace_name=body.name,
            role="owner",
            scopes=ROLE_SCOPES["owner"],
        )
        await audit.record(
            tx.conn, as_owner, "workspace.created", "workspace", created.workspace_id
        )
    row = await repo.get_with_plan(state.pool, created.workspace_id)
    assert row is not None
    return WorkspaceSummary(
        id=row["id"],
        name=row["name"],
        role="owner",
        plan=row["plan"],
        is_current=False,
        created_at=row["created_at"],
    )


@router.get(
    "/workspaces/current", operation_id="get_current_workspace", response_model=WorkspacePublic
)
async def get_current_workspace(principal: ReaderDep, state: StateDep) -> WorkspacePublic:
    """The workspace of the session (or API key): its plan, limits and usage."""
    row = await repo.get_with_plan(state.pool, principal.workspace_id)
    if row is None:
        raise ApiError(404, "No such workspace.")
    return WorkspacePublic.from_row(row)


@router.patch(
    "/workspaces/current", operation_id="rename_workspace", response_model=WorkspacePublic
)
async def rename_workspace(
    body: WorkspaceUpdate, principal: OwnerDep, state: StateDep
) -> WorkspacePublic:
    """Rename the current workspace (owner only)."""
    async with state.transaction() as tx:
        previous = await repo.rename(tx.conn, principal.workspace_id, body.name)
        if previous is None:
            raise ApiError(404, "No such workspace.")
        if previous != body.name:
            await audit.record(
                tx.conn,
                principal,
                "workspace.renamed",
                "workspace",
                principal.workspace_id,
                {"from": previous, "to": body.name},
            )
    return await get_current_workspace(principal, state)


@router.get(
    "/admin/workspaces",
    operation_id="list_all_workspaces",
    response_model=list[WorkspaceAdminView],
)
async def list_all_workspaces(
    principal: PrincipalDep,
    state: StateDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[WorkspaceAdminView]:
    """Every workspace of the installation, newest first (platform administrators only)."""
    if not principal.is_platform_admin:
        raise ApiError(403, "Only platform administrators can do this.")
    rows = await repo.list_all(state.pool, limit, offset)
    return [WorkspaceAdminView(**row, subscription_status=row["status"]) for row in rows]
