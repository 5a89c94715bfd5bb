"""schemathesis against the signed-in API: no 5xx, every response as documented.

Bounded (20 examples per operation, fixed seed) so it fits in CI."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import pytest

from relay_common.embedded import free_port
from relay_common.provisioning import create_bot, create_workspace
from relay_common.testing.gateway import sign_in

ST = str(Path(sys.executable).with_name("st"))


@pytest.mark.timeout(400)
async def test_api_matches_its_schema_and_never_fails(
    own_database: str, start_service: Any
) -> None:
    email = f"schema-{uuid4().hex[:6]}@example.com"
    # Its own database: the fuzzed bot's simulated traffic must not reach other tests.
    conn = await asyncpg.connect(own_database)
    try:
        ws = await create_workspace(conn, "Schema", email)
        await create_bot(conn, ws.workspace_id, "Fuzzed bot")
    finally:
        await conn.close()
    port = free_port()
    gateway = await start_service("gateway", PORT=str(port), DATABASE_URL=own_database)
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        await gateway.wait_ready(base)
        await sign_in(client, email)
        cookie = client.cookies["relay_session"]
        csrf = client.cookies["relay_csrf"]
    proc = await asyncio.create_subprocess_exec(
        ST,
        "run",
        f"{base}/api/openapi.json",
        "-H",
        f"Cookie: relay_session={cookie}",
        "-H",
        f"X-CSRF-Token: {csrf}",
        "--checks",
        "not_a_server_error,response_schema_conformance,status_code_conformance,"
        "content_type_conformance",
        "--phases",
        "examples,fuzzing",
        "--max-examples",
        "20",
        "--seed",
        "1",
        # The event stream never ends by design; it has tests of its own.
        "--exclude-operation-id",
        "stream_events",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 380)
    assert proc.returncode == 0, out.decode()[-4000:]
