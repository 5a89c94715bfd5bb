"""Pure rules of the session worker: distribution of bots, pacing."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from uuid import UUID

from relay_session_worker.domain import WorkerSlot, assign
from relay_session_worker.pacing import PacingPolicy, SendRate, typing_time_s, warming_up

rng = random.Random(7)


def _bots(n: int) -> list[UUID]:
    return [UUID(int=rng.getrandbits(128)) for _ in range(n)]


def _workers(n: int, capacity: int = 1000) -> list[WorkerSlot]:
    return [WorkerSlot(f"w{i}", capacity) for i in range(n)]


def test_bots_are_spread_evenly() -> None:
    for bots, workers in ((60, 3), (1000, 7), (5, 8)):
        counts = Counter(assign(_bots(bots), _workers(workers)).values())
        assert sum(counts.values()) == bots
        assert max(counts.values()) - min(counts.values(), default=0) <= 1 or bots < workers


def test_every_worker_computes_the_same_assignment() -> None:
    bots, workers = _bots(100), _workers(4)
    assert assign(bots, workers) == assign(list(reversed(bots)), list(reversed(workers)))


def test_a_joining_worker_moves_only_a_fair_share() -> None:
    bots = _bots(300)
    before = assign(bots, _workers(3))
    after = assign(bots, _workers(4))
    moved = [b for b in bots if before[b] != after[b]]
    assert Counter(after.values())["w3"] == 75
    assert len(moved) <= 75 * 2  # close to the 75 the new worker must get


def test_a_dead_workers_bots_go_to_the_others_and_the_rest_mostly_stay() -> None:
    bots = _bots(300)
    before = assign(bots, _workers(3))
    after = assign(bots, _workers(3)[1:])
    assert "w0" not in after.values()
    kept = [b for b in bots if before[b] != "w0" and after[b] == before[b]]
    assert len(kept) >= 150


def test_capacity_bounds_what_a_worker_takes() -> None:
    workers = [WorkerSlot("small", 2), WorkerSlot("big", 100)]
    counts = Counter(assign(_bots(50), workers).values())
    assert counts == {"small": 2, "big": 48}
    over = assign(_bots(10), [WorkerSlot("only", 4)])
    assert len(over) == 4


def test_typing_time_grows_with_the_text_within_bounds() -> None:
    policy = PacingPolicy()
    assert typing_time_s(policy, "hi") == policy.typing_min_ms / 1000
    assert typing_time_s(policy, "x" * 10_000) == policy.typing_max_ms / 1000
    assert typing_time_s(policy, "x" * 60) < typing_time_s(policy, "x" * 100)
    assert typing_time_s(PacingPolicy(typing=False), "x" * 100) == 0


def test_rate_limit_waits_for_the_window() -> None:
    policy = PacingPolicy(per_minute=2, jitter_ms=0)
    rate = SendRate()
    assert rate.wait_s(policy, now=0.0) == 0
    rate._sent.extend([0.0, 10.0])
    assert rate.wait_s(policy, now=20.0) == 40.0
    assert rate.wait_s(policy, now=61.0) == 0


def test_warm_up_lasts_the_configured_days() -> None:
    policy = PacingPolicy(warmup_days=3)
    now = datetime.now(UTC)
    assert warming_up(policy, now - timedelta(days=1), now)
    assert not warming_up(policy, now - timedelta(days=4), now)


def test_unknown_pacing_keys_are_ignored_and_defaults_fill_in() -> None:
    policy = PacingPolicy.model_validate({"per_minute": 5, "from_a_newer_release": True})
    assert policy.per_minute == 5
    assert policy.first_contact is False
