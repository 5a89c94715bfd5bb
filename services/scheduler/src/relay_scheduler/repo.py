"""SQL of the scheduler."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import asyncpg

from relay_common.contract import BotStatus, BotUpdated, ScheduleChanged
from relay_common.outbox import stage
from relay_scheduler.domain import BOT_STATUS_FOR_ACTION


@dataclass(frozen=True)
class Executed:
    schedule_id: UUID
    workspace_id: UUID
    bot_id: UUID
    action: str
    status: BotStatus
    changed: bool
    """False when the bot already had that status."""


async def execute_due(pool: asyncpg.Pool, batch: int, bus_prefix: str) -> list[Executed]:
    """Carry out due schedules once each; replicas skip rows another one holds.

    The bot's new status and the schedule's outcome are announced (``bot.updated``,
    ``bot.schedule``) through the outbox, in the same transaction."""
    executed = []
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            """SELECT id, workspace_id, bot_id, action, run_at, cron, time_zone, created_by
               FROM schedules
               WHERE status = 'pending' AND run_at <= now()
               ORDER BY run_at LIMIT $1 FOR UPDATE SKIP LOCKED""",
            batch,
        )
        for row in rows:
            status = BotStatus(BOT_STATUS_FOR_ACTION[row["action"]])
            bot = await conn.fetchrow(
                """WITH before AS (
                       SELECT id, status FROM bots WHERE workspace_id = $1 AND id = $2
                       FOR UPDATE)
                   UPDATE bots b SET status = $3, updated_at = now() FROM before
                   WHERE b.id = before.id
                   RETURNING b.name, before.status AS previous""",
                row["workspace_id"],
                row["bot_id"],
                status.value,
            )
            assert bot is not None  # schedules go with their bot (ON DELETE CASCADE)
            await conn.execute(
                """UPDATE schedules SET status = 'done', executed_at = now(), result = 'ok'
                   WHERE id = $1""",
                row["id"],
            )
            changed = bot["previous"] != status.value
            schedule = ScheduleChanged.of(dict(row), "done", changed_by=row["created_by"])
            await stage(conn, bus_prefix, schedule)
            if changed:
                await stage(
                    conn,
                    bus_prefix,
                    schedule.caused(
                        BotUpdated,
                        name=bot["name"],
                        status=status,
                        changed=["status"],
                        updated_by=row["created_by"],
                    ),
                )
            executed.append(
                Executed(
                    row["id"], row["workspace_id"], row["bot_id"], row["action"], status, changed
                )
            )
    return executed
