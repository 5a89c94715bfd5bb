"""The OpenAI-compatible provider, real httpx against a scripted OpenAI-like server on loopback."""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from relay_ai_worker.providers import (
    BreakerState,
    ChatMessage,
    CircuitBreaker,
    ModelResponseError,
    ModelUnavailableError,
    OpenAICompatibleModel,
    extract_json,
)
from relay_common.embedded import free_port
from relay_common.health import HttpServer

HELLO = [ChatMessage("system", "You sell shoes."), ChatMessage("user", "hi")]


@dataclass
class Reply:
    """What the scripted server answers to one request."""

    status: int = 200
    body: dict[str, Any] | str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class Seen:
    at: float
    body: dict[str, Any]
    headers: dict[str, str]


def completion(content: str | None = "Hello!", **extra: Any) -> Reply:
    return Reply(
        body={
            "id": "cmpl-1",
            "object": "chat.completion",
            "model": "deepseek-chat",
            "system_fingerprint": "fp_test",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": 12,
                "completion_tokens": 3,
                "total_tokens": 15,
                "prompt_cache_hit_tokens": 0,
            },
            **extra,
        }
    )


def error(status: int, message: str = "nope", **headers: str) -> Reply:
    return Reply(status, {"error": {"message": message, "type": "test"}}, headers)


class ScriptedLLM:
    """An OpenAI-compatible /chat/completions answering from a script, recording each request."""

    def __init__(self) -> None:
        self.script: deque[Reply] = deque()
        self.seen: list[Seen] = []
        self.base_url = ""

    def reset(self, *replies: Reply) -> None:
        self.script = deque(replies)
        self.seen = []

    @property
    def attempts(self) -> int:
        return len(self.seen)

    def gaps(self) -> list[float]:
        return [b.at - a.at for a, b in zip(self.seen, self.seen[1:], strict=False)]

    async def handle(self, request: Request) -> Response:
        self.seen.append(Seen(time.monotonic(), await request.json(), dict(request.headers)))
        reply = self.script.popleft() if self.script else error(418, "script exhausted")
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        if isinstance(reply.body, str):
            return PlainTextResponse(reply.body, reply.status, reply.headers)
        if reply.body is None:
            return Response(status_code=reply.status, headers=reply.headers)
        return JSONResponse(reply.body, reply.status, reply.headers)


@pytest.fixture(scope="module")
async def llm_server() -> AsyncIterator[ScriptedLLM]:
    llm = ScriptedLLM()
    app = Starlette(routes=[Route("/v1/chat/completions", llm.handle, methods=["POST"])])
    server = HttpServer(app, "127.0.0.1", 0)
    await server.start()
    llm.base_url = f"http://127.0.0.1:{server.port}/v1/"
    yield llm
    await server.stop()


