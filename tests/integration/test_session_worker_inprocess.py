"""The session worker in this process against stand-in WhatsApp sessions (WhatsApp is
outside our system); the worker, NATS and PostgreSQL are real.

- Honest status: a session that claims to be connected but stopped answering is shown as
  such and restarted.
- Never twice: a send cut off mid-way by a crash is not repeated on a transport that
  cannot resend under the same message id.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar
from uuid import uuid4

import asyncpg

from relay_common.bus import Bus
from relay_common.contract import SendMessage, SessionState
from relay_common.metrics import SESSION_RESTARTS
from relay_common.provisioning import create_bot, create_workspace
from relay_common.testing.waiting import eventually
from relay_session_worker.membership import LeaseTiming, Membership
from relay_session_worker.transports.base import BotRef, Sent, SessionHooks, StateDetails
from relay_session_worker.worker import SessionWorker, WorkerConfig


class StallingSession:
    """Connects, then its keepalives time out (as whatsmeow reports it)."""

    starts = 0
    idempotent_sends = True

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


class OneKindTransport:
    name = "simulated"

    def __init__(self, session: type[StallingSession]) -> None:
        self.session = session

    def open(self, bot: BotRef, hooks: SessionHooks) -> StallingSession:
        return self.session(bot, hooks)


def _worker(bus: Bus, pool: asyncpg.Pool, session: type[StallingSession]) -> SessionWorker:
    worker_id = f"inproc-{uuid4().hex[:6]}"
    return SessionWorker(
        bus,
        pool,
        Membership(bus, worker_id, 10_000, LeaseTiming(lease_ttl_s=3, heartbeat_s=0.5)),
        {"simulated": OneKindTransport(session)},
        WorkerConfig(
            worker_id=worker_id,
            transports=["simulated"],
            balance_every_s=0.2,
            max_moves_per_tick=100,
            unresponsive_restart_s=0.5,
        ),
    )


async def test_unresponsive_session_is_shown_and_restarted(pool: asyncpg.Pool, bus: Bus) -> None:
    async with pool.acquire() as conn:
        ws = await create_workspace(conn, "Stall", f"stall-{uuid4().hex[:6]}@example.com")
        bot = await create_bot(conn, ws.workspace_id, "stalling bot")
    worker = _worker(bus, pool, StallingSession)
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


class OnceOnlySession(StallingSession):
    """Connected; like neonize, it cannot resend under our message id."""

    idempotent_sends = False
    sent: ClassVar[list[str]] = []

    async def start(self) -> None:
        await self.hooks.on_state(SessionState.CONNECTED, None, StateDetails())

    async def send_text(self, chat_jid: str, text: str, *, message_id: str) -> Sent:
        if chat_jid == "34600000001@s.whatsapp.net":  # this test's chat, not other bots'
            OnceOnlySession.sent.append(text)
        return Sent(f"WA{uuid4().hex[:12].upper()}", datetime.now(UTC))


async def test_a_send_cut_off_mid_way_is_not_repeated(pool: asyncpg.Pool, bus: Bus) -> None:
    async with pool.acquire() as conn:
        ws = await create_workspace(conn, "Once", f"once-{uuid4().hex[:6]}@example.com")
        bot = await create_bot(conn, ws.workspace_id, "careful bot")
        lead = await conn.fetchval(
            "INSERT INTO leads (workspace_id, bot_id, chat_jid) VALUES ($1, $2, $3) RETURNING id",
            ws.workspace_id,
            bot,
            "34600000001@s.whatsapp.net",
        )
        await conn.execute(
            """INSERT INTO lead_messages
                   (workspace_id, bot_id, lead_id, whatsapp_message_id, origin, sent_at)
               VALUES ($1, $2, $3, 'IN1', 'customer', now())""",
            ws.workspace_id,
            bot,
            lead,
        )
    dead: list[Any] = []

    async def on_dead(msg: Any) -> None:
        dead.append(msg)

    await bus.nc.subscribe(f"{bus.prefix}.deadletter.command.>", cb=on_dead)
    cut_off = SendMessage(
        workspace_id=ws.workspace_id, bot_id=bot, chat_jid="34600000001@s.whatsapp.net", text="A"
    )
    fine = SendMessage(
        workspace_id=ws.workspace_id, bot_id=bot, chat_jid="34600000001@s.whatsapp.net", text="B"
    )
    # An earlier worker claimed this command and died before recording the send.
    await pool.execute(
        "INSERT INTO sent_commands (command_id, workspace_id, bot_id) VALUES ($1, $2, $3)",
        cut_off.event_id,
        ws.workspace_id,
        bot,
    )
    worker = _worker(bus, pool, OnceOnlySession)
    await worker.start()
    try:
        await bus.publish(cut_off)
        await bus.publish(fine)
        await eventually(lambda: _value("B" in OnceOnlySession.sent), what="the fine send")
        await eventually(lambda: _value(len(dead) == 1), what="the cut-off one refused")
    finally:
        await worker.stop()
    assert OnceOnlySession.sent == ["B"]
    assert b"not sending twice" in dead[0].headers["Relay-Dead-Reason"].encode()


async def _value(v: bool) -> bool:
    return v
