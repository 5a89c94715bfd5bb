"""A small circuit breaker: stop calling a provider that keeps failing, try again later.

closed -> open after ``failure_threshold`` consecutive failures; open -> half-open once
``cooldown_s`` has passed; in half-open one trial call goes through (the others are refused):
its success closes the breaker, its failure opens it for another cool-down.
No maintained asyncio breaker is installed, and this one is small enough to own.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from enum import StrEnum

from relay_common.logging import get_logger

log = get_logger(__name__)


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitOpenError(Exception):
    """The breaker refused the call: the provider failed too often lately."""

    def __init__(self, name: str, retry_in_s: float) -> None:
        super().__init__(f"circuit {name!r} is open; next trial in {retry_in_s:.1f} s")
        self.retry_in_s = retry_in_s


class CircuitBreaker:
    def __init__(
        self,
        failure_threshold: int = 5,
        cooldown_s: float = 30.0,
        *,
        name: str = "model",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.name = name
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_in_flight = False

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self.retry_in_s <= 0:
            self._state = BreakerState.HALF_OPEN
            log.info("model_breaker_half_open", breaker=self.name)
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    @property
    def retry_in_s(self) -> float:
        """Seconds until the next trial call is allowed; 0 unless open."""
        if self._state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self.cooldown_s - self._clock())

    @asynccontextmanager
    async def guard(self) -> AsyncIterator[None]:
        """Run the block as one call: an exception is a failure, a normal exit a success.

        Raises CircuitOpenError, without running the block, when the call is not allowed.
        """
        self._acquire()
        try:
            yield
        except Exception:
            self.record_failure()
            raise
        except BaseException:
            # Cancelled: no verdict on the provider, but free the half-open trial slot.
            self._trial_in_flight = False
            raise
        self.record_success()

    def _acquire(self) -> None:
        # No await between the check and the reservation: one trial even under concurrency.
        state = self.state
        if state is BreakerState.OPEN or (
            state is BreakerState.HALF_OPEN and self._trial_in_flight
        ):
            raise CircuitOpenError(self.name, self.retry_in_s)
        if state is BreakerState.HALF_OPEN:
            self._trial_in_flight = True

    def record_success(self) -> None:
        self._trial_in_flight = False
        self._failures = 0
        if self._state is not BreakerState.CLOSED:
            self._state = BreakerState.CLOSED
            log.info("model_breaker_closed", breaker=self.name)

    def record_failure(self) -> None:
        self._trial_in_flight = False
        self._failures += 1
        if self._state is BreakerState.OPEN:
            return  # a call started before the breaker opened: the cool-down is not extended
        if self._state is BreakerState.HALF_OPEN or self._failures >= self.failure_threshold:
            self._state = BreakerState.OPEN
            self._opened_at = self._clock()
            log.warning(
                "model_breaker_opened",
                breaker=self.name,
                failures=self._failures,
                cooldown_s=self.cooldown_s,
            )
