"""Measures the pauses of Python's garbage collector: in a process holding thousands of
connections, a full collection can stop everything for a noticeable time."""

from __future__ import annotations

import gc
import time
from typing import Any

from relay_common.logging import get_logger
from relay_common.metrics import GC_PAUSE_SECONDS

log = get_logger(__name__)

SLOW_PAUSE_S = 0.1
_started: dict[int, float] = {}


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    generation = int(info["generation"])
    if phase == "start":
        _started[generation] = time.perf_counter()
        return
    pause = time.perf_counter() - _started.pop(generation, time.perf_counter())
    GC_PAUSE_SECONDS.labels(str(generation)).observe(pause)
    if pause > SLOW_PAUSE_S:
        log.warning("gc_pause", generation=generation, pause_ms=round(pause * 1000, 1))


def watch_gc() -> None:
    if _on_gc not in gc.callbacks:
        gc.callbacks.append(_on_gc)
