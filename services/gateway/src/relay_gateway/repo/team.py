"""SQL about the members of a workspace. Every query names the workspace."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from relay_common.db import DbConn

MEMBER_QUERY = """
    SELECT u.id AS user_id, u.email, u.name, m.role, m.is_active, inviter.email AS invited_by,
           m.created_at, u.last_login_at,
           (SELECT count(*) FROM leads l
            WHERE l.workspace_id = m.workspace_id AND l.assigned_to = m.user_id
              AND l.status = 'assigned') AS assigned_leads
    FROM memberships m
    JOIN users u ON u.id = m.user_id
    LEFT JOIN users inviter ON inviter.id = m.invited_by
    WHERE m.workspace_id = $1"""


async def list_members(pool: asyncpg.Pool, workspace_id: UUID) -> list[dict[str, Any]]:
    rows = await pool.fetch(f"{MEMBER_QUERY} ORDER BY m.created_at, u.email", workspace_id)
    return [dict(r) for r in rows]


async def get_member(conn: DbConn, workspace_id: UUID, user_id: UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"{MEMBER_QUERY} AND m.user_id = $2", workspace_id, user_id)
    return dict(row) if row else None


@dataclass(frozen=True)
class Membership:
    user_id: UUID
    email: str
    role: str
    is_active: bool


async def lock_member(conn: DbConn, workspace_id: UUID, user_id: UUID) -> Membership | None:
    """The membership, locked until the transaction ends; None if not a member here."""
    row = await conn.fetchrow(
        """SELECT m.user_id, u.email, m.role, m.is_active
           FROM memberships m JOIN users u ON u.id = m.user_id
           WHERE m.workspace_id = $1 AND m.user_id = $2 FOR UPDATE OF m""",
        workspace_id,
        user_id,
    )
    return Membership(**dict(row)) if row else None


@dataclass(frozen=True)
class VendorSeats:
    limit: int
    used: int

    @property
    def full(self) -> bool:
        return self.used >= self.limit


async def lock_vendor_seats(conn: DbConn, workspace_id: UUID) -> VendorSeats:
    """The plan's vendor seats and the active vendors taking them.

    Locks the subscription row, so concurrent invitations take seats one at a time."""
    limit: int | None = await conn.fetchval(
        "SELECT vendor_limit FROM subscriptions WHERE workspace_id = $1 FOR UPDATE",
        workspace_id,
    )
    used: int = await conn.fetchval(
        """SELECT count(*) FROM memberships
           WHERE workspace_id = $1 AND role = 'vendor' AND is_active""",
        workspace_id,
    )
    return VendorSeats(limit=1 if limit is None else limit, used=used)


async def ensure_user(conn: DbConn, email: str, name: str | None) -> UUID:
    """The user with ``email``, created if new (their name filled in if unknown)."""
    user_id: UUID = await conn.fetchval(
        """INSERT INTO users (email, name) VALUES ($1, $2)
           ON CONFLICT (email) DO UPDATE SET name = COALESCE(users.name, EXCLUDED.name)
           RETURNING id""",
        email,
        name,
    )
    return user_id


async def add_member(
    conn: DbConn, workspace_id: UUID, user_id: UUID, role: str, invited_by: UUID | None
) -> bool:
    """False if ``user_id`` is already a member (active or not)."""
    added: UUID | None = await conn.fetchval(
        """INSERT INTO memberships (workspace_id, user_id, role, invited_by)
           VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING user_id""",
        workspace_id,
        user_id,
        role,
        invited_by,
    )
    return added is not None


async def update_member(
    conn: DbConn, workspace_id: UUID, user_id: UUID, role: str, is_active: bool
) -> None:
    await conn.execute(
        """UPDATE memberships SET role = $3, is_active = $4
           WHERE workspace_id = $1 AND user_id = $2""",
        workspace_id,
        user_id,
        role,
        is_active,
    )


async def delete_member(conn: DbConn, workspace_id: UUID, user_id: UUID) -> None:
    await conn.execute(
        "DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2", workspace_id, user_id
    )


@dataclass(frozen=True)
class ReleasedLead:
    lead_id: UUID
    bot_id: UUID
    previous_status: str
    status: str
    at: datetime


async def release_leads(conn: DbConn, workspace_id: UUID, user_id: UUID) -> list[ReleasedLead]:
    """Unassigns the member's leads; those being worked on go back to qualified, for
    another vendor to take (and to be flagged as unclaimed again)."""
    rows = await conn.fetch(
        """WITH held AS (
               SELECT id, status FROM leads
               WHERE workspace_id = $1 AND assigned_to = $2 FOR UPDATE)
           UPDATE leads l SET
               assigned_to = NULL,
               assigned_at = CASE WHEN held.status = 'assigned' THEN NULL ELSE l.assigned_at END,
               unclaimed_at = CASE WHEN held.status = 'assigned' THEN NULL ELSE l.unclaimed_at END,
               status = CASE WHEN held.status = 'assigned' THEN 'qualified' ELSE l.status END
           FROM held
           WHERE l.workspace_id = $1 AND l.id = held.id
           RETURNING l.id, l.bot_id, held.status AS previous_status, l.status, now() AS at""",
        workspace_id,
        user_id,
    )
    return [
        ReleasedLead(r["id"], r["bot_id"], r["previous_status"], r["status"], r["at"]) for r in rows
    ]
