"""A session worker: takes its share of bots by lease, runs their sessions, lets go.

Three loops: the heartbeat announces the worker; the balancer computes which bots this
worker should hold (the same rule on every worker, see ``domain.assign``), releases a few
it should not hold and leases and starts those it should; the renewer renews every held
lease and stops any session whose lease it could not renew in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from uuid import UUID

import asyncpg

from relay_common.bus import Bus, Consumer, UnknownMessageError
from relay_common.contract import (
    BOT_COMMANDS,
    Envelope,
    MessageReceiptReceived,
    MessageReceived,
    SessionState,
    SessionStateChanged,
)
from relay_common.contract import subjects as s
from relay_common.logging import get_logger
from relay_common.metrics import (
    LEASE_CHANGES,
    MESSAGES_RECEIVED,
    SESSION_RESTARTS,
    SESSIONS_ACTIVE,
)
from relay_session_worker import repo
from relay_session_worker.domain import WorkerSlot, assign
from relay_session_worker.membership import Membership
from relay_session_worker.pacing import SendRate
from relay_session_worker.repo import BotSetup
from relay_session_worker.transports.base import (
    BotRef,
    Receipt,
    Session,
    SessionHooks,
    StateDetails,
    Transport,
    TransportError,
)

log = get_logger(__name__)


@dataclass
class HeldBot:
    bot: BotRef
    revision: int
    renewed_at: float
    setup: BotSetup
    session: Session | None = None
    commands: Consumer[Envelope] | None = None
    paused: bool = False
    state: SessionState | None = None
    unresponsive_since: float | None = None
    rate: SendRate = field(default_factory=SendRate)

    def require_session(self) -> Session:
        if self.session is None:
            raise TransportError("session not started")
        return self.session


def decode_command(subject: str, data: bytes) -> Envelope:
    address = s.parse(subject.split(".", 1)[0], subject)
    model = BOT_COMMANDS.get(address.path) if address else None
    if model is None:
        raise UnknownMessageError(f"no command model for {subject}")
    return model.model_validate_json(data)


@dataclass(frozen=True)
class WorkerConfig:
    worker_id: str
    transports: list[str]
    balance_every_s: float
    max_moves_per_tick: int
    unresponsive_restart_s: float


class SessionWorker:
    def __init__(
        self,
        bus: Bus,
        pool: asyncpg.Pool,
        membership: Membership,
        transports: dict[str, Transport],
        config: WorkerConfig,
    ) -> None:
        self.bus = bus
        self.pool = pool
        self.membership = membership
        self.transports = transports
        self.config = config
        self.held: dict[UUID, HeldBot] = {}
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def worker_id(self) -> str:
        return self.config.worker_id

    async def start(self) -> None:
        await self.membership.open()
        await self.membership.heartbeat()
        timing = self.membership.timing
        self._tasks = [
            asyncio.create_task(self._every(timing.heartbeat_s, self.membership.heartbeat)),
            asyncio.create_task(self._every(timing.renew_every_s, self.renew)),
            asyncio.create_task(self._every(self.config.balance_every_s, self.balance)),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        async with self._lock:
            await asyncio.gather(
                *(self._release(h, "worker stopping") for h in list(self.held.values()))
            )
        await self.membership.leave()

    async def _every(self, seconds: float, step: Callable[[], Awaitable[None]]) -> None:
        while True:
            try:
                await step()
            except Exception:
                log.exception("worker_step_failed", step=getattr(step, "__name__", "?"))
            await asyncio.sleep(seconds)

    # -- distribution -----------------------------------------------------------------

    async def balance(self) -> None:
        async with self._lock:
            workers = await self.membership.live_workers()
            if self.worker_id not in {w.worker_id for w in workers}:
                workers.append(WorkerSlot(self.worker_id, self.membership.capacity))
            bots = {b.bot_id: b for b in await repo.runnable_bots(self.pool, list(self.transports))}
            desired = assign(list(bots), workers)
            mine = [bots[b] for b, w in desired.items() if w == self.worker_id]
            gone = [h for b, h in self.held.items() if b not in bots]
            moving = [
                h for b, h in self.held.items() if b in bots and desired.get(b) != self.worker_id
            ]
            for held in gone:
                await self._release(held, "bot disabled or deleted")
            for held in moving[: self.config.max_moves_per_tick]:
                await self._release(held, "rebalanced")
            for bot in mine:
                if bot.bot_id not in self.held and len(self.held) < self.membership.capacity:
                    revision = await self.membership.acquire(bot.bot_id)
                    if revision is not None:
                        LEASE_CHANGES.labels("acquired").inc()
                        await self._start(bot, revision)
            self._watchdog()

    async def renew(self) -> None:
        timing = self.membership.timing
        held_now = list(self.held.values())
        results = await asyncio.gather(
            *(self.membership.renew(h.bot.bot_id, h.revision) for h in held_now),
            return_exceptions=True,
        )
        now = time.monotonic()
        for held, result in zip(held_now, results, strict=True):
            if isinstance(result, int):
                held.revision, held.renewed_at = result, now
            elif result is None:
                await self._drop(held, "lease lost")
            elif now - held.renewed_at > timing.give_up_after_s:
                await self._drop(held, f"lease not renewed: {result!r}")

    def _watchdog(self) -> None:
        now = time.monotonic()
        for held in list(self.held.values()):
            since = held.unresponsive_since
            if since is not None and now - since > self.config.unresponsive_restart_s:
                held.unresponsive_since = None
                asyncio.get_running_loop().create_task(self.restart(held, "unresponsive"))

    # -- one bot ----------------------------------------------------------------------

    async def _start(self, bot: BotRef, revision: int) -> None:
        setup = await repo.bot_setup(self.pool, bot)
        if setup is None:
            await self.membership.release(bot.bot_id, revision)
            return
        held = HeldBot(bot, revision, time.monotonic(), setup, paused=setup.paused)
        self.held[bot.bot_id] = held
        try:
            await self._open_session(held)
            held.commands = Consumer(
                bus=self.bus,
                durable=f"session-cmd-{bot.bot_id}",
                stream=s.COMMANDS.full_name(self.bus.prefix),
                filter_subject=s.SEND_MESSAGE.stream_wildcard_for_bot(
                    self.bus.prefix, bot.workspace_id, bot.bot_id
                ),
                model=Envelope,
                decode=decode_command,
                handler=BotCommands(self, held).on_command,
                max_deliver=10,
                backoff_s=(1.0, 2.0, 5.0, 10.0, 30.0),
                ack_wait_s=15.0,
                concurrency=1,
            )
            await held.commands.start()
        except Exception:
            log.exception("session_start_failed", bot_id=str(bot.bot_id))
            await self._release(held, "start failed")
            return
        log.info("bot_taken", bot_id=str(bot.bot_id), transport=bot.transport)

    async def _open_session(self, held: HeldBot) -> None:
        hooks = SessionHooks(
            on_message=self._on_message_hook(held),
            on_state=self._on_state_hook(held),
            on_receipt=self._on_receipt_hook(held),
            device_jid=held.setup.device_jid,
        )
        held.session = self.transports[held.bot.transport].open(held.bot, hooks)
        await held.session.start()

    async def _close_session(self, held: HeldBot) -> None:
        if held.session is not None:
            with contextlib.suppress(Exception):
                await held.session.stop()
            held.session = None

    async def _release(self, held: HeldBot, reason: str) -> None:
        """Stop the bot's work here, then give the lease back for another worker."""
        await self._drop(held, reason)
        await self.membership.release(held.bot.bot_id, held.revision)
        LEASE_CHANGES.labels("released").inc()

    async def _drop(self, held: HeldBot, reason: str) -> None:
        if self.held.pop(held.bot.bot_id, None) is None:
            return
        if held.commands is not None:
            await held.commands.stop()
        await self._close_session(held)
        self._count(held, None)
        if reason.startswith("lease"):
            LEASE_CHANGES.labels("lost").inc()
        log.info("bot_let_go", bot_id=str(held.bot.bot_id), reason=reason)

    async def restart(self, held: HeldBot, reason: str) -> None:
        SESSION_RESTARTS.labels(reason).inc()
        await self._close_session(held)
        if self.held.get(held.bot.bot_id) is not held:
            return
        setup = await repo.bot_setup(self.pool, held.bot)
        if setup is not None:
            held.setup = setup
        await self._open_session(held)

    async def set_paused(self, held: HeldBot, paused: bool) -> None:
        held.paused = paused
        if held.state in (SessionState.CONNECTED, SessionState.PAUSED):
            await self._publish_state(held, SessionState.CONNECTED, None, StateDetails())

    # -- what sessions report ---------------------------------------------------------

    def _on_message_hook(self, held: HeldBot) -> Callable[[MessageReceived], Awaitable[None]]:
        async def on_message(message: MessageReceived) -> None:
            kind = "history" if message.is_history else "stale" if message.stale else "live"
            MESSAGES_RECEIVED.labels(held.bot.transport, kind).inc()
            await self.bus.publish(message)

        return on_message

    def _on_receipt_hook(self, held: HeldBot) -> Callable[[Receipt], Awaitable[None]]:
        async def on_receipt(receipt: Receipt) -> None:
            await self.bus.publish(
                MessageReceiptReceived(
                    workspace_id=held.bot.workspace_id,
                    bot_id=held.bot.bot_id,
                    chat_jid=receipt.chat_jid,
                    whatsapp_message_ids=list(receipt.whatsapp_message_ids),
                    kind=receipt.kind,
                    at=receipt.at,
                )
            )

        return on_receipt

    def _on_state_hook(
        self, held: HeldBot
    ) -> Callable[[SessionState, str | None, StateDetails], Awaitable[None]]:
        async def on_state(state: SessionState, reason: str | None, details: StateDetails) -> None:
            if details.device_jid:
                await repo.save_device(
                    self.pool, held.bot, details.device_jid, details.phone_number
                )
            if state is SessionState.LOGGED_OUT:
                await repo.forget_device(self.pool, held.bot)
            if state is SessionState.UNRESPONSIVE:
                held.unresponsive_since = held.unresponsive_since or time.monotonic()
            else:
                held.unresponsive_since = None
            await self._publish_state(held, state, reason, details)

        return on_state

    async def _publish_state(
        self, held: HeldBot, state: SessionState, reason: str | None, details: StateDetails
    ) -> None:
        if state is SessionState.CONNECTED and held.paused:
            state, reason = SessionState.PAUSED, reason or "paused: no automatic replies"
        self._count(held, state)
        await repo.set_runtime_state(
            self.pool, held.bot, state.value, reason, self.worker_id, details
        )
        await self.bus.publish(
            SessionStateChanged(
                workspace_id=held.bot.workspace_id,
                bot_id=held.bot.bot_id,
                state=state,
                reason=reason,
                worker_id=self.worker_id,
                qr_code=details.qr_code,
                pair_code=details.pair_code,
                phone_number=details.phone_number,
                banned_until=details.banned_until,
            )
        )

    def _count(self, held: HeldBot, state: SessionState | None) -> None:
        if held.state is not None:
            SESSIONS_ACTIVE.labels(held.state.value).dec()
        held.state = state
        if state is not None:
            SESSIONS_ACTIVE.labels(state.value).inc()


# At the end: commands.py needs HeldBot from here.
from relay_session_worker.commands import BotCommands  # noqa: E402
