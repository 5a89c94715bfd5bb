"""Transactional outbox: events written in the same transaction as the change they
describe, then published by a relay. A crash can no longer lose an event between the
commit and the publish; a crash between the publish and marking it published repeats it
with the same ``Nats-Msg-Id``, which JetStream drops inside its duplicate window.
"""

from __future__ import annotations

import json

import asyncpg

from relay_common.bus import Bus
from relay_common.bus import headers as h
from relay_common.contract.envelope import Envelope
from relay_common.db import DbConn
from relay_common.logging import get_logger
from relay_common.pump import Pump

log = get_logger(__name__)


async def stage(conn: DbConn, bus_prefix: str, message: Envelope) -> None:
    """Write ``message`` to the outbox inside the caller's transaction."""
    headers = {
        h.MSG_ID: message.dedupe_id(),
        h.SCHEMA: message.subject.path,
        h.CORRELATION_ID: str(message.correlation_id or message.event_id),
    }
    if message.causation_id:
        headers[h.CAUSATION_ID] = str(message.causation_id)
    await conn.execute(
        "INSERT INTO outbox (subject, msg_id, headers, payload) VALUES ($1, $2, $3, $4)",
        message.subject_for(bus_prefix),
        message.dedupe_id(),
        headers,
        message.model_dump_json().encode(),
    )


class OutboxRelay:
    """Publishes staged events in order; kicked after each commit, and polls as a backstop."""

    def __init__(self, bus: Bus, pool: asyncpg.Pool, poll_s: float = 1.0) -> None:
        self.bus = bus
        self.pool = pool
        self._pump = Pump("outbox", self.flush, poll_s)

    def kick(self) -> None:
        self._pump.kick()

    def start(self) -> None:
        self._pump.start()

    async def stop(self) -> None:
        await self._pump.stop()
        await self.flush()

    async def flush(self) -> int:
        """Publish everything pending; returns how many were published."""
        published = 0
        while True:
            async with self.pool.acquire() as conn, conn.transaction():
                rows = await conn.fetch(
                    """SELECT id, subject, headers, payload FROM outbox
                       WHERE published_at IS NULL ORDER BY id LIMIT 100
                       FOR UPDATE SKIP LOCKED"""
                )
                if not rows:
                    return published
                for row in rows:
                    headers = row["headers"]
                    if isinstance(headers, str):
                        headers = json.loads(headers)
                    await self.bus.js.publish(
                        row["subject"], bytes(row["payload"]), headers=headers, timeout=5
                    )
                await conn.execute(
                    "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])",
                    [r["id"] for r in rows],
                )
                published += len(rows)
