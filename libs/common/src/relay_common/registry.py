"""Running service instances announce themselves in a NATS KV bucket with a TTL.

`relay status`, the gateway's stack readiness and ops tools read it to find every live
instance and its health URL, on one machine or across a cluster.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from dataclasses import asdict, dataclass

from nats.js.errors import BucketNotFoundError, KeyNotFoundError, NoKeysError
from nats.js.kv import KeyValue

from relay_common.bus.client import Bus
from relay_common.contract.subjects import services_bucket
from relay_common.logging import get_logger

log = get_logger(__name__)

HEARTBEAT_S = 2.0
TTL_S = 10.0
STALE_S = 2.5 * HEARTBEAT_S
"""An instance not heard from for this long is taken as gone, before its key expires."""


@dataclass(frozen=True)
class ServiceInstance:
    service: str
    instance: str
    pid: int
    health_url: str
    started_at: float
    seen_at: float


def _key(service: str, instance: str) -> str:
    return f"{service}.{re.sub(r'[^A-Za-z0-9_-]', '_', instance)}"


async def services_kv(bus: Bus) -> KeyValue:
    bucket = services_bucket(bus.prefix)
    try:
        return await bus.js.key_value(bucket)
    except BucketNotFoundError:
        return await bus.js.create_key_value(bucket=bucket, ttl=TTL_S, history=1)


async def list_instances(bus: Bus) -> list[ServiceInstance]:
    kv = await services_kv(bus)
    try:
        keys = await kv.keys()
    except NoKeysError:
        return []
    found: list[ServiceInstance] = []
    for key in keys:
        try:
            entry = await kv.get(key)
        except KeyNotFoundError:
            continue
        if entry.value:
            found.append(ServiceInstance(**json.loads(entry.value)))
    now = time.time()
    return [i for i in found if now - i.seen_at < STALE_S]


class Announcer:
    def __init__(self, bus: Bus, service: str, instance: str, health_url: str) -> None:
        self.bus = bus
        self.key = _key(service, instance)
        self.started_at = time.time()
        self.service = service
        self.instance = instance
        self.health_url = health_url
        self._task: asyncio.Task[None] | None = None
        self._kv: KeyValue | None = None

    async def start(self) -> None:
        self._kv = await services_kv(self.bus)
        await self._beat()
        self._task = asyncio.create_task(self._loop(), name="announcer")

    async def _beat(self) -> None:
        assert self._kv is not None
        record = ServiceInstance(
            self.service, self.instance, os.getpid(), self.health_url, self.started_at, time.time()
        )
        await self._kv.put(self.key, json.dumps(asdict(record)).encode())

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                await self._beat()
            except Exception as exc:
                log.warning("announce_failed", error=str(exc))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with_suppress = asyncio.gather(self._task, return_exceptions=True)
            await with_suppress
        if self._kv is not None:
            try:
                await self._kv.delete(self.key)
            except Exception as exc:
                log.warning("announce_delete_failed", error=str(exc))
