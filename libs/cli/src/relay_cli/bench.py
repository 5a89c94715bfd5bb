"""`relay bench`: session workers measured with real processes, NATS and PostgreSQL.

Each benchmark makes its own database and bus prefix on the servers `local_servers`
finds (``NATS_URL``/``DATABASE_URL``, local ports, or embedded ones), prints what it
measures, and ends with one JSON line.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import asyncpg

from relay_common.bus import Bus, connect_bus
from relay_common.contract import SimulatedCustomerWrote
from relay_common.contract import subjects as s
from relay_common.db import apply_migrations, create_pool
from relay_common.embedded import drop_database, ensure_database, local_servers
from relay_common.provisioning import create_bot, create_workspace
from relay_common.testing.processes import ServiceProcess
from relay_session_worker.membership import LeaseTiming, Membership


@dataclass
class BenchEnv:
    pool: asyncpg.Pool
    bus: Bus
    env: dict[str, str]
    logs: Path
    workspace_id: UUID
    procs: list[ServiceProcess]

    async def start(self, service: str, **env: str) -> ServiceProcess:
        proc = ServiceProcess(
            service, self.env | env, self.logs / f"{service}-{len(self.procs)}.log"
        )
        await proc.start()
        self.procs.append(proc)
        return proc

    async def bots(self, n: int) -> list[UUID]:
        async with self.pool.acquire() as conn:
            return [await create_bot(conn, self.workspace_id, f"bench {i}") for i in range(n)]

    def all_connected(self, bots: list[UUID]) -> Callable[[], Awaitable[bool]]:
        async def probe() -> bool:
            count = await self.pool.fetchval(
                """SELECT count(*) FROM bots
                   WHERE id = ANY($1::uuid[]) AND runtime_state = 'connected'""",
                bots,
            )
            return bool(count == len(bots))

        return probe


@asynccontextmanager
async def bench_env() -> AsyncIterator[BenchEnv]:
    scratch = Path(tempfile.mkdtemp(prefix="relay-bench-"))
    servers = local_servers(scratch)
    run = uuid.uuid4().hex[:8]
    database = f"relay_bench_{run}"
    url = await ensure_database(servers.admin_database_url, database)
    await apply_migrations(url)
    pool = await create_pool(url, max_size=5)
    prefix = f"bench{run}"
    bus = await connect_bus(servers.nats_url, prefix, "relay-bench")
    await bus.ensure_streams()
    async with pool.acquire() as conn:
        workspace = await create_workspace(conn, "Bench", f"bench-{run}@example.com")
    env = {
        "NATS_URL": servers.nats_url,
        "DATABASE_URL": url,
        "RELAY_BUS_PREFIX": prefix,
        "LOG_LEVEL": "WARNING",
    }
    bench = BenchEnv(pool, bus, env, scratch, workspace.workspace_id, [])
    try:
        yield bench
    finally:
        await asyncio.gather(*(p.stop() for p in bench.procs), return_exceptions=True)
        for stream in (*s.STREAMS, s.FEED):
            with suppress(Exception):
                await bus.js.delete_stream(stream.full_name(prefix))
        for bucket in (s.SERVICES_BUCKET, s.WORKERS_BUCKET, s.LEASES_BUCKET):
            with suppress(Exception):
                await bus.js.delete_key_value(s.stream_name(prefix, bucket))
        await bus.close()
        await pool.close()
        await drop_database(servers.admin_database_url, database)
        servers.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


async def wait_until(probe: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> float:
    """Seconds until ``probe()`` is true; raises after ``timeout_s``."""
    started = time.monotonic()
    while not await probe():
        if time.monotonic() - started > timeout_s:
            raise TimeoutError(f"{what} not reached within {timeout_s:g} s")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def bench_sessions(sessions: int) -> dict[str, float | int]:
    """Memory per idle simulated session and the time to start them, in one worker."""
    async with bench_env() as bench:
        worker = await bench.start("session-worker", SESSION_WORKER_CAPACITY=str(sessions + 10))
        observer = Membership(bench.bus, "bench", 0, LeaseTiming())
        await observer.open()

        async def announced() -> bool:
            return bool(await observer.live_workers())

        await wait_until(announced, 60, "the worker announcing itself")
        await asyncio.sleep(2)
        base = rss_mib(worker.pid)
        print(f"worker idle: {base:.1f} MiB RSS")
        bots = await bench.bots(sessions)
        start_s = await wait_until(bench.all_connected(bots), 600, f"{sessions} sessions connected")
        print(f"{sessions} sessions connected in {start_s:.2f} s")
        await asyncio.sleep(3)  # let allocations settle
        loaded = rss_mib(worker.pid)
        per = (loaded - base) / sessions
        print(f"worker with {sessions} sessions: {loaded:.1f} MiB RSS, {per:.3f} MiB each")
        return {
            "sessions": sessions,
            "rss_per_session_mib": round(per, 4),
            "start_s": round(start_s, 3),
        }


async def bench_failover(bots_n: int, workers_n: int) -> dict[str, float | int]:
    """Time for a killed and for a stopped worker's bots to be live elsewhere; lost messages."""
    async with bench_env() as bench:
        await bench.start("lead-service")
        workers = [
            await bench.start("session-worker", RELAY_INSTANCE_ID=f"bench-worker-{i}")
            for i in range(workers_n)
        ]
        observer = Membership(bench.bus, "bench", 0, LeaseTiming())
        await observer.open()
        bots = await bench.bots(bots_n)

        async def spread() -> bool:
            counts = Counter((await observer.holders()).values())
            even = len(counts) == workers_n and max(counts.values()) - min(counts.values()) <= 2
            return sum(counts.values()) == bots_n and even

        await wait_until(spread, 120, "bots spread over the workers")
        await wait_until(bench.all_connected(bots), 120, "sessions connected")
        spread_now = dict(Counter((await observer.holders()).values()))
        print(f"{bots_n} bots on {workers_n} workers: {spread_now}")

        sent: list[str] = []

        async def move_off(index: int, sig: int) -> float:
            name = f"bench-worker-{index}"
            holders = await observer.holders()
            orphans = [b for b, w in holders.items() if w == name]
            os.kill(workers[index].pid, sig)
            started = time.monotonic()
            for n, bot in enumerate(orphans):
                wa_id = f"BENCH{uuid.uuid4().hex.upper()}"
                sent.append(wa_id)
                await bench.bus.publish(
                    SimulatedCustomerWrote(
                        workspace_id=bench.workspace_id,
                        bot_id=bot,
                        customer_phone=f"+3460{index}{n:06d}",
                        whatsapp_message_id=wa_id,
                        text="are you there?",
                        sent_at=datetime.now(UTC),
                    )
                )

            async def taken() -> bool:
                now = await observer.holders()
                return all(now.get(b) not in (None, name) for b in orphans)

            await wait_until(taken, 60, f"bots of {name} taken over")
            await wait_until(bench.all_connected(orphans), 60, "sessions connected")
            return time.monotonic() - started

        sigkill_s = await move_off(0, signal.SIGKILL)
        print(f"SIGKILL: bots live elsewhere after {sigkill_s:.2f} s")
        sigterm_s = await move_off(1, signal.SIGTERM) if workers_n > 2 else 0.0
        print(f"SIGTERM: bots live elsewhere after {sigterm_s:.2f} s")

        async def stored() -> bool:
            n = await bench.pool.fetchval(
                "SELECT count(*) FROM lead_messages WHERE whatsapp_message_id = ANY($1::text[])",
                sent,
            )
            return bool(n == len(sent))

        with suppress(TimeoutError):
            await wait_until(stored, 60, "gap messages stored")
        found = await bench.pool.fetchval(
            "SELECT count(*) FROM lead_messages WHERE whatsapp_message_id = ANY($1::text[])", sent
        )
        lost = len(sent) - int(found)
        print(f"messages sent during the moves: {len(sent)}, lost: {lost}")
        return {
            "bots": bots_n,
            "sigkill_s": round(sigkill_s, 3),
            "sigterm_s": round(sigterm_s, 3),
            "lost": lost,
        }
