"""Bots through the API: creating within the plan, renaming, prompts, status, deleting,
feature settings; the bus events each causes; vendors and other workspaces kept out."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from relay_common.bus import Bus
from relay_common.contract import subjects
from relay_common.provisioning import add_member, create_bot, create_workspace
from relay_common.testing.waiting import eventually


def unique_email(who: str) -> str:
    return f"{who}-{uuid4().hex[:6]}@example.com"


@dataclass(frozen=True)
class Workspace:
    id: UUID
    owner_email: str
    vendor_email: str


async def new_workspace(pool: asyncpg.Pool, bot_limit: int = 5) -> Workspace:
    owner_email, vendor_email = unique_email("owner"), unique_email("vendor")
    async with pool.acquire() as conn:
        ws = await create_workspace(conn, f"Bots {uuid4().hex[:6]}", owner_email)
        await conn.execute(
            "UPDATE subscriptions SET bot_limit = $2 WHERE workspace_id = $1",
            ws.workspace_id,
            bot_limit,
        )
        await add_member(conn, ws.workspace_id, vendor_email)
    return Workspace(ws.workspace_id, owner_email, vendor_email)


@dataclass
class Received:
    """Every bus message addressed to one workspace, as (subject path, payload)."""

    messages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def on_message(self, msg: Msg) -> None:
        path = ".".join(msg.subject.split(".")[1:4])
        self.messages.append((path, json.loads(msg.data)))

    def of(self, path: str) -> list[dict[str, Any]]:
        return [payload for p, payload in self.messages if p == path]

    async def next_of(self, path: str, count: int) -> list[dict[str, Any]]:
        async def enough() -> list[dict[str, Any]] | None:
            found = self.of(path)
            return found if len(found) >= count else None

        return await eventually(enough, within_s=10, what=f"{count} x {path}")


Listen = Callable[[UUID], Awaitable[Received]]
WATCHED = (
    subjects.BOT_CREATED,
    subjects.BOT_UPDATED,
    subjects.BOT_DELETED,
    subjects.BOT_FEATURES,
    subjects.CONTROL_BOT,
)


@pytest.fixture
async def listen(bus: Bus) -> AsyncIterator[Listen]:
    """``await listen(workspace_id)``: start collecting that workspace's bot events and
    session commands."""
    subscriptions: list[Subscription] = []

    async def start(workspace_id: UUID) -> Received:
        received = Received()
        for subject in WATCHED:
            subscriptions.append(
                await bus.nc.subscribe(
                    subject.for_workspace(bus.prefix, workspace_id), cb=received.on_message
                )
            )
        await bus.nc.flush()
        return received

    yield start
    for subscription in subscriptions:
        await subscription.unsubscribe()


async def audit_actions(pool: asyncpg.Pool, workspace_id: UUID) -> list[str]:
    rows = await pool.fetch(
        "SELECT action FROM audit_log WHERE workspace_id = $1 ORDER BY id", workspace_id
    )
    return [r["action"] for r in rows]


@pytest.mark.timeout(120)
async def test_create_bots_within_the_plan_and_not_beyond(
    pool: asyncpg.Pool, listen: Listen, start_gateway: Any
) -> None:
    ws = await new_workspace(pool, bot_limit=2)
    events = await listen(ws.id)
    gateway = await start_gateway()
    owner = await gateway.client(ws.owner_email)
    vendor = await gateway.client(ws.vendor_email)

    created = await owner.post(
        "/api/v1/bots", json={"name": "  Sales  ", "prompt": "Sell politely."}
    )
    assert created.status_code == 201, created.text
    bot = created.json()
    assert bot["name"] == "Sales"
    assert bot["prompt"] == "Sell politely."
    assert bot["transport"] == "simulated"
    assert bot["status"] == "enabled"
    assert bot["phone_number"].startswith("+1555")  # a simulated bot is linked at once
    [event] = await events.next_of(subjects.BOT_CREATED.path, 1)
    assert event["bot_id"] == bot["id"]
    assert event["name"] == "Sales"
    assert event["transport"] == "simulated"
    assert event["workspace_id"] == str(ws.id)
    assert (
        await pool.fetchval("SELECT count(*) FROM bot_features WHERE bot_id = $1", UUID(bot["id"]))
        == 1
    )

    real = await owner.post("/api/v1/bots", json={"name": "Real", "transport": "whatsapp"})
    assert real.status_code == 201, real.text
    assert real.json()["phone_number"] is None
    assert real.json()["prompt"] == ""

    over = await owner.post("/api/v1/bots", json={"name": "One too many"})
    assert over.status_code == 409
    assert over.json()["code"] == "plan_limit"
    assert "2 bot(s)" in over.json()["message"]
    assert over.json()["details"] == {"bot_limit": 2, "bots": 2}

    await pool.execute("UPDATE subscriptions SET bot_limit = 3 WHERE workspace_id = $1", ws.id)
    assert (await owner.post("/api/v1/bots", json={"name": "Third"})).status_code == 201

    for bad in (
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 121},
        {"name": "Long", "prompt": "p" * 20001},
        {"name": "Tg", "transport": "telegram"},
        {"name": "Extra", "color": "red"},
        {},
    ):
        response = await owner.post("/api/v1/bots", json=bad)
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["code"] == "invalid_request"

    assert (await vendor.post("/api/v1/bots", json={"name": "Mine"})).status_code == 403
    assert await pool.fetchval("SELECT count(*) FROM bots WHERE workspace_id = $1", ws.id) == 3

    # Racing for the last places: the plan holds.
    await pool.execute("UPDATE subscriptions SET bot_limit = 5 WHERE workspace_id = $1", ws.id)
    racing = await asyncio.gather(
        *(owner.post("/api/v1/bots", json={"name": f"Racer {i}"}) for i in range(4))
    )
    assert sorted(r.status_code for r in racing) == [201, 201, 409, 409]
    assert await pool.fetchval("SELECT count(*) FROM bots WHERE workspace_id = $1", ws.id) == 5
    assert await audit_actions(pool, ws.id) == ["bot.created"] * 5
    assert len(await events.next_of(subjects.BOT_CREATED.path, 5)) == 5


@pytest.mark.timeout(120)
async def test_rename_prompt_status_and_delete_emit_events(
    pool: asyncpg.Pool, listen: Listen, start_gateway: Any
) -> None:
    ws = await new_workspace(pool)
    async with pool.acquire() as conn:
        bot_id = await create_bot(conn, ws.id, "Before", prompt="Old prompt")
    events = await listen(ws.id)
    gateway = await start_gateway()
    owner = await gateway.client(ws.owner_email)
    url = f"/api/v1/bots/{bot_id}"

    renamed = await owner.patch(url, json={"name": "After"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "After"
    assert renamed.json()["prompt"] == "Old prompt"
    both = await owner.patch(url, json={"name": "After", "prompt": "New prompt"})
    assert both.json()["prompt"] == "New prompt"
    updates = await events.next_of(subjects.BOT_UPDATED.path, 2)
    assert [u["changed"] for u in updates] == [["name"], ["prompt"]]
    assert updates[1]["name"] == "After"
    row = await pool.fetchrow("SELECT name, prompt FROM bots WHERE id = $1", bot_id)
    assert row is not None
    assert dict(row) == {"name": "After", "prompt": "New prompt"}
    for bad in ({}, {"name": ""}, {"prompt": "p" * 20001}, {"status": "paused"}):
        assert (await owner.patch(url, json=bad)).status_code == 422, bad

    paused = await owner.put(f"{url}/status", json={"status": "paused"})
    assert paused.status_code == 200, paused.text
    assert paused.json()["status"] == "paused"
    assert await pool.fetchval("SELECT status FROM bots WHERE id = $1", bot_id) == "paused"
    await owner.put(f"{url}/status", json={"status": "enabled"})
    await owner.put(f"{url}/status", json={"status": "disabled"})
    updates = await events.next_of(subjects.BOT_UPDATED.path, 5)
    assert [(u["changed"], u["status"]) for u in updates[2:]] == [
        (["status"], "paused"),
        (["status"], "enabled"),
        (["status"], "disabled"),
    ]
    controls = await events.next_of(subjects.CONTROL_BOT.path, 2)
    assert [c["action"] for c in controls] == ["pause", "resume"]
    assert all(c["bot_id"] == str(bot_id) for c in controls)
    assert (await owner.put(f"{url}/status", json={"status": "asleep"})).status_code == 422

    deleted = await owner.delete(url)
    assert deleted.status_code == 204
    [gone] = await events.next_of(subjects.BOT_DELETED.path, 1)
    assert gone["bot_id"] == str(bot_id)
    assert await pool.fetchval("SELECT count(*) FROM bots WHERE id = $1", bot_id) == 0
    assert await pool.fetchval("SELECT count(*) FROM bot_features WHERE bot_id = $1", bot_id) == 0
    assert (await owner.get(url)).status_code == 404
    assert (await owner.delete(url)).status_code == 404
    assert (await owner.patch(url, json={"name": "Ghost"})).status_code == 404
    assert await audit_actions(pool, ws.id) == ["bot.updated"] * 5 + ["bot.deleted"]
    # The disabled bot got no session command: only pause and resume were sent.
    assert [c["action"] for c in events.of(subjects.CONTROL_BOT.path)] == ["pause", "resume"]


@pytest.mark.timeout(120)
async def test_vendors_see_no_secrets_and_change_nothing_and_workspaces_stay_apart(
    pool: asyncpg.Pool, start_gateway: Any
) -> None:
    ws = await new_workspace(pool)
    other = await new_workspace(pool)
    async with pool.acquire() as conn:
        bot_id = await create_bot(conn, ws.id, "Linking", prompt="Secret sauce", linked=False)
        await conn.execute(
            """UPDATE bots SET runtime_state = 'linking', runtime_qr = 'qr-payload',
                              runtime_pair_code = 'ABCD-EFGH' WHERE id = $1""",
            bot_id,
        )
        foreign_id = await create_bot(conn, other.id, "Theirs", prompt="Their secret")
    gateway = await start_gateway()
    owner = await gateway.client(ws.owner_email)
    vendor = await gateway.client(ws.vendor_email)
    url = f"/api/v1/bots/{bot_id}"

    seen_by_owner = (await owner.get(url)).json()
    assert seen_by_owner["prompt"] == "Secret sauce"
    assert seen_by_owner["qr_data_url"].startswith("data:image/png;base64,")
    assert seen_by_owner["pair_code"] == "ABCD-EFGH"
    [listed] = (await vendor.get("/api/v1/bots")).json()
    seen_by_vendor = (await vendor.get(url)).json()
    for body in (listed, seen_by_vendor):
        assert body["id"] == str(bot_id)
        assert body["name"] == "Linking"
        assert (body["prompt"], body["qr_data_url"], body["pair_code"]) == (None, None, None)

    for response in (
        await vendor.patch(url, json={"name": "Vendor's"}),
        await vendor.put(f"{url}/status", json={"status": "paused"}),
        await vendor.delete(url),
        await vendor.patch(f"{url}/features", json={"auto_reply": False}),
    ):
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "forbidden"
    assert (await vendor.get(f"{url}/features")).status_code == 200

    foreign = f"/api/v1/bots/{foreign_id}"
    for response in (
        await owner.get(foreign),
        await owner.patch(foreign, json={"name": "Stolen"}),
        await owner.put(f"{foreign}/status", json={"status": "disabled"}),
        await owner.get(f"{foreign}/features"),
        await owner.patch(f"{foreign}/features", json={"auto_reply": False}),
        await owner.delete(foreign),
    ):
        assert response.status_code == 404, response.text
        assert "Their secret" not in response.text
    assert [b["id"] for b in (await owner.get("/api/v1/bots")).json()] == [str(bot_id)]
    row = await pool.fetchrow(
        """SELECT b.name, b.status, f.auto_reply FROM bots b
           JOIN bot_features f ON f.bot_id = b.id WHERE b.id = $1""",
        foreign_id,
    )
    assert row is not None
    assert dict(row) == {"name": "Theirs", "status": "enabled", "auto_reply": True}
    assert await audit_actions(pool, other.id) == []


@pytest.mark.timeout(120)
async def test_feature_settings_are_validated_persisted_and_announced(
    pool: asyncpg.Pool, listen: Listen, start_gateway: Any
) -> None:
    ws = await new_workspace(pool)
    async with pool.acquire() as conn:
        bot_id = await create_bot(conn, ws.id, "Featured")
    events = await listen(ws.id)
    gateway = await start_gateway()
    owner = await gateway.client(ws.owner_email)
    url = f"/api/v1/bots/{bot_id}/features"

    defaults = (await owner.get(url)).json()
    assert defaults["auto_reply"] is True
    assert defaults["required_lead_fields"] == ["name", "phone_or_email"]
    assert defaults["working_hours_start"] == "09:00"
    assert defaults["time_zone"] == "UTC"
    assert defaults["pacing"]["per_minute"] == 20

    for bad in (
        {"time_zone": "Mars/Olympus_Mons"},
        {"time_zone": "../etc/passwd"},
        {"time_zone": "localtime"},
        {"working_hours_start": "25:00"},
        {"working_hours_end": "9:00"},
        {"working_hours_start": "18:00"},  # the same as the end: never open
        {"favourite_color": "blue"},
        {"auto_reply": None},
        {"required_lead_fields": ["name", "shoe_size"]},
        {"required_lead_fields": ["name", "name"]},
        {"away_message": "a" * 1001},
        {"debounce_ms": 60001},
        {"assignment": "random"},
        {"ignored_numbers": ["600111222"]},
        {"history_size": 0},
        {"default_region": "es"},
        {"pacing": {"per_minute": 0}},
        {"pacing": {"typing_min_ms": 6000}},  # above the typing maximum
        {"pacing": {"speed": "fast"}},
        {"faq": [{"q": "Hours?"}]},
    ):
        response = await owner.patch(url, json=bad)
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["code"] == "invalid_request"

    patch = {
        "auto_reply": False,
        "required_lead_fields": ["name", "email", "location"],
        "working_hours_enabled": True,
        "working_hours_start": "22:00",
        "working_hours_end": "06:30",
        "time_zone": "America/Argentina/Buenos_Aires",
        "away_message": "Back soon",
        "assignment": "round_robin",
        "ignored_numbers": ["+34600111222"],
        "faq": [{"q": "Opening hours?", "a": "Nights."}],
        "history_size": 50,
        "default_region": "AR",
        "pacing": {"per_minute": 5, "typing": False},
    }
    updated = await owner.patch(url, json=patch)
    assert updated.status_code == 200, updated.text
    body = updated.json()
    for name, value in patch.items():
        if name != "pacing":
            assert body[name] == value, name
    assert body["pacing"] == defaults["pacing"] | {"per_minute": 5, "typing": False}
    assert body["debounce_ms"] == defaults["debounce_ms"]
    assert (await owner.get(url)).json() == body

    row = await pool.fetchrow(
        """SELECT auto_reply, working_hours_start::text AS start, time_zone, away_message,
                  required_lead_fields, ignored_numbers, assignment, pacing, default_region
           FROM bot_features WHERE bot_id = $1""",
        bot_id,
    )
    assert row is not None
    assert row["auto_reply"] is False
    assert row["start"] == "22:00:00"
    assert row["time_zone"] == "America/Argentina/Buenos_Aires"
    assert row["required_lead_fields"] == ["name", "email", "location"]
    assert row["ignored_numbers"] == ["+34600111222"]
    assert row["pacing"]["per_minute"] == 5
    assert row["pacing"]["typing_max_ms"] == 5000

    [event] = await events.next_of(subjects.BOT_FEATURES.path, 1)
    assert event["features"] == body
    assert set(event["changed"]) == set(patch)

    cleared = await owner.patch(url, json={"away_message": None, "default_region": None})
    assert cleared.status_code == 200
    assert (cleared.json()["away_message"], cleared.json()["default_region"]) == (None, None)
    unchanged = await owner.patch(url, json={"history_size": 50})
    assert unchanged.json()["history_size"] == 50
    events_after = await events.next_of(subjects.BOT_FEATURES.path, 2)
    assert events_after[1]["changed"] == ["away_message", "default_region"]
    assert await audit_actions(pool, ws.id) == ["bot.features_updated"] * 2


def test_pacing_settings_match_what_the_session_worker_reads() -> None:
    from relay_gateway.api.routes.bot_features import Pacing
    from relay_session_worker.pacing import PacingPolicy

    assert Pacing().model_dump() == PacingPolicy().model_dump()
