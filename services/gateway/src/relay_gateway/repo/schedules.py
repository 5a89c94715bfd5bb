"""SQL about timed actions on bots (the scheduler service carries them out)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from relay_common.db import DbConn

SCHEDULE_COLUMNS = """id, bot_id, action, run_at, cron, time_zone, status, created_by,
    created_at, executed_at, result"""


async def count_pending(conn: DbConn, workspace_id: UUID, bot_id: UUID) -> int:
    found: int = await conn.fetchval(
        """SELECT count(*) FROM schedules
           WHERE workspace_id = $1 AND bot_id = $2 AND status = 'pending'""",
        workspace_id,
        bot_id,
    )
    return found


async def create_schedule(
    conn: DbConn,
    workspace_id: UUID,
    bot_id: UUID,
    *,
    action: str,
    run_at: datetime,
    time_zone: str,
    created_by: UUID | None,
) -> dict[str, Any]:
    row = await conn.fetchrow(
        f"""INSERT INTO schedules (workspace_id, bot_id, action, run_at, time_zone, created_by)
            VALUES ($1, $2, $3, $4, $5, $6) RETURNING {SCHEDULE_COLUMNS}""",
        workspace_id,
        bot_id,
        action,
        run_at,
        time_zone,
        created_by,
    )
    assert row is not None
    return dict(row)


async def list_schedules(
    pool: asyncpg.Pool, workspace_id: UUID, bot_id: UUID, limit: int
) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        f"""SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE workspace_id = $1 AND bot_id = $2
            ORDER BY run_at DESC, created_at DESC, id LIMIT $3""",
        workspace_id,
        bot_id,
        limit,
    )
    return [dict(r) for r in rows]


async def lock_schedule(
    conn: DbConn, workspace_id: UUID, bot_id: UUID, schedule_id: UUID
) -> dict[str, Any] | None:
    """The schedule, locked: waits while the scheduler carries it out, then sees the outcome."""
    row = await conn.fetchrow(
        f"""SELECT {SCHEDULE_COLUMNS} FROM schedules
            WHERE workspace_id = $1 AND bot_id = $2 AND id = $3 FOR UPDATE""",
        workspace_id,
        bot_id,
        schedule_id,
    )
    return dict(row) if row else None


async def cancel_schedule(
    conn: DbConn, workspace_id: UUID, bot_id: UUID, schedule_id: UUID
) -> dict[str, Any]:
    row = await conn.fetchrow(
        f"""UPDATE schedules SET status = 'cancelled'
            WHERE workspace_id = $1 AND bot_id = $2 AND id = $3 RETURNING {SCHEDULE_COLUMNS}""",
        workspace_id,
        bot_id,
        schedule_id,
    )
    assert row is not None
    return dict(row)
