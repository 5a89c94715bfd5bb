"""Timed actions on bots through the API: created for a moment in the future, listed with
their outcome, cancelled while pending; announced on the bus; kept to their workspace."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
from nats.aio.msg import Msg

from relay_common.bus import Bus
from relay_common.contract import subjects
from relay_common.provisioning import add_member, create_bot, create_workspace
from relay_common.testing.waiting import eventually


def unique_email(who: str) -> str:
    return f"{who}-{uuid4().hex[:6]}@example.com"


async def new_workspace(pool: asyncpg.Pool) -> tuple[UUID, UUID, str, str]:
    """A workspace with one bot: its id, the bot's, the owner's and a vendor's email."""
    owner_email, vendor_email = unique_email("owner"), unique_email("vendor")
    async with pool.acquire() as conn:
        ws = await create_workspace(conn, f"Sched {uuid4().hex[:6]}", owner_email)
        bot = await create_bot(conn, ws.workspace_id, "Timed")
        await add_member(conn, ws.workspace_id, vendor_email)
    return ws.workspace_id, bot, owner_email, vendor_email


@pytest.mark.timeout(120)
async def test_create_list_and_cancel_schedules(
    pool: asyncpg.Pool, bus: Bus, start_gateway: Any
) -> None:
    workspace_id, bot, owner_email, vendor_email = await new_workspace(pool)
    changes: list[dict[str, Any]] = []

    async def on_change(msg: Msg) -> None:
        changes.append(json.loads(msg.data))

    subscription = await bus.nc.subscribe(
        subjects.BOT_SCHEDULE.for_workspace(bus.prefix, workspace_id), cb=on_change
    )
    await bus.nc.flush()
    gateway = await start_gateway()
    owner = await gateway.client(owner_email)
    vendor = await gateway.client(vendor_email)
    url = f"/api/v1/bots/{bot}/schedules"

    madrid_summer = timezone(timedelta(hours=2))
    soon = (datetime.now(UTC) + timedelta(hours=1)).astimezone(madrid_summer)
    created = await owner.post(
        url, json={"action": "pause", "run_at": soon.isoformat(), "time_zone": "Europe/Madrid"}
    )
    assert created.status_code == 201, created.text
    pause = created.json()
    assert pause["status"] == "pending"
    assert pause["action"] == "pause"
    assert pause["time_zone"] == "Europe/Madrid"
    assert datetime.fromisoformat(pause["run_at"]) == soon
    assert pause["executed_at"] is None
    later = await owner.post(
        url, json={"action": "enable", "run_at": (soon + timedelta(days=1)).isoformat()}
    )
    assert later.status_code == 201, later.text
    assert later.json()["time_zone"] == "UTC"

    past = datetime.now(UTC) - timedelta(minutes=1)
    for bad in (
        {"action": "pause", "run_at": past.isoformat()},
        {"action": "pause", "run_at": soon.replace(tzinfo=None).isoformat()},
        {"action": "pause", "run_at": soon.isoformat(), "time_zone": "Atlantis/Capital"},
        {"action": "explode", "run_at": soon.isoformat()},
        {"action": "pause", "run_at": soon.isoformat(), "cron": "0 9 * * *"},
        {"action": "pause", "run_at": "tomorrow"},
        {"action": "pause"},
    ):
        response = await owner.post(url, json=bad)
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["code"] == "invalid_request"

    listed = (await vendor.get(url)).json()
    assert [s["id"] for s in listed] == [later.json()["id"], pause["id"]]
    for response in (
        await vendor.post(url, json={"action": "pause", "run_at": soon.isoformat()}),
        await vendor.delete(f"{url}/{pause['id']}"),
    ):
        assert response.status_code == 403, response.text

    cancelled = await owner.delete(f"{url}/{pause['id']}")
    assert cancelled.status_code == 204, cancelled.text
    assert (await owner.delete(f"{url}/{pause['id']}")).status_code == 409
    assert (await owner.delete(f"{url}/{uuid4()}")).status_code == 404
    statuses = {s["id"]: s["status"] for s in (await owner.get(url)).json()}
    assert statuses == {pause["id"]: "cancelled", later.json()["id"]: "pending"}

    # Carried out by the scheduler: stays listed with its outcome, and cannot be cancelled.
    await pool.execute(
        """UPDATE schedules SET status = 'done', executed_at = now(), result = 'ok'
           WHERE id = $1""",
        UUID(later.json()["id"]),
    )
    done = await owner.delete(f"{url}/{later.json()['id']}")
    assert done.status_code == 409
    assert done.json()["details"] == {"status": "done"}
    [latest, _] = (await owner.get(url, params={"limit": 2})).json()
    assert (latest["status"], latest["result"]) == ("done", "ok")
    assert latest["executed_at"] is not None
    assert (await owner.get(url, params={"limit": 0})).status_code == 422

    async def announced() -> list[tuple[str, str]] | None:
        seen = [(c["schedule_id"], c["status"]) for c in changes]
        return seen if len(seen) >= 3 else None

    assert await eventually(announced, within_s=10, what="schedule events") == [
        (pause["id"], "pending"),
        (later.json()["id"], "pending"),
        (pause["id"], "cancelled"),
    ]
    assert changes[0]["action"] == "pause"
    assert changes[0]["time_zone"] == "Europe/Madrid"
    assert datetime.fromisoformat(changes[0]["run_at"]) == soon
    await subscription.unsubscribe()
    actions = await pool.fetch(
        "SELECT action FROM audit_log WHERE workspace_id = $1 ORDER BY id", workspace_id
    )
    assert [r["action"] for r in actions] == [
        "schedule.created",
        "schedule.created",
        "schedule.cancelled",
    ]


@pytest.mark.timeout(120)
async def test_schedules_of_another_workspace_stay_out_of_reach(
    pool: asyncpg.Pool, start_gateway: Any
) -> None:
    _, mine, owner_email, _ = await new_workspace(pool)
    _, theirs, other_email, _ = await new_workspace(pool)
    gateway = await start_gateway()
    owner = await gateway.client(owner_email)
    other_owner = await gateway.client(other_email)
    soon = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    their_schedule = (
        await other_owner.post(
            f"/api/v1/bots/{theirs}/schedules", json={"action": "disable", "run_at": soon}
        )
    ).json()

    for response in (
        await owner.get(f"/api/v1/bots/{theirs}/schedules"),
        await owner.post(
            f"/api/v1/bots/{theirs}/schedules", json={"action": "enable", "run_at": soon}
        ),
        await owner.delete(f"/api/v1/bots/{theirs}/schedules/{their_schedule['id']}"),
        await owner.delete(f"/api/v1/bots/{mine}/schedules/{their_schedule['id']}"),
    ):
        assert response.status_code == 404, response.text
    assert (await owner.get(f"/api/v1/bots/{mine}/schedules")).json() == []
    status = await pool.fetchval(
        "SELECT status FROM schedules WHERE id = $1", UUID(their_schedule["id"])
    )
    assert status == "pending"
    assert len((await other_owner.get(f"/api/v1/bots/{theirs}/schedules")).json()) == 1
