"""A test's browser tab: reads a Server-Sent Events stream into a list."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass(frozen=True)
class SseEvent:
    name: str
    data: Any
    id: int | None


@dataclass
class EventStream:
    """``async with EventStream(client) as stream:`` collects events until it exits."""

    client: httpx.AsyncClient
    path: str = "/api/v1/events"
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    events: list[SseEvent] = field(default_factory=list)
    status: int | None = None
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> EventStream:
        self._task = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
            await self._task

    def named(self, *names: str) -> list[SseEvent]:
        return [e for e in self.events if e.name in names]

    @property
    def last_id(self) -> int | None:
        ids = [e.id for e in self.events if e.id is not None]
        return ids[-1] if ids else None

    async def _read(self) -> None:
        try:
            async with self.client.stream(
                "GET", self.path, headers=self.headers, params=self.params, timeout=None
            ) as response:
                self.status = response.status_code
                if response.status_code != 200:
                    await response.aread()
                    self.events.append(SseEvent("ERROR", response.json(), None))
                    return
                name, data, event_id = "message", "", None
                async for line in response.aiter_lines():
                    if line == "":
                        if data:
                            self.events.append(SseEvent(name, json.loads(data), event_id))
                        name, data, event_id = "message", "", None
                    elif line.startswith("event:"):
                        name = line[6:].strip()
                    elif line.startswith("data:"):
                        data += line[5:].strip()
                    elif line.startswith("id:"):
                        event_id = int(line[3:].strip())
        finally:
            self.closed.set()
