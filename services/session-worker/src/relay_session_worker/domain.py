"""Pure rules of the session worker: ids, which worker should hold which bot, pacing."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID


def outgoing_message_id(command_id: UUID) -> str:
    """WhatsApp message id for a send command, derived from it so a retry reuses it.

    WhatsApp Web ids are upper-case hex starting with ``3EB0``; the receiving side drops
    a second message with an id it already has.
    """
    return "3EB0" + command_id.hex[:16].upper()


@dataclass(frozen=True)
class WorkerSlot:
    worker_id: str
    capacity: int


def _score(bot_id: UUID, worker_id: str) -> int:
    digest = hashlib.blake2b(f"{bot_id}/{worker_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _ranked(bot: UUID, workers: Sequence[str]) -> list[str]:
    return sorted(workers, key=lambda worker: _score(bot, worker), reverse=True)


def assign(bots: Sequence[UUID], workers: Sequence[WorkerSlot]) -> dict[UUID, str]:
    """Which worker should hold each bot: balanced, stable, the same on every worker.

    Rendezvous hashing with bounded load: each bot goes to its highest-scoring worker that
    is below its fair share (all bots over all workers, rounded up) and its capacity. The
    result depends only on the inputs, so workers that see the same bots and workers agree
    without talking; a joining or leaving worker moves few bots. Bots beyond the total
    capacity are left out.
    """
    if not workers or not bots:
        return {}
    fair = math.ceil(len(bots) / len(workers))
    load = dict.fromkeys((w.worker_id for w in workers), 0)
    capacity = {w.worker_id: w.capacity for w in workers}
    result: dict[UUID, str] = {}
    pending: list[UUID] = []
    for bot in sorted(bots):
        chosen = next(
            (w for w in _ranked(bot, list(load)) if load[w] < min(fair, capacity[w])), None
        )
        if chosen is None:
            pending.append(bot)
            continue
        result[bot] = chosen
        load[chosen] += 1
    for bot in pending:  # fair shares are full; spread the rest over spare capacity
        spare = next((w for w in _ranked(bot, list(load)) if load[w] < capacity[w]), None)
        if spare is not None:
            result[bot] = spare
            load[spare] += 1
    return result