@pytest.fixture
def llm(llm_server: ScriptedLLM) -> ScriptedLLM:
    llm_server.reset()
    return llm_server


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class RecordingSleep:
    """Really sleeps, and remembers how long it was asked to."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(delay)


def make_model(base_url: str, **options: Any) -> OpenAICompatibleModel:
    defaults: dict[str, Any] = {
        "timeout_s": 2.0,
        "max_retries": 3,
        "backoff_base_s": 0.02,
        "backoff_max_s": 0.1,
        "rand": lambda: 1.0,  # jitter at its maximum: delays are exactly the ceiling
    }
    return OpenAICompatibleModel(base_url, "sk-test", "deepseek-chat", **(defaults | options))


async def test_a_completion_is_sent_with_auth_and_parsed_with_its_usage(llm: ScriptedLLM) -> None:
    llm.reset(completion("Hi, which size?"))
    async with make_model(llm.base_url) as model:
        answer = await model.complete(HELLO, max_tokens=200, temperature=0.3)

    assert answer.text == "Hi, which size?"
    assert (answer.prompt_tokens, answer.completion_tokens) == (12, 3)
    assert answer.model == "deepseek-chat"
    assert answer.finish_reason == "stop"
    [request] = llm.seen
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.body == {
        "model": "deepseek-chat",
        "messages": [
            {"role": "system", "content": "You sell shoes."},
            {"role": "user", "content": "hi"},
        ],
        "max_tokens": 200,
        "temperature": 0.3,
    }


async def test_missing_usage_and_null_content_are_tolerated(llm: ScriptedLLM) -> None:
    reply = completion(None)
    assert isinstance(reply.body, dict)
    del reply.body["usage"]
    llm.reset(reply)
    async with make_model(llm.base_url) as model:
        answer = await model.complete(HELLO)
    assert (answer.text, answer.prompt_tokens, answer.completion_tokens) == ("", 0, 0)


async def test_an_injected_client_is_used_and_left_open(llm: ScriptedLLM) -> None:
    import httpx

    llm.reset(completion("one"), completion("two"))
    async with httpx.AsyncClient() as client:
        async with make_model(llm.base_url, client=client) as model:
            assert (await model.complete(HELLO)).text == "one"
        assert not client.is_closed
        async with make_model(llm.base_url, client=client) as model:
            assert (await model.complete(HELLO)).text == "two"


async def test_json_object_mode_sends_response_format_and_extract_json_validates(
    llm: ScriptedLLM,
) -> None:
    class Lead(BaseModel):
        name: str
        budget_eur: int | None = None

    llm.reset(completion(json.dumps({"name": "Ana", "budget_eur": 80, "extra": True})))
    async with make_model(llm.base_url) as model:
        lead = await extract_json(model, HELLO, Lead, temperature=0.0)

    assert lead == Lead(name="Ana", budget_eur=80)
    assert llm.seen[0].body["response_format"] == {"type": "json_object"}
    assert llm.seen[0].body["temperature"] == 0.0


@pytest.mark.parametrize(
    "content",
    ["not json at all", '{"budget_eur": 80}', '{"name": "Ana"', ""],
    ids=["prose", "missing-field", "truncated", "empty"],
)
async def test_extract_json_returns_none_for_what_does_not_fit_and_does_not_retry(
    llm: ScriptedLLM, content: str
) -> None:
    class Lead(BaseModel):
        name: str

    llm.reset(completion(content))
    async with make_model(llm.base_url) as model:
        assert await extract_json(model, HELLO, Lead) is None
    assert llm.attempts == 1


async def test_extract_json_lets_unavailability_through(llm: ScriptedLLM) -> None:
    class Lead(BaseModel):
        name: str

    llm.reset(error(503), error(503))
    async with make_model(llm.base_url, max_retries=1) as model:
        with pytest.raises(ModelUnavailableError):
            await extract_json(model, HELLO, Lead)
    assert llm.attempts == 2


async def test_429_without_retry_after_backs_off_exponentially_then_succeeds(
    llm: ScriptedLLM,
) -> None:
    llm.reset(error(429), error(429), error(429), completion("finally"))
    sleep = RecordingSleep()
    async with make_model(llm.base_url, sleep=sleep) as model:
        answer = await model.complete(HELLO)

    assert answer.text == "finally"
    assert llm.attempts == 4
    assert sleep.delays == pytest.approx([0.02, 0.04, 0.08])
    for gap, delay in zip(llm.gaps(), sleep.delays, strict=True):
        assert delay <= gap < delay + 0.5


async def test_jitter_spreads_delays_within_the_exponential_ceiling(llm: ScriptedLLM) -> None:
    llm.reset(error(500), error(500), error(500), completion())
    sleep = RecordingSleep()
    async with make_model(llm.base_url, sleep=sleep, rand=lambda: 0.0) as model:
        await model.complete(HELLO)
    # Equal jitter at its minimum: half of each ceiling (0.02, 0.04, 0.08).
    assert sleep.delays == pytest.approx([0.01, 0.02, 0.04])


async def test_429_retry_after_is_honoured(llm: ScriptedLLM) -> None:
    llm.reset(error(429, **{"Retry-After": "0.3"}), completion("ok"))
    sleep = RecordingSleep()
    async with make_model(llm.base_url, sleep=sleep, backoff_max_s=1.0) as model:
        assert (await model.complete(HELLO)).text == "ok"
    assert sleep.delays == [0.3]
    [gap] = llm.gaps()
    assert 0.3 <= gap < 0.8


async def test_429_retry_after_is_bounded(llm: ScriptedLLM) -> None:
    llm.reset(error(429, **{"Retry-After": "3600"}), completion("ok"))
    sleep = RecordingSleep()
    async with make_model(llm.base_url, sleep=sleep, backoff_max_s=0.15) as model:
        assert (await model.complete(HELLO)).text == "ok"
    assert sleep.delays == [0.15]


async def test_5xx_are_retried_until_the_attempts_run_out(llm: ScriptedLLM) -> None:
    llm.reset(error(500), error(502), Reply(503, "<html>busy</html>"), error(500), completion())
    sleep = RecordingSleep()
    async with make_model(llm.base_url, sleep=sleep, backoff_max_s=0.05) as model:
        with pytest.raises(ModelUnavailableError, match="HTTP 500"):
            await model.complete(HELLO)
    assert llm.attempts == 4
    assert sleep.delays == pytest.approx([0.02, 0.04, 0.05])  # capped at backoff_max_s


async def test_a_slow_answer_times_out_and_is_retried(llm: ScriptedLLM) -> None:
    llm.reset(Reply(delay_s=0.5, body=completion("late").body), completion("quick"))
    async with make_model(llm.base_url, timeout_s=0.1) as model:
        started = time.monotonic()
        answer = await model.complete(HELLO)
    assert answer.text == "quick"
    assert llm.attempts == 2
    assert time.monotonic() - started < 0.45


async def test_answers_always_too_slow_make_the_model_unavailable(llm: ScriptedLLM) -> None:
    slow = completion().body
    llm.reset(*(Reply(delay_s=0.3, body=slow) for _ in range(3)))
    async with make_model(llm.base_url, timeout_s=0.05, max_retries=2) as model:
        with pytest.raises(ModelUnavailableError, match="no answer within"):
            await model.complete(HELLO)
    assert llm.attempts == 3


async def test_connection_errors_are_retried() -> None:
    sleep = RecordingSleep()
    nobody = f"http://127.0.0.1:{free_port()}"
    async with make_model(nobody, sleep=sleep, max_retries=2) as model:
        with pytest.raises(ModelUnavailableError, match="connection failed"):
            await model.complete(HELLO)
    assert len(sleep.delays) == 2
    assert model.breaker.consecutive_failures == 3


async def test_wrong_key_is_reported_without_retry(llm: ScriptedLLM) -> None:
    llm.reset(error(401, "Authentication Fails"))
    async with make_model(llm.base_url) as model:
        with pytest.raises(ModelResponseError, match="API key is wrong") as raised:
            await model.complete(HELLO)
    assert raised.value.status == 401
    assert llm.attempts == 1


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (error(400, "Invalid request: messages too long"), "messages too long"),
        (error(402, "Insufficient Balance"), "Insufficient Balance"),
        (Reply(422, "unprocessable"), "unprocessable"),
    ],
    ids=["400", "402", "422-text"],
)
async def test_other_4xx_are_not_retried_and_say_why(
    llm: ScriptedLLM, reply: Reply, message: str
) -> None:
    llm.reset(reply, completion())
    async with make_model(llm.base_url) as model:
        with pytest.raises(ModelResponseError, match=message) as raised:
            await model.complete(HELLO)
    assert raised.value.status == reply.status
    assert llm.attempts == 1


@pytest.mark.parametrize(
    "body",
    [
        "this is not json",
        {"id": "x", "choices": []},
        {"id": "x"},
        {"choices": [{"message": "flat string"}]},
    ],
    ids=["not-json", "no-choice", "no-choices-key", "bad-message"],
)
async def test_malformed_bodies_are_response_errors_and_count_for_the_breaker(
    llm: ScriptedLLM, body: dict[str, Any] | str
) -> None:
    llm.reset(Reply(200, body), completion())
    async with make_model(llm.base_url) as model:
        with pytest.raises(ModelResponseError, match="unexpected response body"):
            await model.complete(HELLO)
        assert model.breaker.consecutive_failures == 1
    assert llm.attempts == 1


async def test_breaker_opens_after_consecutive_failures_and_half_opens_after_cooldown(
    llm: ScriptedLLM,
) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(4, 30.0, clock=clock)
    llm.reset(*(error(500) for _ in range(5)), completion("back"))
    async with make_model(llm.base_url, max_retries=2, breaker=breaker) as model:
        with pytest.raises(ModelUnavailableError):
            await model.complete(HELLO)  # three failed attempts
        assert (llm.attempts, breaker.state) == (3, BreakerState.CLOSED)

        with pytest.raises(ModelUnavailableError):
            await model.complete(HELLO)  # the fourth opens it: no more retries
        assert (llm.attempts, breaker.state) == (4, BreakerState.OPEN)

        with pytest.raises(ModelUnavailableError, match="open"):
            await model.complete(HELLO)  # refused without a request
        assert llm.attempts == 4

        clock.now += 30
        assert breaker.state is BreakerState.HALF_OPEN
        with pytest.raises(ModelUnavailableError):
            await model.complete(HELLO)  # the trial fails: open again, not retried
        assert (llm.attempts, breaker.state) == (5, BreakerState.OPEN)

        clock.now += 29
        with pytest.raises(ModelUnavailableError):
            await model.complete(HELLO)
        assert llm.attempts == 5

        clock.now += 1
        assert (await model.complete(HELLO)).text == "back"
        assert (llm.attempts, breaker.state) == (6, BreakerState.CLOSED)


async def test_half_open_lets_a_single_trial_through(llm: ScriptedLLM) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(1, 10.0, clock=clock)
    llm.reset(error(500), Reply(delay_s=0.2, body=completion("trial").body))
    async with make_model(llm.base_url, max_retries=0, breaker=breaker) as model:
        with pytest.raises(ModelUnavailableError):
            await model.complete(HELLO)
        clock.now += 10
        trial = asyncio.create_task(model.complete(HELLO))
        await asyncio.sleep(0.05)
        with pytest.raises(ModelUnavailableError, match="open"):
            await model.complete(HELLO)
        assert (await trial).text == "trial"
    assert llm.attempts == 2
    assert breaker.state is BreakerState.CLOSED


async def test_a_success_after_retries_resets_the_failure_count(llm: ScriptedLLM) -> None:
    breaker = CircuitBreaker(3, 30.0)
    llm.reset(error(500), error(500), completion(), error(500), error(500), completion())
    async with make_model(llm.base_url, max_retries=2, breaker=breaker) as model:
        await model.complete(HELLO)
        await model.complete(HELLO)
    assert breaker.state is BreakerState.CLOSED
    assert llm.attempts == 6


async def test_wrong_keys_open_the_breaker_too(llm: ScriptedLLM) -> None:
    breaker = CircuitBreaker(2, 30.0)
    llm.reset(error(401), error(401), completion())
    async with make_model(llm.base_url, breaker=breaker) as model:
        for _ in range(2):
            with pytest.raises(ModelResponseError):
                await model.complete(HELLO)
        with pytest.raises(ModelUnavailableError):
            await model.complete(HELLO)
    assert llm.attempts == 2
