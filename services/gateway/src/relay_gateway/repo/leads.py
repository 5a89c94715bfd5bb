"""SQL about leads, as people see and change them. Every query names the workspace, and
``vendor_id`` (when set) narrows it to the leads assigned to that vendor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from relay_common.db import DbConn

LEAD_COLUMNS = """l.id, l.bot_id, b.name AS bot_name, l.chat_jid, l.whatsapp_number, l.name,
    l.email, l.phone, l.location, l.status, l.assigned_to, u.email AS assignee_email,
    l.created_at, l.qualified_at, l.assigned_at, l.last_message_at, l.unclaimed_at"""
LEAD_FROM = """leads l
    JOIN bots b ON b.workspace_id = l.workspace_id AND b.id = l.bot_id
    LEFT JOIN users u ON u.id = l.assigned_to"""
SEARCHED_COLUMNS = ("l.name", "l.email", "l.phone", "l.whatsapp_number")


@dataclass(frozen=True)
class LeadQuery:
    """Which leads of a workspace to list."""

    workspace_id: UUID
    vendor_id: UUID | None = None
    """Set for vendors: only their leads, whatever the other filters say."""
    statuses: tuple[str, ...] = ()
    bot_id: UUID | None = None
    assigned_to: UUID | None = None
    unassigned: bool = False
    search: str | None = None
    qualified_only: bool = False
    updated_since: datetime | None = None
    created_since: datetime | None = None


@dataclass(frozen=True)
class Position:
    """Where a page ends, in the list's order (last message first)."""

    last_message_at: datetime
    id: UUID


def like_pattern(text: str) -> str:
    """``text`` anywhere, with LIKE's own wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class _Where:
    def __init__(self) -> None:
        self.conditions: list[str] = []
        self.params: list[object] = []

    def add(self, condition: str, *values: object) -> None:
        """``condition`` with ``{}`` for each value (``{0}`` to repeat the first)."""
        first = len(self.params) + 1
        self.params.extend(values)
        self.conditions.append(condition.format(*(f"${first + i}" for i in range(len(values)))))

    def sql(self) -> str:
        return " AND ".join(self.conditions)


def _where(query: LeadQuery, after: Position | None) -> _Where:
    where = _Where()
    where.add("l.workspace_id = {}", query.workspace_id)
    if query.vendor_id is not None:
        where.add("l.assigned_to = {}", query.vendor_id)
    if query.statuses:
        where.add("l.status = ANY({}::text[])", list(query.statuses))
    if query.bot_id is not None:
        where.add("l.bot_id = {}", query.bot_id)
    if query.assigned_to is not None:
        where.add("l.assigned_to = {}", query.assigned_to)
    if query.unassigned:
        where.add("l.assigned_to IS NULL")
    if query.search:
        matches = " OR ".join(f"{column} ILIKE {{0}} ESCAPE '\\'" for column in SEARCHED_COLUMNS)
        where.add(f"({matches})", like_pattern(query.search))
    if query.qualified_only:
        where.add("l.qualified_at IS NOT NULL")
    if query.updated_since is not None:
        where.add(
            "GREATEST(l.last_message_at, l.qualified_at, l.assigned_at) >= {}",
            query.updated_since,
        )
    if query.created_since is not None:
        where.add("l.created_at >= {}", query.created_since)
    if after is not None:
        where.add("(l.last_message_at, l.id) < ({}, {})", after.last_message_at, after.id)
    return where


async def list_leads(
    conn: DbConn, query: LeadQuery, after: Position | None, limit: int
) -> list[dict[str, Any]]:
    where = _where(query, after)
    rows = await conn.fetch(
        f"""SELECT {LEAD_COLUMNS} FROM {LEAD_FROM}
            WHERE {where.sql()}
            ORDER BY l.last_message_at DESC, l.id DESC
            LIMIT {int(limit)}""",
        *where.params,
    )
    return [dict(r) for r in rows]


async def get_lead(
    conn: DbConn, workspace_id: UUID, lead_id: UUID, vendor_id: UUID | None
) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"""SELECT {LEAD_COLUMNS}, l.field_sources FROM {LEAD_FROM}
            WHERE l.workspace_id = $1 AND l.id = $2
              AND ($3::uuid IS NULL OR l.assigned_to = $3)""",
        workspace_id,
        lead_id,
        vendor_id,
    )
    return dict(row) if row else None


@dataclass(frozen=True)
class LockedLead:
    id: UUID
    bot_id: UUID
    status: str
    assigned_to: UUID | None
    qualified_at: datetime | None


async def lock_lead(
    conn: DbConn, workspace_id: UUID, lead_id: UUID, vendor_id: UUID | None
) -> LockedLead | None:
    """The lead, locked until the transaction ends (the lead service locks it too)."""
    row = await conn.fetchrow(
        """SELECT id, bot_id, status, assigned_to, qualified_at FROM leads
           WHERE workspace_id = $1 AND id = $2 AND ($3::uuid IS NULL OR assigned_to = $3)
           FOR UPDATE""",
        workspace_id,
        lead_id,
        vendor_id,
    )
    if row is None:
        return None
    return LockedLead(
        row["id"], row["bot_id"], row["status"], row["assigned_to"], row["qualified_at"]
    )


async def messages(conn: DbConn, workspace_id: UUID, lead_id: UUID) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT id, whatsapp_message_id, origin, kind, body AS text, media, sent_by, sent_at
           FROM lead_messages WHERE workspace_id = $1 AND lead_id = $2
           ORDER BY sent_at, stored_at, id""",
        workspace_id,
        lead_id,
    )
    return [dict(r) for r in rows]


