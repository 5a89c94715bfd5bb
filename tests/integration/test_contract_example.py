"""The documented subscriber example really receives lead events."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

from relay_common.bus import Bus
from relay_common.contract import LeadCreated
from relay_common.testing.infra import Infra

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "subscribe_leads.py"


async def test_example_subscriber_receives_lead_events(bus: Bus, infra: Infra) -> None:
    workspace = uuid4()
    events = [
        LeadCreated(
            workspace_id=workspace,
            bot_id=uuid4(),
            lead_id=uuid4(),
            chat_jid="34600111222@s.whatsapp.net",
            phone="+34600111222",
            created_at=datetime.now(UTC),
        )
        for _ in range(2)
    ]
    for event in events:
        await bus.publish(event)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLE),
        "--durable",
        f"example-{uuid4().hex[:6]}",
        "--workspace",
        str(workspace),
        "--max",
        "2",
        env={"NATS_URL": infra.nats_url, "RELAY_BUS_PREFIX": bus.prefix},
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0
    lines = [json.loads(line) for line in out.decode().splitlines()]
    assert [line["event"] for line in lines] == ["created", "created"]
    assert [line["lead_id"] for line in lines] == [str(e.lead_id) for e in events]
