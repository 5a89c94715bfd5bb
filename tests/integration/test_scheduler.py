from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from uuid import uuid4

import asyncpg
import pytest

from relay_common.bus import Bus
from relay_common.contract import subjects as s
from relay_common.provisioning import create_bot, create_workspace
from relay_common.testing.waiting import eventually
from relay_scheduler.repo import execute_due


async def test_due_schedules_change_the_bot_once_and_future_ones_wait(
    pool: asyncpg.Pool, bus: Bus
) -> None:
    async with pool.acquire() as conn:
        ws = await create_workspace(conn, "Sched", f"s-{uuid4().hex[:6]}@example.com")
        bot = await create_bot(conn, ws.workspace_id, "bot")
        insert = """INSERT INTO schedules (workspace_id, bot_id, action, run_at)
                    VALUES ($1, $2, $3, now() + $4) RETURNING id"""
        due = await conn.fetchval(insert, ws.workspace_id, bot, "pause", timedelta(minutes=-1))
        later = await conn.fetchval(insert, ws.workspace_id, bot, "disable", timedelta(hours=1))

    executed = [e for e in await execute_due(pool, 100, bus.prefix) if e.bot_id == bot]
    assert [e.schedule_id for e in executed] == [due]
    assert executed[0].changed
    assert await pool.fetchval("SELECT status FROM bots WHERE id = $1", bot) == "paused"
    assert [e for e in await execute_due(pool, 100, bus.prefix) if e.bot_id == bot] == []
    rows = await pool.fetch("SELECT id, status FROM schedules WHERE bot_id = $1", bot)
    statuses = {row["id"]: row["status"] for row in rows}
    assert statuses == {due: "done", later: "pending"}

    staged = await pool.fetch(
        "SELECT subject, payload FROM outbox WHERE subject LIKE $1 ORDER BY id",
        f"%.{bot}",
    )
    payloads = {row["subject"]: json.loads(row["payload"]) for row in staged}
    schedule = payloads[s.BOT_SCHEDULE.for_bot(bus.prefix, ws.workspace_id, bot)]
    assert (schedule["schedule_id"], schedule["status"]) == (str(due), "done")
    updated = payloads[s.BOT_UPDATED.for_bot(bus.prefix, ws.workspace_id, bot)]
    assert (updated["status"], updated["changed"]) == ("paused", ["status"])


@pytest.mark.timeout(120)
async def test_the_scheduler_service_announces_what_it_did(
    pool: asyncpg.Pool, bus: Bus, start_service: Any
) -> None:
    async with pool.acquire() as conn:
        ws = await create_workspace(conn, "Sched", f"s-{uuid4().hex[:6]}@example.com")
        bot = await create_bot(conn, ws.workspace_id, "bot")
        await conn.execute(
            """INSERT INTO schedules (workspace_id, bot_id, action, run_at)
               VALUES ($1, $2, 'disable', now())""",
            ws.workspace_id,
            bot,
        )
    seen: list[dict[str, Any]] = []

    async def collect(msg: Any) -> None:
        seen.append(json.loads(msg.data))

    sub = await bus.nc.subscribe(s.BOTS.workspace_wildcard(bus.prefix, ws.workspace_id), cb=collect)
    try:
        await start_service("scheduler", SCHEDULER_POLL_S="0.2")

        async def both() -> bool:
            return len(seen) >= 2

        await eventually(both, what="bot.schedule and bot.updated published")
        assert {("status" in e and "schedule_id" in e) for e in seen} == {True, False}
        assert any(e.get("changed") == ["status"] and e["status"] == "disabled" for e in seen)
    finally:
        await sub.unsubscribe()
