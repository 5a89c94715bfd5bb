"""The members of the current workspace: inviting, (de)activating, changing roles,
removing. Owners and admins manage the team; only the owner manages admins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from email_validator import EmailNotValidError, validate_email
from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field, StringConstraints, field_validator

from relay_common.contract import LeadAssigned, LeadStatus, LeadStatusChanged
from relay_gateway.api.deps import AdminDep, Changes, StateDep, get_member
from relay_gateway.errors import ApiError
from relay_gateway.repo import audit
from relay_gateway.repo import team as repo
from relay_gateway.repo.principals import Principal

router = APIRouter(prefix="/team", tags=["team"])

AssignableRole = Literal["admin", "vendor"]


class MemberPublic(BaseModel):
    user_id: UUID
    email: str
    name: str | None
    role: str
    is_active: bool
    invited_by: str | None = Field(description="Email of who invited them.")
    created_at: datetime
    last_login_at: datetime | None = Field(description="Their last sign-in.")
    assigned_leads: int = Field(description="Leads assigned to them and still being worked.")


class MemberInvite(BaseModel):
    email: str = Field(max_length=254, examples=["ana@example.com"])
    role: AssignableRole
    name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
        | None
    ) = None

    @field_validator("email")
    @classmethod
    def deliverable_address(cls, email: str) -> str:
        # ASCII only (international domains as punycode): Python's and PostgreSQL's
        # lower() agree on it, and the users table insists on lower-case addresses.
        try:
            valid = validate_email(email, check_deliverability=False, allow_smtputf8=False)
        except EmailNotValidError as exc:
            raise ValueError(str(exc)) from exc
        return (valid.ascii_email or valid.normalized).lower()


class MemberUpdate(BaseModel):
    is_active: bool | None = None
    role: AssignableRole | None = None


def _may_manage_admins(principal: Principal) -> bool:
    return principal.role == "owner"


async def _member(tx: Changes, principal: Principal, user_id: UUID) -> MemberPublic:
    row = await repo.get_member(tx.conn, principal.workspace_id, user_id)
    assert row is not None
    return MemberPublic(**row)


async def _take_vendor_seat(tx: Changes, principal: Principal) -> None:
    """Refuses one more active vendor than the plan allows."""
    seats = await repo.lock_vendor_seats(tx.conn, principal.workspace_id)
    if seats.full:
        raise ApiError(
            409,
            f"The plan allows {seats.limit} active vendor(s); upgrade or deactivate one.",
            code="plan_limit",
            details={"limit": seats.limit, "used": seats.used},
        )


@router.get("", operation_id="list_team", response_model=list[MemberPublic])
async def list_team(principal: AdminDep, state: StateDep) -> list[MemberPublic]:
    rows = await repo.list_members(state.pool, principal.workspace_id)
    return [MemberPublic(**row) for row in rows]


@router.post(
    "",
    operation_id="invite_member",
    status_code=201,
    response_model=MemberPublic,
    dependencies=[Depends(get_member)],
)
async def invite_member(body: MemberInvite, principal: AdminDep, state: StateDep) -> MemberPublic:
    """Add a person (new or known) to the workspace; they sign in with that email."""
    if body.role == "admin" and not _may_manage_admins(principal):
        raise ApiError(403, "Only the workspace owner can invite an admin.")
    async with state.transaction() as tx:
        user_id = await repo.ensure_user(tx.conn, body.email, body.name)
        if await repo.lock_member(tx.conn, principal.workspace_id, user_id) is not None:
            raise ApiError(409, f"{body.email} is already a member of this workspace.")
        if body.role == "vendor":
            await _take_vendor_seat(tx, principal)
        if not await repo.add_member(
            tx.conn, principal.workspace_id, user_id, body.role, principal.user_id
        ):
            raise ApiError(409, f"{body.email} is already a member of this workspace.")
        await audit.record(
            tx.conn,
            principal,
            "member.invited",
            "member",
            user_id,
            {"email": body.email, "role": body.role},
        )
        return await _member(tx, principal, user_id)


@router.patch("/{user_id}", operation_id="update_member", response_model=MemberPublic)
async def update_member(
    user_id: UUID, body: MemberUpdate, principal: AdminDep, state: StateDep
) -> MemberPublic:
    """Deactivate (signed out at once) or reactivate a member, or change their role.

    A deactivated vendor keeps their leads (see ``assigned_leads``); remove them to
    release the leads."""
    async with state.transaction() as tx:
        member = await repo.lock_member(tx.conn, principal.workspace_id, user_id)
        if member is None:
            raise ApiError(404, "No such member.")
        role = body.role or member.role
        is_active = member.is_active if body.is_active is None else body.is_active
        if (role, is_active) == (member.role, member.is_active):
            return await _member(tx, principal, user_id)
        if member.role == "owner":
            raise ApiError(403, "The owner cannot be deactivated or given another role.")
        if "admin" in (member.role, role) and not _may_manage_admins(principal):
            raise ApiError(403, "Only the workspace owner can change admins or make one.")
        if role == "vendor" and is_active and not (member.role == "vendor" and member.is_active):
            await _take_vendor_seat(tx, principal)
        await repo.update_member(tx.conn, principal.workspace_id, user_id, role, is_active)
        target = {"email": member.email}
        if role != member.role:
            await audit.record(
                tx.conn,
                principal,
                "member.role_changed",
                "member",
                user_id,
                target | {"from": member.role, "to": role},
            )
        if is_active != member.is_active:
            action = "member.activated" if is_active else "member.deactivated"
            await audit.record(tx.conn, principal, action, "member", user_id, target)
        updated = await _member(tx, principal, user_id)
    # Open event streams end now, not when the browser next reconnects.
    await state.hub.revoke_access(principal.workspace_id, user_id=user_id)
    return updated


@router.delete(
    "/{user_id}",
    operation_id="remove_member",
    status_code=204,
    response_class=Response,
    responses={204: {"description": "Removed; their leads are unassigned"}},
)
async def remove_member(user_id: UUID, principal: AdminDep, state: StateDep) -> Response:
    """Remove a member from the workspace (their account stays). Leads they were working
    on go back to qualified, unassigned."""
    if user_id == principal.user_id:
        raise ApiError(403, "You cannot remove yourself.")
    async with state.transaction() as tx:
        member = await repo.lock_member(tx.conn, principal.workspace_id, user_id)
        if member is None:
            raise ApiError(404, "No such member.")
        if member.role == "owner":
            raise ApiError(403, "The owner cannot be removed.")
        if member.role == "admin" and not _may_manage_admins(principal):
            raise ApiError(403, "Only the workspace owner can remove an admin.")
        released = await repo.release_leads(tx.conn, principal.workspace_id, user_id)
        await repo.delete_member(tx.conn, principal.workspace_id, user_id)
        for lead in released:
            await _announce_release(tx, principal, lead)
        await audit.record(
            tx.conn,
            principal,
            "member.removed",
            "member",
            user_id,
            {"email": member.email, "role": member.role, "released_leads": len(released)},
        )
    await state.hub.revoke_access(principal.workspace_id, user_id=user_id)
    return Response(status_code=204)


async def _announce_release(tx: Changes, principal: Principal, lead: repo.ReleasedLead) -> None:
    common: dict[str, Any] = {
        "workspace_id": principal.workspace_id,
        "bot_id": lead.bot_id,
        "lead_id": lead.lead_id,
        "at": lead.at,
    }
    await tx.emit(LeadAssigned(**common, vendor_user_id=None, by="release"))
    if lead.status != lead.previous_status:
        await tx.emit(
            LeadStatusChanged(
                **common,
                status=LeadStatus(lead.status),
                previous=LeadStatus(lead.previous_status),
            )
        )
