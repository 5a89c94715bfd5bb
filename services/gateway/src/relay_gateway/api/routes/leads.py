"""Leads of the signed-in workspace: list, search, export, detail, assignment, status,
notes, and messages written by people.

The lead service creates leads, stores messages, qualifies and assigns round robin; the
changes made here go to the same tables and publish the same public events (through the
outbox, with the transaction), so subscribers see one stream whoever made the change.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any, Self
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, field_validator

from relay_common.contract import LeadAssigned, LeadStatus, LeadStatusChanged, Origin, SendMessage
from relay_gateway.api.deps import (
    AdminDep,
    Changes,
    PrincipalDep,
    ReaderDep,
    SenderDep,
    StateDep,
)
from relay_gateway.api.routes.bots import Accepted
from relay_gateway.errors import ApiError
from relay_gateway.repo import audit
from relay_gateway.repo import leads as repo
from relay_gateway.repo.leads import LeadQuery, Position
from relay_gateway.repo.principals import Principal

router = APIRouter(tags=["leads"])

NO_NUL = r"^[^\x00]*$"
ASSIGNEE_FILTER = r"^(me|none|[0-9a-fA-F-]{32,36})$"
EXPORT_PAGE = 500
MAX_CURSOR = 200


class LeadAssignee(BaseModel):
    id: UUID
    email: str


class LeadPublic(BaseModel):
    id: UUID
    bot_id: UUID
    bot_name: str
    chat_jid: str
    whatsapp_number: str | None
    name: str | None
    email: str | None
    phone: str | None
    location: str | None
    status: LeadStatus
    assignee: LeadAssignee | None
    created_at: datetime
    qualified_at: datetime | None
    assigned_at: datetime | None
    last_message_at: datetime
    unclaimed_at: datetime | None = Field(
        description="When the lead was flagged: qualified, and nobody took it in time."
    )

    @classmethod
    def from_row(cls, row: dict[str, Any], **extra: Any) -> Self:
        assignee = (
            LeadAssignee(id=row["assigned_to"], email=row["assignee_email"])
            if row["assigned_to"]
            else None
        )
        fields = {k: row[k] for k in LeadPublic.model_fields if k != "assignee"}
        return cls(**fields, assignee=assignee, **extra)


class LeadPage(BaseModel):
    items: list[LeadPublic]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null: last.")


class LeadMessagePublic(BaseModel):
    id: UUID
    whatsapp_message_id: str
    origin: str = Field(description="customer, bot, vendor or phone.")
    kind: str
    text: str
    media: dict[str, Any] | None
    sent_by: UUID | None = Field(description="The person who wrote it (vendor messages).")
    sent_at: datetime


class LeadNotePublic(BaseModel):
    id: UUID
    author_id: UUID | None
    author_email: str | None = Field(description="Null when written with an API key.")
    body: str
    created_at: datetime


class LeadFieldChangePublic(BaseModel):
    id: int
    field: str
    old_value: str | None
    new_value: str
    confidence: float
    source: str
    message_id: UUID | None = Field(description="The message the value was found in.")
    changed_at: datetime


class LeadDetail(LeadPublic):
    field_sources: dict[str, Any] = Field(
        description="Per field: where its value came from, and how confident that is."
    )
    messages: list[LeadMessagePublic] = Field(description="The conversation, oldest first.")
    notes: list[LeadNotePublic]
    field_changes: list[LeadFieldChangePublic]


def _admin_or_vendor(principal: Principal) -> None:
    """Admins may change any lead; vendors their own (the others are not found)."""
    if not principal.is_vendor and "manage" not in principal.scopes:
        raise ApiError(403, "Only admins and the lead's vendor may do this.")


def _not_found() -> ApiError:
    return ApiError(404, "No such lead.")


def _utc(value: datetime | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except OverflowError:
        raise ApiError(422, f"{name} is out of range.") from None


def encode_cursor(position: Position) -> str:
    raw = f"{position.last_message_at.isoformat()}|{position.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    bad = ApiError(400, "This cursor is not one this API gave out.", code="bad_cursor")
    if len(cursor) > MAX_CURSOR:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, lead_id = raw.partition("|")
        last_message_at = datetime.fromisoformat(at)
        if last_message_at.tzinfo is None:
            raise bad
        return Position(last_message_at.astimezone(UTC), UUID(lead_id))
    except (ValueError, binascii.Error, OverflowError):
        raise bad from None


async def lead_query(
    principal: PrincipalDep,
    status: Annotated[
        list[LeadStatus] | None, Query(description="Only these statuses (repeat the parameter).")
    ] = None,
    bot_id: Annotated[UUID | None, Query(description="Only this bot's leads.")] = None,
    assigned_to: Annotated[
        str | None,
        Query(pattern=ASSIGNEE_FILTER, description="A user id, me, or none (unassigned)."),
    ] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            pattern=NO_NUL,
            description="Text in the name, email, phone or WhatsApp number.",
        ),
    ] = None,
    qualified_only: Annotated[
        bool, Query(description="Only leads that were qualified at some point.")
    ] = False,
    updated_since: Annotated[
        datetime | None,
        Query(description="Only leads with a message, qualification or assignment since."),
    ] = None,
    created_since: Annotated[datetime | None, Query(description="Only leads new since.")] = None,
) -> LeadQuery:
    assignee: UUID | None = None
    if assigned_to == "me":
        if principal.user_id is None:
            raise ApiError(400, "An API key is nobody: filter by a user id instead of me.")
        assignee = principal.user_id
    elif assigned_to not in (None, "none"):
        try:
            assignee = UUID(assigned_to)
        except ValueError:
            raise ApiError(422, "assigned_to is a user id, me or none.") from None
    return LeadQuery(
        workspace_id=principal.workspace_id,
        vendor_id=principal.own_leads_only,
        statuses=tuple(s.value for s in status or ()),
        bot_id=bot_id,
        assigned_to=assignee,
        unassigned=assigned_to == "none",
        search=q,
        qualified_only=qualified_only,
        updated_since=_utc(updated_since, "updated_since"),
        created_since=_utc(created_since, "created_since"),
    )


LeadQueryDep = Annotated[LeadQuery, Depends(lead_query)]


async def _page(
    state: StateDep, query: LeadQuery, after: Position | None, limit: int
) -> list[dict[str, Any]]:
    async with state.pool.acquire() as conn:
        return await repo.list_leads(conn, query, after, limit)


def _position(row: dict[str, Any]) -> Position:
    return Position(row["last_message_at"], row["id"])


@router.get("/leads", operation_id="list_leads", response_model=LeadPage)
async def list_leads(
    principal: ReaderDep,
    state: StateDep,
    query: LeadQueryDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page.")] = None,
) -> LeadPage:
    """Leads, the latest conversation first. Vendors see only the leads assigned to them."""
    after = decode_cursor(cursor) if cursor is not None else None
    rows = await _page(state, query, after, limit + 1)
    items = rows[:limit]
    more = len(rows) > limit
    return LeadPage(
        items=[LeadPublic.from_row(row) for row in items],
        next_cursor=encode_cursor(_position(items[-1])) if more else None,
    )


CSV_HEADER = (
    "id",
    "bot",
    "name",
    "email",
    "phone",
    "location",
    "whatsapp_number",
    "status",
    "assigned_to",
    "created_at",
    "qualified_at",
    "last_message_at",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """A cell a spreadsheet shows as text: one that could start a formula gets a quote."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def _csv_row(row: dict[str, Any]) -> list[str]:
    values = (
        row["id"],
        row["bot_name"],
        row["name"],
        row["email"],
        row["phone"],
        row["location"],
        row["whatsapp_number"],
        row["status"],
        row["assignee_email"],
        row["created_at"],
        row["qualified_at"],
        row["last_message_at"],
    )
    return [csv_cell(v) for v in values]


