"""OpenAI-compatible chat completions over httpx: DeepSeek, and any server speaking the same API."""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from relay_ai_worker.providers.base import (
    ChatMessage,
    ChatModel,
    Completion,
    ModelResponseError,
    ModelUnavailableError,
)
from relay_ai_worker.providers.breaker import BreakerState, CircuitBreaker, CircuitOpenError
from relay_common.logging import get_logger

log = get_logger(__name__)

DEEPSEEK_BASE_URL = "https://api.deepseek.com"
DEEPSEEK_CHAT_MODEL = "deepseek-chat"

M = TypeVar("M", bound=BaseModel)


class _Response(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Message(_Response):
    content: str | None = None


class _Choice(_Response):
    message: _Message
    finish_reason: str | None = None


class _Usage(_Response):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class _ChatCompletion(_Response):
    model: str | None = None
    choices: list[_Choice] = Field(min_length=1)
    usage: _Usage | None = None


class _RetryableError(Exception):
    """A failure worth another attempt: rate limit, server error, timeout, connection."""

    def __init__(self, reason: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s


class OpenAICompatibleModel:
    """POSTs to ``{base_url}/chat/completions`` with retries, backoff and a circuit breaker.

    Every failed attempt counts for the breaker; once it opens, calls fail fast with
    ModelUnavailableError until its cool-down has passed.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        model: str,
        *,
        timeout_s: float = 20.0,
        max_retries: int = 3,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 8.0,
        breaker: CircuitBreaker | None = None,
        client: httpx.AsyncClient | None = None,
        retry_after_max_s: float | None = None,
        rand: Callable[[], float] = random.random,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.url = f"{base_url.rstrip('/')}/chat/completions"
        self.model = model
        self.max_retries = max_retries
        self.breaker = breaker or CircuitBreaker(name=model)
        self._api_key = api_key
        self._timeout_s = timeout_s
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._retry_after_max_s = backoff_max_s if retry_after_max_s is None else retry_after_max_s
        self._rand = rand
        self._sleep = sleep
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(timeout_s))

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> OpenAICompatibleModel:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def backoff_s(self, retry: int) -> float:
        """Delay before retry number ``retry`` (1 = the first retry): exponential, equal jitter.

        Half the delay is fixed so that we always back off; the random half spreads the
        retries of many conversations hitting the same rate limit.
        """
        ceiling = min(self._backoff_max_s, self._backoff_base_s * 2.0 ** (retry - 1))
        return ceiling / 2 + self._rand() * ceiling / 2

    async def complete(
        self,
        messages: list[ChatMessage],
        *,
        json_object: bool = False,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Completion:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
        }
        if json_object:
            payload["response_format"] = {"type": "json_object"}
        if max_tokens is not None:
            payload["max_tokens"] = max_tokens
        if temperature is not None:
            payload["temperature"] = temperature

        started = time.monotonic()
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_retries + 1),
            wait=self._wait,
            # Once the breaker is open, another attempt would be refused: give up now.
            retry=retry_if_exception(
                lambda exc: (
                    isinstance(exc, _RetryableError) and self.breaker.state is not BreakerState.OPEN
                )
            ),
            sleep=self._sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            async for step in retrying:
                with step:
                    completion = await self._attempt(payload)
                    log.info(
                        "model_completed",
                        model=completion.model,
                        prompt_tokens=completion.prompt_tokens,
                        completion_tokens=completion.completion_tokens,
                        attempts=step.retry_state.attempt_number,
                        elapsed_s=round(time.monotonic() - started, 3),
                    )
                    return completion
        except (_RetryableError, CircuitOpenError) as exc:
            log.warning("model_unavailable", model=self.model, reason=str(exc))
            raise ModelUnavailableError(f"{self.model}: {exc}") from exc
        except ModelResponseError as exc:
            log.warning("model_response_error", model=self.model, status=exc.status, error=str(exc))
            raise
        raise AssertionError("unreachable")

    async def _attempt(self, payload: dict[str, Any]) -> Completion:
        async with self.breaker.guard():
            try:
                async with asyncio.timeout(self._timeout_s):
                    response = await self._client.post(
                        self.url,
                        json=payload,
                        headers={"Authorization": f"Bearer {self._api_key}"},
                        timeout=self._timeout_s,
                    )
            except (TimeoutError, httpx.TimeoutException) as exc:
                raise _RetryableError(f"no answer within {self._timeout_s} s") from exc
            except httpx.TransportError as exc:
                raise _RetryableError(f"connection failed: {type(exc).__name__}") from exc
            except httpx.HTTPError as exc:
                raise ModelResponseError(f"unreadable response: {type(exc).__name__}") from exc
            return self._parse(response)

    def _parse(self, response: httpx.Response) -> Completion:
        status = response.status_code
        if status == 429:
            retry_after = _retry_after_s(response.headers.get("retry-after"))
            raise _RetryableError("rate limited (HTTP 429)", retry_after_s=retry_after)
        if status >= 500:
            raise _RetryableError(f"server error (HTTP {status})")
        if status == 401:
            raise ModelResponseError("the API key is wrong (unauthorized)", status=status)
        if not 200 <= status < 300:
            raise ModelResponseError(_error_message(response), status=status)
        try:
            body = _ChatCompletion.model_validate_json(response.content)
        except ValidationError as exc:
            problem = exc.errors(include_url=False, include_input=False)[0]
            where = ".".join(str(p) for p in problem["loc"]) or "body"
            raise ModelResponseError(
                f"unexpected response body: {where}: {problem['msg']}", status=status
            ) from exc
        choice = body.choices[0]
        usage = body.usage or _Usage()
        return Completion(
            text=choice.message.content or "",
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            model=body.model or self.model,
            finish_reason=choice.finish_reason,
        )

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _RetryableError) and exc.retry_after_s is not None:
            return min(exc.retry_after_s, self._retry_after_max_s)
        return self.backoff_s(state.attempt_number)

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "model_retry",
            model=self.model,
            attempt=state.attempt_number,
            reason=str(exc),
            delay_s=round(state.upcoming_sleep, 3),
        )


def _retry_after_s(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date; None if absent or bad."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _error_message(response: httpx.Response) -> str:
    """The provider's own explanation (OpenAI error shape), else the start of the body."""
    message: object = None
    try:
        body = response.json()
        if isinstance(body, dict):
            error = body.get("error")
            message = error.get("message") if isinstance(error, dict) else error
    except ValueError:
        pass
    text = str(message) if message else response.text.strip() or response.reason_phrase
    return text[:200]


def _strip_code_fence(text: str) -> str:
    # Some models wrap JSON in a Markdown fence even when asked for a bare object.
    stripped = text.strip()
    if stripped.startswith("```") and stripped.endswith("```"):
        stripped = stripped[3:-3]
        if stripped.startswith("json"):
            stripped = stripped[4:]
    return stripped.strip()


async def extract_json(
    model: ChatModel,
    messages: list[ChatMessage],
    schema: type[M],
    *,
    max_tokens: int | None = None,
    temperature: float | None = None,
) -> M | None:
    """Ask for a JSON object and validate it with ``schema``; None (logged) when it does not fit.

    The prompt must mention JSON and show the expected shape: OpenAI-compatible JSON modes
    require it. ModelUnavailableError and ModelResponseError propagate.
    """
    completion = await model.complete(
        messages, json_object=True, max_tokens=max_tokens, temperature=temperature
    )
    try:
        return schema.model_validate_json(_strip_code_fence(completion.text))
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        log.warning(
            "model_json_invalid",
            schema=schema.__name__,
            finish_reason=completion.finish_reason,
            chars=len(completion.text),
            errors=[
                {"loc": ".".join(str(p) for p in e["loc"]), "type": e["type"]} for e in errors[:3]
            ],
        )
        return None
