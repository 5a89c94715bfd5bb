"""SQL of the scheduler."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import asyncpg

from relay_scheduler.domain import BOT_STATUS_FOR_ACTION


@dataclass(frozen=True)
class Executed:
    schedule_id: UUID
    workspace_id: UUID
    bot_id: UUID
    action: str


async def execute_due(pool: asyncpg.Pool, batch: int) -> list[Executed]:
    """Carry out due schedules once each; replicas skip rows another one holds."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            """SELECT id, workspace_id, bot_id, action FROM schedules
               WHERE status = 'pending' AND run_at <= now()
               ORDER BY run_at LIMIT $1 FOR UPDATE SKIP LOCKED""",
            batch,
        )
        for row in rows:
            await conn.execute(
                """UPDATE bots SET status = $3, updated_at = now()
                   WHERE workspace_id = $1 AND id = $2""",
                row["workspace_id"],
                row["bot_id"],
                BOT_STATUS_FOR_ACTION[row["action"]],
            )
            await conn.execute(
                """UPDATE schedules SET status = 'done', executed_at = now(), result = 'ok'
                   WHERE id = $1""",
                row["id"],
            )
    return [Executed(r["id"], r["workspace_id"], r["bot_id"], r["action"]) for r in rows]