async def _csv_chunks(
    state: StateDep, query: LeadQuery, first: list[dict[str, Any]]
) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    rows = first
    while True:
        writer.writerows(_csv_row(row) for row in rows)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if len(rows) < EXPORT_PAGE:
            return
        rows = await _page(state, query, _position(rows[-1]), EXPORT_PAGE)


@router.get(
    "/leads/export.csv",
    operation_id="export_leads_csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "The leads as CSV."}},
)
async def export_leads_csv(
    principal: AdminDep, state: StateDep, query: LeadQueryDep
) -> StreamingResponse:
    """Every lead matching the list's filters, as a CSV file."""
    first = await _page(state, query, None, EXPORT_PAGE)
    filename = f"leads-{datetime.now(UTC).date().isoformat()}.csv"
    return StreamingResponse(
        _csv_chunks(state, query, first),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/leads/{lead_id}", operation_id="get_lead", response_model=LeadDetail)
async def get_lead(lead_id: UUID, principal: ReaderDep, state: StateDep) -> LeadDetail:
    """A lead with its whole conversation, notes and the history of its details."""
    ws = principal.workspace_id
    async with (
        state.pool.acquire() as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        row = await repo.get_lead(conn, ws, lead_id, principal.own_leads_only)
        if row is None:
            raise _not_found()
        messages = await repo.messages(conn, ws, lead_id)
        notes = await repo.notes(conn, ws, lead_id)
        changes = await repo.field_changes(conn, ws, lead_id)
    return LeadDetail.from_row(
        row,
        field_sources=row["field_sources"],
        messages=[LeadMessagePublic(**m) for m in messages],
        notes=[LeadNotePublic(**n) for n in notes],
        field_changes=[LeadFieldChangePublic(**c) for c in changes],
    )


async def _lead_now(tx: Changes, workspace_id: UUID, lead_id: UUID) -> LeadPublic:
    row = await repo.get_lead(tx.conn, workspace_id, lead_id, None)
    if row is None:
        raise _not_found()
    return LeadPublic.from_row(row)


async def _emit_status(
    tx: Changes, lead: repo.LockedLead, workspace_id: UUID, changed: repo.Changed
) -> None:
    if changed.status == lead.status:
        return
    await tx.emit(
        LeadStatusChanged(
            workspace_id=workspace_id,
            bot_id=lead.bot_id,
            lead_id=lead.id,
            status=LeadStatus(changed.status),
            previous=LeadStatus(lead.status),
            at=changed.at,
        )
    )


class LeadAssigneeUpdate(BaseModel):
    user_id: UUID = Field(description="An active member of the workspace.")


@router.put("/leads/{lead_id}/assignee", operation_id="assign_lead", response_model=LeadPublic)
async def assign_lead(
    lead_id: UUID, body: LeadAssigneeUpdate, principal: AdminDep, state: StateDep
) -> LeadPublic:
    """Give the lead to a member; a lead not yet assigned becomes ``assigned``."""
    ws = principal.workspace_id
    async with state.transaction() as tx:
        lead = await repo.lock_lead(tx.conn, ws, lead_id, None)
        if lead is None:
            raise _not_found()
        member = await repo.member(tx.conn, ws, body.user_id)
        if member is None:
            raise ApiError(422, "This user is not a member of this workspace.")
        if not member.is_active:
            raise ApiError(409, "This member is deactivated: reactivate them first.")
        if lead.assigned_to != member.user_id:
            changed = await repo.assign(tx.conn, ws, lead.id, member)
            await tx.emit(
                LeadAssigned(
                    workspace_id=ws,
                    bot_id=lead.bot_id,
                    lead_id=lead.id,
                    vendor_user_id=member.user_id,
                    vendor_email=member.email,
                    by="manual",
                    at=changed.at,
                )
            )
            await _emit_status(tx, lead, ws, changed)
            await audit.record(
                tx.conn,
                principal,
                "lead.assigned",
                "lead",
                lead.id,
                {"user_id": str(member.user_id), "email": member.email},
            )
        return await _lead_now(tx, ws, lead.id)


@router.delete("/leads/{lead_id}/assignee", operation_id="release_lead", response_model=LeadPublic)
async def release_lead(lead_id: UUID, principal: PrincipalDep, state: StateDep) -> LeadPublic:
    """Take the lead from its assignee: an admin, or the assigned vendor giving it back.

    An assigned lead goes back to ``qualified`` (``capturing`` if it never qualified)."""
    _admin_or_vendor(principal)
    ws = principal.workspace_id
    async with state.transaction() as tx:
        lead = await repo.lock_lead(tx.conn, ws, lead_id, principal.own_leads_only)
        if lead is None:
            raise _not_found()
        if lead.assigned_to is not None:
            changed = await repo.release(tx.conn, ws, lead.id)
            await tx.emit(
                LeadAssigned(
                    workspace_id=ws,
                    bot_id=lead.bot_id,
                    lead_id=lead.id,
                    vendor_user_id=None,
                    by="release",
                    at=changed.at,
                )
            )
            await _emit_status(tx, lead, ws, changed)
            await audit.record(
                tx.conn,
                principal,
                "lead.released",
                "lead",
                lead.id,
                {"user_id": str(lead.assigned_to)},
            )
        return await _lead_now(tx, ws, lead.id)


class LeadStatusUpdate(BaseModel):
    status: LeadStatus


@router.put("/leads/{lead_id}/status", operation_id="set_lead_status", response_model=LeadPublic)
async def set_lead_status(
    lead_id: UUID, body: LeadStatusUpdate, principal: SenderDep, state: StateDep
) -> LeadPublic:
    """Mark a lead won or lost, or move it back: an admin, or the assigned vendor.

    ``assigned`` needs an assignee (assign instead); ``capturing`` and ``qualified``
    need none (release first)."""
    _admin_or_vendor(principal)
    ws = principal.workspace_id
    async with state.transaction() as tx:
        lead = await repo.lock_lead(tx.conn, ws, lead_id, principal.own_leads_only)
        if lead is None:
            raise _not_found()
        if body.status is LeadStatus.ASSIGNED and lead.assigned_to is None:
            raise ApiError(409, "Nobody has this lead: assign it to someone instead.")
        if body.status in (LeadStatus.CAPTURING, LeadStatus.QUALIFIED) and lead.assigned_to:
            raise ApiError(409, f"The lead is assigned: release it before making it {body.status}.")
        if body.status != lead.status:
            at = await repo.set_status(tx.conn, ws, lead.id, body.status.value)
            await _emit_status(tx, lead, ws, repo.Changed(body.status.value, at))
            await audit.record(
                tx.conn,
                principal,
                "lead.status_changed",
                "lead",
                lead.id,
                {"status": body.status.value, "previous": lead.status},
            )
        return await _lead_now(tx, ws, lead.id)


class LeadNoteCreate(BaseModel):
    body: str = Field(min_length=1, max_length=5000, pattern=NO_NUL)


@router.post(
    "/leads/{lead_id}/notes",
    operation_id="add_lead_note",
    status_code=201,
    response_model=LeadNotePublic,
)
async def add_lead_note(
    lead_id: UUID, body: LeadNoteCreate, principal: SenderDep, state: StateDep
) -> LeadNotePublic:
    """Write a note on a lead, for the team (customers never see notes)."""
    ws = principal.workspace_id
    async with state.pool.acquire() as conn, conn.transaction():
        if not await repo.is_visible(conn, ws, lead_id, principal.own_leads_only):
            raise _not_found()
        note = await repo.add_note(conn, ws, lead_id, principal.user_id, body.body)
    return LeadNotePublic(**note)


@router.get(
    "/leads/{lead_id}/notes", operation_id="list_lead_notes", response_model=list[LeadNotePublic]
)
async def list_lead_notes(
    lead_id: UUID, principal: ReaderDep, state: StateDep
) -> list[LeadNotePublic]:
    """The notes on a lead, oldest first."""
    ws = principal.workspace_id
    async with state.pool.acquire() as conn:
        if not await repo.is_visible(conn, ws, lead_id, principal.own_leads_only):
            raise _not_found()
        notes = await repo.notes(conn, ws, lead_id)
    return [LeadNotePublic(**n) for n in notes]


class LeadMessageCreate(BaseModel):
    text: str = Field(min_length=1, max_length=4096)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("a message needs some text")
        return text


@router.post(
    "/leads/{lead_id}/messages",
    operation_id="send_lead_message",
    status_code=202,
    response_model=Accepted,
)
async def send_lead_message(
    lead_id: UUID, body: LeadMessageCreate, principal: SenderDep, state: StateDep
) -> Accepted:
    """Write to the customer from the lead's bot, as a person; vendors to their own leads.

    The bot's session sends it; it joins the conversation once WhatsApp took it."""
    ws = principal.workspace_id
    async with state.pool.acquire() as conn:
        chat = await repo.chat(conn, ws, lead_id, principal.own_leads_only)
    if chat is None:
        raise _not_found()
    if chat.bot_status == "disabled":
        raise ApiError(409, "The lead's bot is disabled: enable it to write from it.")
    command = SendMessage(
        workspace_id=ws,
        bot_id=chat.bot_id,
        chat_jid=chat.chat_jid,
        text=body.text,
        origin=Origin.VENDOR,
        sent_by_user_id=principal.user_id,
    )
    await state.bus.publish(command)
    return Accepted(command_id=command.event_id)
