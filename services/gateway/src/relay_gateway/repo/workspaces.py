"""SQL about workspaces: a member's list, the current one with its plan, the platform's."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from relay_common.db import DbConn

# A workspace without a subscription row is on the free plan with its defaults.
PLAN_COLUMNS = """COALESCE(s.plan, 'free') AS plan, COALESCE(s.status, 'active') AS status,
    COALESCE(s.bot_limit, 1) AS bot_limit, COALESCE(s.vendor_limit, 1) AS vendor_limit,
    COALESCE(s.monthly_message_limit, 1000) AS monthly_message_limit"""

ACTIVE_VENDORS = """(SELECT count(*) FROM memberships v
    WHERE v.workspace_id = w.id AND v.role = 'vendor' AND v.is_active)"""


async def list_for_user(pool: asyncpg.Pool, user_id: UUID) -> list[dict[str, Any]]:
    """The workspaces ``user_id`` is an active member of, oldest membership first."""
    rows = await pool.fetch(
        """SELECT w.id, w.name, m.role, COALESCE(s.plan, 'free') AS plan, w.created_at
           FROM memberships m
           JOIN workspaces w ON w.id = m.workspace_id
           LEFT JOIN subscriptions s ON s.workspace_id = w.id
           WHERE m.user_id = $1 AND m.is_active
           ORDER BY m.created_at, w.id""",
        user_id,
    )
    return [dict(r) for r in rows]


async def get_with_plan(pool: asyncpg.Pool, workspace_id: UUID) -> dict[str, Any] | None:
    row = await pool.fetchrow(
        f"""SELECT w.id, w.name, w.created_at, s.current_period_end, {PLAN_COLUMNS},
                  (SELECT count(*) FROM bots b WHERE b.workspace_id = w.id) AS bots,
                  {ACTIVE_VENDORS} AS vendors
           FROM workspaces w LEFT JOIN subscriptions s ON s.workspace_id = w.id
           WHERE w.id = $1""",
        workspace_id,
    )
    return dict(row) if row else None


async def rename(conn: DbConn, workspace_id: UUID, name: str) -> str | None:
    """Renames the workspace; its previous name, None if there is no such workspace."""
    previous: str | None = await conn.fetchval(
        """UPDATE workspaces w SET name = $2 FROM workspaces old
           WHERE w.id = $1 AND old.id = w.id RETURNING old.name""",
        workspace_id,
        name,
    )
    return previous


async def list_all(pool: asyncpg.Pool, limit: int, offset: int) -> list[dict[str, Any]]:
    """Every workspace of the installation, newest first: for platform administrators."""
    rows = await pool.fetch(
        f"""SELECT w.id, w.name, w.created_at, {PLAN_COLUMNS},
                  (SELECT u.email FROM memberships o JOIN users u ON u.id = o.user_id
                   WHERE o.workspace_id = w.id AND o.role = 'owner'
                   ORDER BY o.created_at LIMIT 1) AS owner_email,
                  (SELECT count(*) FROM memberships a
                   WHERE a.workspace_id = w.id AND a.is_active) AS members,
                  {ACTIVE_VENDORS} AS vendors,
                  (SELECT count(*) FROM bots b WHERE b.workspace_id = w.id) AS bots
           FROM workspaces w LEFT JOIN subscriptions s ON s.workspace_id = w.id
           ORDER BY w.created_at DESC, w.id LIMIT $1 OFFSET $2""",
        limit,
        offset,
    )
    return [dict(r) for r in rows]
