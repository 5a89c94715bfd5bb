"""`relay bench sse`: how long a bus event takes to reach every open event stream.

One gateway process, N browsers (raw HTTP connections, cheap enough to open thousands
from one process), then events published on the bus one after another: for each, the
time from publish to receipt at every client. The clients run on the same machine as
the gateway, so they share its cores.
"""

from __future__ import annotations

import asyncio
import os
import re
import resource
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from relay_cli.bench import BenchEnv, bench_env, rss_mib, wait_until
from relay_common.contract import BotStatus, BotUpdated
from relay_common.embedded import free_port
from relay_common.provisioning import create_bot
from relay_gateway.auth import COOKIE, KeyRing

JWT_SECRET = "relay-bench-signing-key-of-at-least-32-bytes"
MARK = re.compile(rb'"name":"bench-(\d+)"')
CONNECT_AT_ONCE = 200


@dataclass
class BenchClient:
    received: dict[int, float] = field(default_factory=dict)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    failed: str | None = None


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raise_open_files_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(needed, soft)), hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft < needed:
        raise SystemExit(f"needs {needed} open files; the limit here is {soft} (ulimit -n)")


async def listen(port: int, cookie: str, client: BenchClient) -> None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as error:
        client.failed = str(error)
        client.ready.set()
        return
    writer.write(
        f"GET /api/v1/events HTTP/1.1\r\nHost: bench\r\nCookie: {COOKIE}={cookie}\r\n\r\n".encode()
    )
    tail = b""
    answered = False
    try:
        while chunk := await reader.read(65536):
            now = time.monotonic()
            data = tail + chunk
            if not answered:
                answered = True
                if not data.startswith(b"HTTP/1.1 200"):
                    client.failed = data[:200].decode(errors="replace")
                    client.ready.set()
                    return
            if not client.ready.is_set() and b"event: INIT_LEADS" in data:
                client.ready.set()
            for match in MARK.finditer(data):
                client.received.setdefault(int(match.group(1)), now)
            tail = data[-64:]
    finally:
        writer.close()


async def bench_sse(clients_n: int, events: int, gap_s: float) -> dict[str, float | int]:
    raise_open_files_limit(clients_n + 1000)
    async with bench_env() as bench:
        return await _run(bench, clients_n, events, gap_s)


async def _run(
    bench: BenchEnv, clients_n: int, events: int, gap_s: float
) -> dict[str, float | int]:
    async with bench.pool.acquire() as conn:
        bot = await create_bot(conn, bench.workspace_id, "Bench bot")
        owner = await conn.fetchval(
            "SELECT user_id FROM memberships WHERE workspace_id = $1", bench.workspace_id
        )
    port = free_port()
    gateway = await bench.start(
        "gateway",
        PORT=str(port),
        GATEWAY_JWT_SECRET=JWT_SECRET,
        GATEWAY_REQUESTS_PER_MINUTE=str(10**9),
        GATEWAY_SSE_HEARTBEAT_S="600",
        DB_POOL_MAX="20",
    )
    await gateway.wait_ready(f"http://127.0.0.1:{port}", within_s=60)
    cookie, _ = KeyRing(JWT_SECRET).issue(owner, "bench@example.com", bench.workspace_id, 1)
    idle_rss = rss_mib(gateway.pid)

    clients = [BenchClient() for _ in range(clients_n)]
    tasks: list[asyncio.Task[None]] = []
    started = time.monotonic()
    for first in range(0, clients_n, CONNECT_AT_ONCE):
        batch = clients[first : first + CONNECT_AT_ONCE]
        tasks += [asyncio.create_task(listen(port, cookie, c)) for c in batch]
        await asyncio.wait_for(asyncio.gather(*(c.ready.wait() for c in batch)), 120)
        failed = [c.failed for c in batch if c.failed]
        if failed:
            raise SystemExit(f"{len(failed)} streams failed to open: {failed[0]}")
    connect_s = time.monotonic() - started
    print(f"{clients_n} streams open in {connect_s:.1f} s", file=sys.stderr)

    latencies: list[float] = []
    gateway_cpu, own_cpu = cpu_seconds(gateway.pid), time.process_time()
    for i in range(events):
        published = time.monotonic()
        await bench.bus.publish(
            BotUpdated(
                workspace_id=bench.workspace_id,
                bot_id=bot,
                name=f"bench-{i}",
                status=BotStatus.ENABLED,
                changed=["name"],
            )
        )

        async def everyone_has(i: int = i) -> bool:
            return all(i in c.received for c in clients)

        await wait_until(everyone_has, 120, f"event {i} at every client")
        times = [c.received[i] - published for c in clients]
        latencies += times
        print(
            f"event {i}: first client after {min(times) * 1000:.0f} ms, "
            f"last after {max(times) * 1000:.0f} ms",
            file=sys.stderr,
        )
        await asyncio.sleep(gap_s)
    gateway_cpu = (cpu_seconds(gateway.pid) - gateway_cpu) / events
    own_cpu = (time.process_time() - own_cpu) / events
    loaded_rss = rss_mib(gateway.pid)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    ms = sorted(t * 1000 for t in latencies)
    return {
        "clients": clients_n,
        "events": events,
        "p50_ms": round(statistics.median(ms), 1),
        "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 1),
        "max_ms": round(ms[-1], 1),
        "connect_s": round(connect_s, 2),
        "gateway_rss_mib": round(loaded_rss, 1),
        "gateway_idle_rss_mib": round(idle_rss, 1),
        "gateway_cpu_ms_per_event": round(gateway_cpu * 1000, 1),
        "clients_cpu_ms_per_event": round(own_cpu * 1000, 1),
    }
