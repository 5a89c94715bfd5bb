"""Fan-out of bus events to the browsers of each workspace.

One NATS subscription per gateway process, however many browsers: each event goes to
the bounded queues of the clients of its workspace (the workspace id is in the subject).
A client whose queue is full is dropped, never the gateway; the browser reconnects.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from uuid import UUID

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from relay_common.bus import Bus
from relay_common.contract import subjects as s
from relay_common.logging import get_logger
from relay_common.metrics import SSE_CLIENTS
from relay_gateway.qr import qr_data_url

log = get_logger(__name__)

FORWARDED_STREAMS = (s.LEADS, s.SESSIONS)


@dataclass(frozen=True)
class BusEvent:
    name: str
    """Subject path without prefix and ids, e.g. ``lead.message.v1``."""
    data: str


@dataclass
class Client:
    id: int
    workspace_id: UUID
    queue: asyncio.Queue[BusEvent]
    dropped: asyncio.Event = field(default_factory=asyncio.Event)


def _for_browsers(path: str, data: bytes) -> str:
    """The payload as browsers get it: a QR code also comes as an image to show."""
    if path == s.SESSION_STATE.path and b'"qr_code":"' in data:
        payload = json.loads(data)
        payload["qr_data_url"] = qr_data_url(payload["qr_code"])
        return json.dumps(payload)
    return data.decode()


class EventHub:
    def __init__(self, bus: Bus, queue_size: int) -> None:
        self.bus = bus
        self.queue_size = queue_size
        self._clients: dict[UUID, dict[int, Client]] = {}
        self._ids = itertools.count(1)
        self._subs: list[Subscription] = []

    async def start(self) -> None:
        for stream in FORWARDED_STREAMS:
            self._subs.append(
                await self.bus.nc.subscribe(stream.wildcard(self.bus.prefix), cb=self._on)
            )

    async def stop(self) -> None:
        for sub in self._subs:
            await sub.unsubscribe()
        for clients in self._clients.values():
            for client in clients.values():
                client.dropped.set()

    async def _on(self, msg: Msg) -> None:
        address = s.parse(self.bus.prefix, msg.subject)
        if address is None:
            return
        clients = self._clients.get(address.workspace_id)
        if not clients:
            return
        event = BusEvent(address.path, _for_browsers(address.path, msg.data))
        for client in list(clients.values()):
            try:
                client.queue.put_nowait(event)
            except asyncio.QueueFull:
                log.warning("sse_client_dropped", client=client.id, reason="slow")
                client.dropped.set()
                self.remove(client)

    def add(self, workspace_id: UUID) -> Client:
        client = Client(next(self._ids), workspace_id, asyncio.Queue(self.queue_size))
        self._clients.setdefault(workspace_id, {})[client.id] = client
        SSE_CLIENTS.inc()
        return client

    def remove(self, client: Client) -> None:
        clients = self._clients.get(client.workspace_id, {})
        if clients.pop(client.id, None) is not None:
            SSE_CLIENTS.dec()
        if not clients:
            self._clients.pop(client.workspace_id, None)