async def notes(conn: DbConn, workspace_id: UUID, lead_id: UUID) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT n.id, n.author_id, u.email AS author_email, n.body, n.created_at
           FROM lead_notes n LEFT JOIN users u ON u.id = n.author_id
           WHERE n.workspace_id = $1 AND n.lead_id = $2
           ORDER BY n.created_at, n.id""",
        workspace_id,
        lead_id,
    )
    return [dict(r) for r in rows]


async def field_changes(conn: DbConn, workspace_id: UUID, lead_id: UUID) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT id, field, old_value, new_value, confidence, source, message_id, changed_at
           FROM lead_field_changes WHERE workspace_id = $1 AND lead_id = $2
           ORDER BY changed_at, id""",
        workspace_id,
        lead_id,
    )
    return [dict(r) for r in rows]


@dataclass(frozen=True)
class Member:
    user_id: UUID
    email: str
    role: str
    is_active: bool


async def member(conn: DbConn, workspace_id: UUID, user_id: UUID) -> Member | None:
    row = await conn.fetchrow(
        """SELECT m.user_id, u.email, m.role, m.is_active
           FROM memberships m JOIN users u ON u.id = m.user_id
           WHERE m.workspace_id = $1 AND m.user_id = $2""",
        workspace_id,
        user_id,
    )
    if row is None:
        return None
    return Member(row["user_id"], row["email"], row["role"], row["is_active"])


@dataclass(frozen=True)
class Changed:
    """A lead's status after a change, and when the change happened."""

    status: str
    at: datetime


async def assign(conn: DbConn, workspace_id: UUID, lead_id: UUID, assignee: Member) -> Changed:
    """Give the lead to ``assignee``; a lead still in the pipeline becomes assigned."""
    row = await conn.fetchrow(
        """UPDATE leads SET assigned_to = $3, assigned_at = now(),
               status = CASE WHEN status IN ('capturing', 'qualified') THEN 'assigned'
                             ELSE status END
           WHERE workspace_id = $1 AND id = $2 RETURNING status, assigned_at""",
        workspace_id,
        lead_id,
        assignee.user_id,
    )
    assert row is not None
    if assignee.role == "vendor":
        # Round robin then picks the vendors who got nothing lately first.
        await conn.execute(
            """UPDATE memberships SET last_assigned_at = now()
               WHERE workspace_id = $1 AND user_id = $2""",
            workspace_id,
            assignee.user_id,
        )
    return Changed(row["status"], row["assigned_at"])


async def release(conn: DbConn, workspace_id: UUID, lead_id: UUID) -> Changed:
    """Nobody's lead again: an assigned lead goes back to where the pipeline left it."""
    row = await conn.fetchrow(
        """UPDATE leads SET assigned_to = NULL, assigned_at = NULL,
               status = CASE WHEN status <> 'assigned' THEN status
                             WHEN qualified_at IS NULL THEN 'capturing'
                             ELSE 'qualified' END
           WHERE workspace_id = $1 AND id = $2 RETURNING status, now() AS at""",
        workspace_id,
        lead_id,
    )
    assert row is not None
    return Changed(row["status"], row["at"])


async def set_status(conn: DbConn, workspace_id: UUID, lead_id: UUID, status: str) -> datetime:
    at: datetime = await conn.fetchval(
        """UPDATE leads SET status = $3,
               qualified_at = CASE WHEN $3 = 'qualified' THEN COALESCE(qualified_at, now())
                                   ELSE qualified_at END
           WHERE workspace_id = $1 AND id = $2 RETURNING now()""",
        workspace_id,
        lead_id,
        status,
    )
    return at


async def is_visible(
    conn: DbConn, workspace_id: UUID, lead_id: UUID, vendor_id: UUID | None
) -> bool:
    found = await conn.fetchval(
        """SELECT 1 FROM leads WHERE workspace_id = $1 AND id = $2
             AND ($3::uuid IS NULL OR assigned_to = $3)""",
        workspace_id,
        lead_id,
        vendor_id,
    )
    return found is not None


async def add_note(
    conn: DbConn, workspace_id: UUID, lead_id: UUID, author_id: UUID | None, body: str
) -> dict[str, Any]:
    row = await conn.fetchrow(
        """WITH note AS (
               INSERT INTO lead_notes (workspace_id, lead_id, author_id, body)
               VALUES ($1, $2, $3, $4) RETURNING id, author_id, body, created_at)
           SELECT note.id, note.author_id, u.email AS author_email, note.body, note.created_at
           FROM note LEFT JOIN users u ON u.id = note.author_id""",
        workspace_id,
        lead_id,
        author_id,
        body,
    )
    assert row is not None
    return dict(row)


@dataclass(frozen=True)
class Chat:
    """Where a message to a lead goes."""

    bot_id: UUID
    chat_jid: str
    bot_status: str


async def chat(
    conn: DbConn, workspace_id: UUID, lead_id: UUID, vendor_id: UUID | None
) -> Chat | None:
    row = await conn.fetchrow(
        """SELECT l.bot_id, l.chat_jid, b.status
           FROM leads l JOIN bots b ON b.workspace_id = l.workspace_id AND b.id = l.bot_id
           WHERE l.workspace_id = $1 AND l.id = $2
             AND ($3::uuid IS NULL OR l.assigned_to = $3)""",
        workspace_id,
        lead_id,
        vendor_id,
    )
    return Chat(row["bot_id"], row["chat_jid"], row["status"]) if row else None
