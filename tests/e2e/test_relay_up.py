"""`relay up` as a newcomer runs it: embedded NATS and PostgreSQL, six supervised services.

Checks the Done-when list of the foundation: the demo bot answers a simulated customer;
SIGKILL of any one service is healed; Ctrl-C stops everything; data survive a restart.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from relay_common.embedded import free_port
from relay_common.services import SERVICES
from relay_common.testing.gateway import sign_in
from relay_common.testing.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400)]

RELAY = str(Path(sys.executable).parent / "relay")


class RelayUp:
    def __init__(self, data: Path, port: int, log: Path) -> None:
        self.data, self.port, self.log = data, port, log
        self.url = f"http://127.0.0.1:{port}"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "DATABASE_URL")}
        env |= {"PORT": str(self.port), "RELAY_BUS_PREFIX": "relay"}
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                RELAY, "up", "--data-dir", str(self.data), env=env, stdout=out, stderr=out
            )

    def state(self) -> dict[str, Any]:
        try:
            state: dict[str, Any] = json.loads((self.data / "state.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        return state

    async def ready(self) -> bool:
        assert self.proc is not None
        assert self.proc.returncode is None, self.log.read_text()[-3000:]
        try:
            async with httpx.AsyncClient(timeout=2) as client:
                return (await client.get(f"{self.url}/readyz")).status_code == 200
        except httpx.TransportError:
            return False

    async def interrupt(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        return await asyncio.wait_for(self.proc.wait(), 90)


@pytest.fixture
async def relay_up(tmp_path: Path) -> AsyncIterator[RelayUp]:
    run = RelayUp(tmp_path / "data", free_port(), tmp_path / "relay-up.log")
    yield run
    if run.proc is not None and run.proc.returncode is None:
        await run.interrupt()


async def _signed_in(url: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=url, timeout=10)
    await sign_in(client, "dev@relay.local")
    return client


async def _answered(client: httpx.AsyncClient, bot_id: str, phone: str, text: str) -> str:
    """Write as a customer; returns the bot's answer to exactly that message."""

    async def post() -> httpx.Response | None:
        try:
            response = await client.post(
                f"/api/v1/bots/{bot_id}/simulator/messages",
                json={"customer_phone": phone, "text": text},
            )
        except httpx.TransportError:
            return None
        return response if response.status_code == 202 else None

    await eventually(post, within_s=30, what="simulator accepting messages")

    async def reply() -> str | None:
        try:
            convo = await client.get(
                f"/api/v1/bots/{bot_id}/simulator/messages", params={"customer_phone": phone}
            )
        except httpx.TransportError:
            return None
        if convo.status_code != 200:
            return None
        messages = convo.json()
        for earlier, later in itertools.pairwise(messages):
            if earlier["text"] == text and later["origin"] == "bot":
                return str(later["text"])
        return None

    return await eventually(reply, within_s=40, what=f"a reply to {text!r}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_relay_up_runs_heals_stops_and_keeps_data(relay_up: RelayUp) -> None:
    await relay_up.start()
    await eventually(relay_up.ready, within_s=120, what="relay up ready")
    await eventually(
        lambda: _async("Relay is running" in relay_up.log.read_text()), what="the banner"
    )
    assert f"{relay_up.url}/api/v1/auth/dev" in relay_up.log.read_text()
    client = await _signed_in(relay_up.url)
    bots = (await client.get("/api/v1/bots")).json()
    assert [b["name"] for b in bots] == ["Demo bot"]
    bot_id = bots[0]["id"]
    assert "Demo bot" in await _answered(client, bot_id, "+15550000001", "Hello there")

    for service in SERVICES:
        old_pid = relay_up.state()["services"][service]
        os.kill(old_pid, signal.SIGKILL)

        async def replaced(service: str = service, old_pid: int = old_pid) -> bool:
            pid = relay_up.state().get("services", {}).get(service)
            return bool(pid) and pid != old_pid and await relay_up.ready()

        await eventually(replaced, within_s=60, what=f"{service} restarted")
        answer = await _answered(client, bot_id, "+15550000001", f"after killing {service}")
        assert answer.strip()
    await client.aclose()

    state = relay_up.state()
    pids = [*state["services"].values(), state["nats_pid"], state["postgres_pid"]]
    assert await relay_up.interrupt() == 0
    await eventually(lambda: _async(not any(_alive(p) for p in pids)), what="all stopped")
    assert not (relay_up.data / "state.json").exists()

    # Same folder again: everything is still there, and no second demo workspace.
    await relay_up.start()
    await eventually(relay_up.ready, within_s=120, what="relay up ready again")
    client = await _signed_in(relay_up.url)
    assert [b["id"] for b in (await client.get("/api/v1/bots")).json()] == [bot_id]
    convo = (
        await client.get(
            f"/api/v1/bots/{bot_id}/simulator/messages",
            params={"customer_phone": "+15550000001"},
        )
    ).json()
    texts = [m["text"] for m in convo if m["origin"] == "customer"]
    assert texts == ["Hello there", *(f"after killing {s}" for s in SERVICES)]
    assert len(convo) == 2 * len(texts)
    await client.aclose()


async def test_second_relay_up_on_the_same_folder_is_refused(relay_up: RelayUp) -> None:
    await relay_up.start()
    await eventually(relay_up.ready, within_s=120, what="relay up ready")
    env = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "DATABASE_URL")}
    second = await asyncio.create_subprocess_exec(
        RELAY,
        "up",
        "--data-dir",
        str(relay_up.data),
        env=env | {"PORT": str(free_port())},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(second.communicate(), 60)
    assert second.returncode == 1
    assert b"already running" in out


async def _async(value: bool) -> bool:
    return value
