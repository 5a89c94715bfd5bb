"""The audit log: who did what to which thing, when. Written in the transaction of the
change itself, so the log never claims a change that did not happen."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from relay_common.db import DbConn
from relay_gateway.repo.principals import Principal


async def record(
    conn: DbConn,
    principal: Principal,
    action: str,
    target_type: str,
    target_id: object | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        """INSERT INTO audit_log (workspace_id, actor_user_id, actor_email, actor_api_key,
                                  action, target_type, target_id, details)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        principal.workspace_id,
        principal.user_id,
        principal.email,
        principal.api_key_id,
        action,
        target_type,
        None if target_id is None else str(target_id),
        details or {},
    )


async def list_entries(
    pool: asyncpg.Pool,
    workspace_id: UUID,
    *,
    limit: int,
    before: int | None = None,
    action: str | None = None,
    target_type: str | None = None,
) -> list[dict[str, Any]]:
    """The workspace's entries, newest first; ``before`` an id, for the next page."""
    rows = await pool.fetch(
        """SELECT id, at, actor_user_id, actor_email, actor_api_key, action, target_type,
                  target_id, details
           FROM audit_log
           WHERE workspace_id = $1 AND ($2::bigint IS NULL OR id < $2)
             AND ($3::text IS NULL OR action = $3)
             AND ($4::text IS NULL OR target_type = $4)
           ORDER BY id DESC LIMIT $5""",
        workspace_id,
        before,
        action,
        target_type,
        limit,
    )
    return [dict(r) for r in rows]
