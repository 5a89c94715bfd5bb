"""A bounded mailbox for one event stream: what ``asyncio.Queue`` does, minus what an
event stream does not need (task accounting, waiting putters), because the hub fills
thousands of them for every event."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Mailbox(Generic[T]):
    __slots__ = ("_items", "_limit", "_waiter")

    def __init__(self, limit: int) -> None:
        self._items: deque[T] = deque()
        self._limit = limit
        self._waiter: asyncio.Future[None] | None = None

    def offer(self, item: T) -> bool:
        """Add ``item`` unless the mailbox is full; False when it is."""
        if len(self._items) >= self._limit:
            return False
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        return True

    def replace_all(self, item: T) -> None:
        """Throw away what is waiting and leave only ``item``."""
        self._items.clear()
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def take_all(self) -> list[T]:
        """Everything waiting, oldest first; waits until there is something."""
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        items = list(self._items)
        self._items.clear()
        return items

    def __len__(self) -> int:
        return len(self._items)
