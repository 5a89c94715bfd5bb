"""The AI worker against a model server on loopback (the real httpx client, a stand-in
OpenAI-compatible server) and against its own crash."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from relay_common.bus import Bus
from relay_common.contract import SimulatedCustomerWrote
from relay_common.db import create_pool
from relay_common.health import HttpServer
from relay_common.provisioning import create_bot, create_workspace
from relay_common.testing.waiting import eventually

pytestmark = pytest.mark.timeout(150)


@dataclass
class ModelServer:
    mode: str = "ok"
    requests: list[dict[str, Any]] = field(default_factory=list)
    json_content: dict[str, Any] = field(default_factory=lambda: {"name": None, "location": None})

    async def completions(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        if self.mode == "500":
            return JSONResponse({"error": {"message": "boom"}}, status_code=500)
        if self.mode == "slow":
            await asyncio.sleep(5)
        wants_json = body.get("response_format", {}).get("type") == "json_object"
        content = json.dumps(self.json_content) if wants_json else "Hello from the model!"
        return JSONResponse(
            {
                "id": "cmpl-1",
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
            }
        )


@dataclass
class Stage:
    pool: asyncpg.Pool
    bus: Bus
    workspace_id: UUID
    bot_id: UUID
    deliveries: list[dict[str, Any]]

    async def write(self, phone: str, text: str) -> None:
        await self.bus.publish(
            SimulatedCustomerWrote(
                workspace_id=self.workspace_id,
                bot_id=self.bot_id,
                customer_phone=phone,
                whatsapp_message_id=f"F{uuid4().hex.upper()}",
                text=text,
                sent_at=datetime.now(UTC),
            )
        )


@pytest.fixture
async def stage(own_database: str, bus: Bus) -> AsyncIterator[Stage]:
    pool = await create_pool(own_database, max_size=3)
    async with pool.acquire() as conn:
        ws = await create_workspace(conn, "Faults", f"faults-{uuid4().hex[:6]}@example.com")
        bot = await create_bot(conn, ws.workspace_id, "Faulty")
        await conn.execute("UPDATE bot_features SET debounce_ms = 200 WHERE bot_id = $1", bot)
    deliveries: list[dict[str, Any]] = []

    async def on_delivery(msg: Any) -> None:
        deliveries.append(json.loads(msg.data))

    await bus.nc.subscribe(f"{bus.prefix}.simnet.delivery.v1.{ws.workspace_id}.*", cb=on_delivery)
    yield Stage(pool, bus, ws.workspace_id, bot, deliveries)
    await pool.close()


@pytest.fixture
async def model_server() -> AsyncIterator[tuple[ModelServer, str]]:
    model = ModelServer()
    server = HttpServer(
        Starlette(routes=[Route("/chat/completions", model.completions, methods=["POST"])]),
        "127.0.0.1",
        0,
    )
    await server.start()
    yield model, server.url
    await server.stop()


def _model_env(url: str) -> dict[str, str]:
    return {
        "DEEPSEEK_API_KEY": "test-key",
        "AI_WORKER_MODEL_BASE_URL": url,
        "AI_WORKER_MODEL_TIMEOUT_S": "1",
        "AI_WORKER_MODEL_MAX_RETRIES": "2",
    }


async def test_model_answers_and_usage_is_counted(
    stage: Stage, model_server: tuple[ModelServer, str], start_service: Any, own_database: str
) -> None:
    model, url = model_server
    for service in ("lead-service", "session-worker"):
        await start_service(service, DATABASE_URL=own_database)
    await start_service("ai-worker", DATABASE_URL=own_database, **_model_env(url))
    await stage.write("+14155550201", "Hi, do you have parking?")
    reply = await eventually(lambda: _first(stage.deliveries), within_s=30, what="reply")
    assert reply["text"] == "Hello from the model!"
    usage = await eventually(
        lambda: stage.pool.fetchrow(
            "SELECT calls, prompt_tokens, completion_tokens FROM model_usage WHERE bot_id = $1",
            stage.bot_id,
        ),
        what="usage",
    )
    assert usage["prompt_tokens"] == 12 * usage["calls"]
    system = model.requests[-1]["messages"][0]
    assert system["role"] == "system"
    assert "Faulty" in system["content"]


async def test_a_workspace_can_bring_its_own_model_account(
    stage: Stage, model_server: tuple[ModelServer, str], start_service: Any, own_database: str
) -> None:
    model, url = model_server
    await stage.pool.execute(
        """INSERT INTO workspace_models (workspace_id, base_url, model, api_key)
           VALUES ($1, $2, 'their-model', 'their-key')""",
        stage.workspace_id,
        url,
    )
    for service in ("lead-service", "session-worker", "ai-worker"):
        await start_service(service, DATABASE_URL=own_database)  # no installation key
    await stage.write("+14155550204", "Hi there")
    reply = await eventually(lambda: _first(stage.deliveries), within_s=30, what="reply")
    assert reply["text"] == "Hello from the model!"
    assert model.requests[-1]["model"] == "their-model"


@pytest.mark.parametrize("mode", ["500", "slow"])
async def test_a_failing_model_is_retried_then_a_polite_fallback_goes_out(
    stage: Stage,
    model_server: tuple[ModelServer, str],
    start_service: Any,
    own_database: str,
    mode: str,
) -> None:
    model, url = model_server
    model.mode = mode
    for service in ("lead-service", "session-worker"):
        await start_service(service, DATABASE_URL=own_database)
    await start_service("ai-worker", DATABASE_URL=own_database, **_model_env(url))
    await stage.write("+14155550202", "Hello, is the shop open?")
    reply = await eventually(lambda: _first(stage.deliveries), within_s=60, what="fallback reply")
    assert reply["text"] == "Thanks for your message! We'll get back to you shortly."
    assert len(model.requests) >= 3  # 1 try + 2 retries for the reply
    stored = await stage.pool.fetch(
        "SELECT origin FROM lead_messages WHERE bot_id = $1 ORDER BY sent_at", stage.bot_id
    )
    assert [r["origin"] for r in stored] == ["customer", "bot"]


async def test_ai_worker_killed_mid_message_answers_exactly_once(
    stage: Stage, start_service: Any, own_database: str
) -> None:
    await stage.pool.execute(
        "UPDATE bot_features SET debounce_ms = 4000 WHERE bot_id = $1", stage.bot_id
    )
    for service in ("lead-service", "session-worker"):
        await start_service(service, DATABASE_URL=own_database)
    first = await start_service("ai-worker", DATABASE_URL=own_database)
    await asyncio.sleep(3)  # let it start and subscribe
    await stage.write("+14155550203", "Hello, anyone?")
    await eventually(
        lambda: stage.pool.fetchval(
            "SELECT count(*) FROM lead_messages WHERE bot_id = $1", stage.bot_id
        ),
        what="stored",
    )
    await asyncio.sleep(1)  # the worker holds it, waiting out the burst window
    assert await first.stop(signal.SIGKILL) == -signal.SIGKILL
    assert stage.deliveries == []
    await start_service("ai-worker", DATABASE_URL=own_database)
    await eventually(lambda: _first(stage.deliveries), within_s=40, what="answer after the crash")
    await asyncio.sleep(6)
    assert len(stage.deliveries) == 1
    bots = await stage.pool.fetchval(
        "SELECT count(*) FROM lead_messages WHERE bot_id = $1 AND origin = 'bot'", stage.bot_id
    )
    assert bots == 1


async def _first(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    return items[0] if items else None


async def test_relay_extract_with_model_fills_name_and_location(
    model_server: tuple[ModelServer, str],
) -> None:
    model, url = model_server
    model.json_content = {"name": "Pat Doe", "location": "Lisbon"}
    relay = Path(sys.executable).with_name("relay")
    proc = await asyncio.create_subprocess_exec(
        str(relay),
        "extract",
        "--model",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env=dict(os.environ) | _model_env(url),
    )
    line = {"messages": ["hello, call me on +351 912 345 678"], "region": "PT"}
    out, _ = await asyncio.wait_for(proc.communicate(json.dumps(line).encode() + b"\n"), 60)
    assert proc.returncode == 0
    assert json.loads(out) == {
        "phone": "+351912345678",
        "email": None,
        "name": "Pat Doe",
        "location": "Lisbon",
    }
    assert model.requests[-1]["response_format"] == {"type": "json_object"}
