"""The sessions this worker holds: started, stopped and looked up by bot."""

from __future__ import annotations

import asyncio
from uuid import UUID

import asyncpg

from relay_common.bus import Bus
from relay_common.contract import MessageReceived, SessionState, SessionStateChanged
from relay_common.logging import get_logger
from relay_common.metrics import SESSIONS_ACTIVE
from relay_session_worker import repo
from relay_session_worker.transports.base import BotRef, Session, Transport

log = get_logger(__name__)


class SessionManager:
    def __init__(
        self, bus: Bus, pool: asyncpg.Pool, transports: dict[str, Transport], worker_id: str
    ) -> None:
        self.bus = bus
        self.pool = pool
        self.transports = transports
        self.worker_id = worker_id
        self.sessions: dict[UUID, Session] = {}
        self.states: dict[UUID, SessionState] = {}
        self._lock = asyncio.Lock()

    def get(self, bot_id: UUID) -> Session | None:
        return self.sessions.get(bot_id)

    async def reconcile(self, wanted: list[BotRef]) -> None:
        """Start sessions for wanted bots we lack, stop those no longer wanted."""
        async with self._lock:
            wanted_ids = {b.bot_id for b in wanted}
            for bot_id in [b for b in self.sessions if b not in wanted_ids]:
                await self._stop(bot_id)
            for bot in wanted:
                if bot.bot_id in self.sessions:
                    continue
                transport = self.transports.get(bot.transport)
                if transport is None:
                    continue  # another kind of worker runs this transport
                await self._start(bot, transport)

    async def _start(self, bot: BotRef, transport: Transport) -> None:
        async def on_message(message: MessageReceived) -> None:
            await self.bus.publish(message)

        async def on_state(state: SessionState, reason: str | None) -> None:
            self._count(bot.bot_id, state)
            await repo.set_runtime_state(self.pool, bot, state.value, reason)
            await self.bus.publish(
                SessionStateChanged(
                    workspace_id=bot.workspace_id,
                    bot_id=bot.bot_id,
                    state=state,
                    reason=reason,
                    worker_id=self.worker_id,
                )
            )

        session = transport.open(bot, on_message, on_state)
        self.sessions[bot.bot_id] = session
        try:
            await session.start()
        except Exception:
            log.exception("session_start_failed", bot_id=str(bot.bot_id))
            self.sessions.pop(bot.bot_id, None)
            return
        log.info("session_started", bot_id=str(bot.bot_id), transport=transport.name)

    async def _stop(self, bot_id: UUID) -> None:
        session = self.sessions.pop(bot_id)
        try:
            await session.stop()
        except Exception:
            log.exception("session_stop_failed", bot_id=str(bot_id))
        self._count(bot_id, None)

    def _count(self, bot_id: UUID, state: SessionState | None) -> None:
        previous = self.states.pop(bot_id, None)
        if previous is not None:
            SESSIONS_ACTIVE.labels(previous.value).dec()
        if state is not None and state is not SessionState.STOPPED:
            self.states[bot_id] = state
            SESSIONS_ACTIVE.labels(state.value).inc()

    async def stop_all(self) -> None:
        async with self._lock:
            for bot_id in list(self.sessions):
                await self._stop(bot_id)
