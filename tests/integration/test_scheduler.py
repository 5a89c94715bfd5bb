from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import asyncpg

from relay_common.provisioning import create_bot, create_workspace
from relay_scheduler.repo import execute_due


async def test_due_schedules_change_the_bot_once_and_future_ones_wait(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        ws = await create_workspace(conn, "Sched", f"s-{uuid4().hex[:6]}@example.com")
        bot = await create_bot(conn, ws.workspace_id, "bot")
        insert = """INSERT INTO schedules (workspace_id, bot_id, action, run_at)
                    VALUES ($1, $2, $3, now() + $4) RETURNING id"""
        due = await conn.fetchval(insert, ws.workspace_id, bot, "pause", timedelta(minutes=-1))
        later = await conn.fetchval(insert, ws.workspace_id, bot, "disable", timedelta(hours=1))

    executed = [e for e in await execute_due(pool, 100) if e.bot_id == bot]
    assert [e.schedule_id for e in executed] == [due]
    assert await pool.fetchval("SELECT status FROM bots WHERE id = $1", bot) == "paused"
    assert [e for e in await execute_due(pool, 100) if e.bot_id == bot] == []
    rows = await pool.fetch("SELECT id, status FROM schedules WHERE bot_id = $1", bot)
    statuses = {row["id"]: row["status"] for row in rows}
    assert statuses == {due: "done", later: "pending"}
