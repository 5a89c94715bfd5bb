"""The benchmark commands keep working (their numbers are read by people, not asserted)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

RELAY = str(Path(sys.executable).parent / "relay")


@pytest.mark.timeout(180)
@pytest.mark.parametrize(
    ("args", "keys"),
    [
        (["sessions", "--sessions", "5"], {"sessions", "rss_per_session_mib", "start_s"}),
        (["failover", "--bots", "6", "--workers", "3"], {"bots", "sigkill_s", "sigterm_s", "lost"}),
        (
            ["sse", "--clients", "50", "--events", "3"],
            {"clients", "p50_ms", "p99_ms", "gateway_rss_mib"},
        ),
    ],
)
async def test_bench_prints_a_json_last_line(args: list[str], keys: set[str]) -> None:
    proc = await asyncio.create_subprocess_exec(
        RELAY, "bench", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 170)
    assert proc.returncode == 0, out.decode()[-2000:]
    result = json.loads(out.decode().strip().splitlines()[-1])
    assert keys <= set(result)
    if "lost" in result:
        assert result["lost"] == 0
