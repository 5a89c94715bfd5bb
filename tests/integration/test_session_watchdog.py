"""Honest status: a session that claims to be connected but stopped answering is shown as
such and restarted. The WhatsApp side is a stand-in session (outside our system); the
worker, NATS and PostgreSQL are real."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from uuid import uuid4

import asyncpg

from relay_common.bus import Bus
from relay_common.contract import SessionState
from relay_common.metrics import SESSION_RESTARTS
from relay_common.provisioning import create_bot, create_workspace
from relay_common.testing.waiting import eventually
from relay_session_worker.membership import LeaseTiming, Membership
from relay_session_worker.transports.base import BotRef, Sent, SessionHooks, StateDetails
from relay_session_worker.worker import SessionWorker, WorkerConfig


class StallingSession:
    """Connects, then its keepalives time out (as whatsmeow reports it)."""

    starts = 0

    def __init__(self, bot: BotRef, hooks: SessionHooks) -> None:
        self.bot, self.hooks = bot, hooks

    async def start(self) -> None:
        StallingSession.starts += 1
        await self.hooks.on_state(SessionState.CONNECTED, None, StateDetails())
        await self.hooks.on_state(SessionState.UNRESPONSIVE, "keepalive timeout", StateDetails())

    async def send_text(self, chat_jid: str, text: str, *, message_id: str) -> Sent:
        return Sent(message_id, datetime.now(UTC))

    async def send_image(
        self, chat_jid: str, image: bytes, *, caption: str, message_id: str
    ) -> Sent:
        return Sent(message_id, datetime.now(UTC))

    async def set_typing(self, chat_jid: str, typing: bool) -> None: ...

    async def mark_read(self, chat_jid: str, message_ids: list[str]) -> None: ...

    async def relink(self, phone_number: str | None = None) -> None: ...

    async def logout(self) -> None: ...

    async def stop(self) -> None: ...


class StallingTransport:
    name = "simulated"

    def open(self, bot: BotRef, hooks: SessionHooks) -> StallingSession:
        return StallingSession(bot, hooks)


async def test_unresponsive_session_is_shown_and_restarted(pool: asyncpg.Pool, bus: Bus) -> None:
    async with pool.acquire() as conn:
        ws = await create_workspace(conn, "Stall", f"stall-{uuid4().hex[:6]}@example.com")
        bot = await create_bot(conn, ws.workspace_id, "stalling bot")
    worker_id = f"watchdog-{uuid4().hex[:6]}"
    worker = SessionWorker(
        bus,
        pool,
        Membership(bus, worker_id, 10_000, LeaseTiming(lease_ttl_s=3, heartbeat_s=0.5)),
        {"simulated": StallingTransport()},
        WorkerConfig(
            worker_id=worker_id,
            transports=["simulated"],
            balance_every_s=0.2,
            max_moves_per_tick=100,
            unresponsive_restart_s=0.5,
        ),
    )
    restarts_before = SESSION_RESTARTS.labels("unresponsive")._value.get()
    await worker.start()
    try:

        async def shown() -> bool:
            row = await pool.fetchrow(
                "SELECT runtime_state, runtime_reason FROM bots WHERE id = $1", bot
            )
            return bool(row and row["runtime_state"] == "unresponsive")

        await eventually(shown, what="unresponsive state shown")
        assert (
            await pool.fetchval("SELECT runtime_reason FROM bots WHERE id = $1", bot)
            == "keepalive timeout"
        )
        await eventually(
            lambda: _value(SESSION_RESTARTS.labels("unresponsive")._value.get() > restarts_before),
            what="restart",
        )
        assert bot in worker.held
    finally:
        await worker.stop()
    await asyncio.sleep(0)


async def _value(v: bool) -> bool:
    return v
