"""Session workers share bots by leases and take over a dead worker's bots.

Three worker processes, sixty simulated bots: each worker holds its share; after a
SIGKILL the dead worker's bots are live elsewhere within 10 s, and the messages customers
sent them meanwhile are stored once and answered once.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest

from relay_common.bus import Bus
from relay_common.contract import SimulatedCustomerWrote
from relay_common.contract import subjects as s
from relay_common.db import create_pool
from relay_common.provisioning import create_bot, create_workspace
from relay_common.testing.waiting import eventually
from relay_session_worker.membership import LeaseTiming, Membership

BOTS = 60
WORKERS = 3


@pytest.mark.timeout(240)
async def test_bots_spread_and_move_off_a_killed_worker(
    own_database: str, bus: Bus, start_service: Any
) -> None:
    # Its own database: the workers run every bot they find, and only these are counted.
    pool = await create_pool(own_database, max_size=4)
    try:
        await _spread_and_move(pool, bus, start_service, own_database)
    finally:
        await pool.close()


async def _spread_and_move(
    pool: asyncpg.Pool, bus: Bus, start_service: Any, database_url: str
) -> None:
    async with pool.acquire() as conn:
        ws = await create_workspace(conn, "Fleet", f"fleet-{uuid4().hex[:6]}@example.com")
        bots = [await create_bot(conn, ws.workspace_id, f"bot {i}") for i in range(BOTS)]
    fleet = set(bots)
    observer = Membership(bus, "test-observer", 0, LeaseTiming())
    await observer.open()

    await start_service("lead-service", DATABASE_URL=database_url)
    await start_service("ai-worker", DATABASE_URL=database_url)
    workers = {}
    for i in range(WORKERS):
        proc = await start_service(
            "session-worker", RELAY_INSTANCE_ID=f"worker-{i}", DATABASE_URL=database_url
        )
        workers[f"worker-{i}"] = proc

    async def balanced() -> dict[str, int] | None:
        holders = {b: w for b, w in (await observer.holders()).items() if b in fleet}
        counts = Counter(holders.values())
        if len(holders) == BOTS and all(abs(counts[w] - BOTS / WORKERS) <= 2 for w in workers):
            return dict(counts)
        return None

    counts = await eventually(balanced, within_s=90, what="60 bots spread over 3 workers")
    assert sum(counts.values()) == BOTS

    async def all_connected() -> bool:
        n = await pool.fetchval(
            "SELECT count(*) FROM bots WHERE id = ANY($1::uuid[]) AND runtime_state = 'connected'",
            bots,
        )
        return bool(n == BOTS)

    await eventually(all_connected, within_s=30, what="every session connected")

    deliveries: list[dict[str, Any]] = []

    async def on_delivery(msg: Any) -> None:
        deliveries.append(json.loads(msg.data))

    await bus.nc.subscribe(
        s.SIMNET_DELIVERY.for_workspace(bus.prefix, ws.workspace_id), cb=on_delivery
    )

    victim = "worker-0"
    holders = await observer.holders()
    orphans = sorted(b for b, w in holders.items() if w == victim and b in fleet)
    assert len(orphans) >= BOTS // WORKERS - 2
    workers[victim].proc.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()

    # Customers write while the bots have no live session.
    wa_ids: dict[UUID, str] = {}
    for i, bot_id in enumerate(orphans):
        wa_ids[bot_id] = f"GAP{uuid4().hex.upper()}"
        await bus.publish(
            SimulatedCustomerWrote(
                workspace_id=ws.workspace_id,
                bot_id=bot_id,
                customer_phone=f"+3460010{i:04d}",
                whatsapp_message_id=wa_ids[bot_id],
                text="Hello, anyone there?",
                sent_at=datetime.now(UTC),
            )
        )

    async def moved() -> float | None:
        now_holders = await observer.holders()
        took_over = all(now_holders.get(b) not in (None, victim) for b in orphans)
        return time.monotonic() - killed_at if took_over else None

    moved_after = await eventually(moved, within_s=15, what="orphaned bots taken over")
    assert moved_after < 10.0, f"took {moved_after:.1f} s"

    async def answered() -> bool:
        rows = await pool.fetch(
            """SELECT bot_id, origin, count(*) AS n FROM lead_messages
               WHERE bot_id = ANY($1::uuid[]) GROUP BY bot_id, origin""",
            orphans,
        )
        got = {(r["bot_id"], r["origin"]): r["n"] for r in rows}
        return all(got.get((b, "customer")) == 1 and got.get((b, "bot")) == 1 for b in orphans)

    await eventually(answered, within_s=60, what="each gap message answered")
    await asyncio.sleep(3)  # a late duplicate would show up by now
    rows = await pool.fetch(
        """SELECT bot_id, origin, whatsapp_message_id FROM lead_messages
           WHERE bot_id = ANY($1::uuid[])""",
        orphans,
    )
    customer = {r["bot_id"]: r["whatsapp_message_id"] for r in rows if r["origin"] == "customer"}
    assert customer == wa_ids
    assert Counter(r["bot_id"] for r in rows if r["origin"] == "bot") == dict.fromkeys(orphans, 1)
    delivered = [d for d in deliveries if UUID(d["bot_id"]) in wa_ids]
    assert len(delivered) == len(orphans)
    assert len({d["whatsapp_message_id"] for d in delivered}) == len(orphans)
