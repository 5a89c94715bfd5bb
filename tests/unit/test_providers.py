"""Model provider pieces that need no network: breaker, backoff, settings, JSON extraction."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from pydantic import BaseModel, SecretStr

from relay_ai_worker.providers import (
    BreakerState,
    ChatMessage,
    CircuitBreaker,
    CircuitOpenError,
    Completion,
    ModelResponseError,
    ModelSettings,
    ModelUnavailableError,
    OpenAICompatibleModel,
    build_model,
    extract_json,
)
from relay_ai_worker.providers.deepseek import _retry_after_s


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class BoomError(Exception):
    pass


def state(breaker: CircuitBreaker) -> BreakerState:
    # A call, not the property: mypy would otherwise narrow the state between assertions.
    return breaker.state


async def fail(breaker: CircuitBreaker) -> None:
    with pytest.raises(BoomError):
        async with breaker.guard():
            raise BoomError


async def succeed(breaker: CircuitBreaker) -> None:
    async with breaker.guard():
        pass


# Circuit breaker


async def test_breaker_opens_after_n_consecutive_failures_only() -> None:
    breaker = CircuitBreaker(3, 10.0, clock=FakeClock())
    await fail(breaker)
    await fail(breaker)
    await succeed(breaker)  # not consecutive any more
    await fail(breaker)
    await fail(breaker)
    assert state(breaker) is BreakerState.CLOSED
    await fail(breaker)
    assert state(breaker) is BreakerState.OPEN


async def test_an_open_breaker_refuses_without_running_the_call() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(1, 10.0, clock=clock)
    await fail(breaker)
    clock.now = 4.0
    ran = False
    with pytest.raises(CircuitOpenError) as refused:
        async with breaker.guard():
            ran = True
    assert not ran
    assert refused.value.retry_in_s == pytest.approx(6.0)


async def test_half_open_after_cooldown_then_closed_by_a_successful_trial() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(2, 10.0, clock=clock)
    await fail(breaker)
    await fail(breaker)
    clock.now = 9.99
    assert state(breaker) is BreakerState.OPEN
    clock.now = 10.0
    assert state(breaker) is BreakerState.HALF_OPEN
    await succeed(breaker)
    assert state(breaker) is BreakerState.CLOSED
    await fail(breaker)  # the count restarted from zero
    assert state(breaker) is BreakerState.CLOSED


async def test_a_failed_trial_reopens_for_a_full_cooldown() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(2, 10.0, clock=clock)
    await fail(breaker)
    await fail(breaker)
    clock.now = 15.0
    await fail(breaker)  # the trial
    assert state(breaker) is BreakerState.OPEN
    clock.now = 24.0
    assert state(breaker) is BreakerState.OPEN
    clock.now = 25.0
    assert state(breaker) is BreakerState.HALF_OPEN


async def test_half_open_allows_one_trial_at_a_time() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(1, 5.0, clock=clock)
    await fail(breaker)
    clock.now = 5.0
    release = asyncio.Event()

    async def trial() -> None:
        async with breaker.guard():
            await release.wait()

    task = asyncio.create_task(trial())
    await asyncio.sleep(0)
    with pytest.raises(CircuitOpenError):
        await succeed(breaker)
    release.set()
    await task
    assert state(breaker) is BreakerState.CLOSED


async def test_a_cancelled_trial_gives_no_verdict_but_frees_the_slot() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(1, 5.0, clock=clock)
    await fail(breaker)
    clock.now = 5.0

    async def hang() -> None:
        async with breaker.guard():
            await asyncio.Event().wait()

    task = asyncio.create_task(hang())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert state(breaker) is BreakerState.HALF_OPEN
    await succeed(breaker)
    assert state(breaker) is BreakerState.CLOSED


async def test_late_failures_do_not_extend_the_cooldown() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(1, 10.0, clock=clock)
    await fail(breaker)
    clock.now = 8.0
    breaker.record_failure()  # a call started before the breaker opened
    clock.now = 10.0
    assert state(breaker) is BreakerState.HALF_OPEN


def test_breaker_needs_a_positive_threshold() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        CircuitBreaker(0, 1.0)


# Backoff and Retry-After


@pytest.mark.parametrize(
    ("rand", "expected"),
    [(0.0, [0.25, 0.5, 1.0, 2.0, 4.0, 4.0]), (1.0, [0.5, 1.0, 2.0, 4.0, 8.0, 8.0])],
    ids=["min-jitter", "max-jitter"],
)
def test_backoff_is_exponential_with_equal_jitter_and_capped(
    rand: float, expected: list[float]
) -> None:
    model = OpenAICompatibleModel(
        "http://x", "k", "m", backoff_base_s=0.5, backoff_max_s=8.0, rand=lambda: rand
    )
    assert [model.backoff_s(n) for n in range(1, 7)] == pytest.approx(expected)


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert _retry_after_s("2") == 2.0
    assert _retry_after_s("0.5") == 0.5
    assert _retry_after_s("-3") == 0.0
    in_a_minute = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    assert 55 < (_retry_after_s(in_a_minute) or 0) <= 60
    past = format_datetime(datetime.now(UTC) - timedelta(seconds=60), usegmt=True)
    assert _retry_after_s(past) == 0.0
    for bad in (None, "", "soon", "nan", "inf"):
        assert _retry_after_s(bad) is None


def test_response_errors_carry_their_status() -> None:
    error = ModelResponseError("Insufficient Balance", status=402)
    assert error.status == 402
    assert str(error) == "HTTP 402: Insufficient Balance"
    assert ModelResponseError("garbage").status is None


# Settings


def test_model_settings_defaults_target_deepseek_without_a_key() -> None:
    settings = ModelSettings()
    assert settings.base_url == "https://api.deepseek.com"
    assert settings.model == "deepseek-chat"
    assert settings.api_key is None
    assert (settings.timeout_s, settings.max_retries) == (20.0, 3)
    assert (settings.backoff_base_s, settings.backoff_max_s) == (0.5, 8.0)
    assert (settings.breaker_failures, settings.breaker_cooldown_s) == (5, 30.0)
    assert all(f.description for f in ModelSettings.model_fields.values())


@pytest.mark.parametrize("key", ["", "   ", SecretStr("")])
def test_a_blank_key_means_no_key(key: str | SecretStr) -> None:
    assert ModelSettings.model_validate({"api_key": key}).api_key is None


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="timeout_s"):
        ModelSettings(timeout_s=0)
    with pytest.raises(ValueError, match="breaker_failures"):
        ModelSettings(breaker_failures=0)


def test_the_key_is_not_shown() -> None:
    settings = ModelSettings(api_key=SecretStr("sk-secret"))
    assert "sk-secret" not in repr(settings)


async def test_build_model_needs_a_key() -> None:
    assert build_model(ModelSettings()) is None


async def test_build_model_wires_the_settings() -> None:
    settings = ModelSettings.model_validate(
        {
            "api_key": "sk-1",
            "base_url": "https://example.test/v1/",
            "model": "other",
            "max_retries": 1,
            "breaker_failures": 7,
            "breaker_cooldown_s": 12,
        }
    )
    model = build_model(settings)
    assert model is not None
    try:
        assert model.url == "https://example.test/v1/chat/completions"
        assert model.model == "other"
        assert model.max_retries == 1
        assert (model.breaker.failure_threshold, model.breaker.cooldown_s) == (7, 12.0)
    finally:
        await model.aclose()


# extract_json


class Lead(BaseModel):
    name: str
    city: str | None = None


class CannedModel:
    def __init__(self, text: str = "", error: Exception | None = None) -> None:
        self.text = text
        self.error = error
        self.calls: list[dict[str, object]] = []

    async def complete(
        self,
        messages: list[ChatMessage],
        *,
        json_object: bool = False,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Completion:
        self.calls.append(
            {"json_object": json_object, "max_tokens": max_tokens, "temperature": temperature}
        )
        if self.error:
            raise self.error
        return Completion(self.text, 1, 1, "canned", "stop")


ASK = [ChatMessage("user", "Answer in JSON: {name, city}")]


async def test_extract_json_asks_for_a_json_object_and_validates_it() -> None:
    model = CannedModel('{"name": "Ana", "city": "Madrid", "ignored": 1}')
    assert await extract_json(model, ASK, Lead, max_tokens=50) == Lead(name="Ana", city="Madrid")
    assert model.calls == [{"json_object": True, "max_tokens": 50, "temperature": None}]


async def test_extract_json_accepts_a_fenced_object() -> None:
    model = CannedModel('```json\n{"name": "Ana"}\n```')
    assert await extract_json(model, ASK, Lead) == Lead(name="Ana")


@pytest.mark.parametrize(
    "text", ["", "Ana from Madrid", '{"city": "Madrid"}', '{"name": 3}', "[1, 2]"]
)
async def test_extract_json_returns_none_when_the_answer_does_not_fit(text: str) -> None:
    assert await extract_json(CannedModel(text), ASK, Lead) is None


@pytest.mark.parametrize(
    "error", [ModelUnavailableError("down"), ModelResponseError("bad", status=400)]
)
async def test_extract_json_lets_model_errors_through(error: Exception) -> None:
    with pytest.raises(type(error)):
        await extract_json(CannedModel(error=error), ASK, Lead)
