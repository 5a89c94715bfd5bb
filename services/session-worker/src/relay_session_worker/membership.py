"""Session workers and bot leases in NATS KV.

Workers announce themselves in the WORKERS bucket every heartbeat. A bot is held by the
worker whose key ``bot.<id>`` is in the LEASES bucket: created with compare-and-set
(``create`` fails when someone holds it), renewed with compare-and-set on its revision,
and gone by itself when not renewed within the bucket's TTL. A holder that cannot renew
stops the bot's session well before that TTL runs out, so no bot is ever live on two
workers.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from uuid import UUID

from nats.js.errors import (
    BucketNotFoundError,
    KeyDeletedError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    NoKeysError,
)
from nats.js.kv import KeyValue

from relay_common.bus import Bus
from relay_common.contract import subjects as s
from relay_session_worker.domain import WorkerSlot


@dataclass(frozen=True)
class LeaseTiming:
    lease_ttl_s: float = 5.0
    heartbeat_s: float = 1.0

    @property
    def worker_stale_s(self) -> float:
        """A worker not heard from for this long counts as gone."""
        return 3 * self.heartbeat_s

    @property
    def renew_every_s(self) -> float:
        return self.lease_ttl_s / 4

    @property
    def give_up_after_s(self) -> float:
        """Stop a session whose lease was last renewed this long ago (before the TTL ends)."""
        return self.lease_ttl_s * 0.6


async def _bucket(bus: Bus, name: str, ttl_s: float) -> KeyValue:
    bucket = s.stream_name(bus.prefix, name)
    try:
        return await bus.js.key_value(bucket)
    except BucketNotFoundError:
        return await bus.js.create_key_value(bucket=bucket, ttl=ttl_s, history=1)


class Membership:
    def __init__(self, bus: Bus, worker_id: str, capacity: int, timing: LeaseTiming) -> None:
        self.bus = bus
        self.worker_id = worker_id
        self.capacity = capacity
        self.timing = timing
        self._workers: KeyValue | None = None
        self._leases: KeyValue | None = None

    @property
    def workers(self) -> KeyValue:
        assert self._workers is not None, "open() first"
        return self._workers

    @property
    def leases(self) -> KeyValue:
        assert self._leases is not None, "open() first"
        return self._leases

    async def open(self) -> None:
        self._workers = await _bucket(
            self.bus, s.WORKERS_BUCKET, self.timing.worker_stale_s + self.timing.heartbeat_s
        )
        self._leases = await _bucket(self.bus, s.LEASES_BUCKET, self.timing.lease_ttl_s)

    async def heartbeat(self) -> None:
        record = {"worker_id": self.worker_id, "capacity": self.capacity, "seen_at": time.time()}
        await self.workers.put(self._worker_key, json.dumps(record).encode())

    @property
    def _worker_key(self) -> str:
        return "worker." + "".join(c if c.isalnum() or c in "-_" else "_" for c in self.worker_id)

    async def leave(self) -> None:
        with contextlib.suppress(KeyNotFoundError, KeyDeletedError):
            await self.workers.delete(self._worker_key)

    async def live_workers(self) -> list[WorkerSlot]:
        try:
            keys = await self.workers.keys()
        except NoKeysError:
            return []
        now = time.time()
        found: list[WorkerSlot] = []
        for key in keys:
            try:
                entry = await self.workers.get(key)
            except (KeyNotFoundError, KeyDeletedError):
                continue
            if not entry.value:
                continue
            record = json.loads(entry.value)
            if now - float(record["seen_at"]) < self.timing.worker_stale_s:
                found.append(WorkerSlot(str(record["worker_id"]), int(record["capacity"])))
        return sorted(found, key=lambda w: w.worker_id)

    def _lease_value(self) -> bytes:
        return json.dumps({"worker_id": self.worker_id, "at": time.time()}).encode()

    async def acquire(self, bot_id: UUID) -> int | None:
        """The lease's revision when we got it, None when another worker holds it."""
        try:
            return await self.leases.create(s.lease_key(bot_id), self._lease_value())
        except KeyWrongLastSequenceError:
            return None

    async def renew(self, bot_id: UUID, revision: int) -> int | None:
        """The new revision, or None when the lease expired or someone else took it."""
        try:
            return await self.leases.update(s.lease_key(bot_id), self._lease_value(), last=revision)
        except KeyWrongLastSequenceError:
            return None

    async def release(self, bot_id: UUID, revision: int) -> None:
        # Already expired or taken by another worker: nothing of ours to release.
        with contextlib.suppress(KeyWrongLastSequenceError, KeyNotFoundError, KeyDeletedError):
            await self.leases.delete(s.lease_key(bot_id), last=revision)

    async def holders(self) -> dict[UUID, str]:
        """Who holds which bot now (for status, tests and benchmarks)."""
        try:
            keys = await self.leases.keys()
        except NoKeysError:
            return {}
        found: dict[UUID, str] = {}
        for key in keys:
            bot_id = s.bot_of_lease_key(key)
            try:
                entry = await self.leases.get(key)
            except (KeyNotFoundError, KeyDeletedError):
                continue
            if bot_id is not None and entry.value:
                found[bot_id] = str(json.loads(entry.value)["worker_id"])
        return found
