"""Waiting for something that happens asynchronously, with a bound."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, within_s: float = 20.0, what: str = "condition"
) -> T:
    """Call ``probe`` until it returns something other than None/False; fail after the bound."""
    deadline = time.monotonic() + within_s
    while True:
        result = await probe()
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {within_s} s")
        await asyncio.sleep(0.1)
