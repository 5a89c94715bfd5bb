"""What the reply engine needs from a chat model, whoever serves it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True)
class Completion:
    """One answer of the model. ``text`` may be empty: providers sometimes answer nothing."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    model: str
    finish_reason: str | None = None


class ChatModel(Protocol):
    async def complete(
        self,
        messages: list[ChatMessage],
        *,
        json_object: bool = False,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Completion: ...


class ModelError(Exception):
    """Base of the errors a chat model raises."""


class ModelUnavailableError(ModelError):
    """No answer now (retries exhausted, breaker open): the caller falls back to a polite reply."""


class ModelResponseError(ModelError):
    """The provider refused the request or answered something we cannot use; retrying won't help."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message if status is None else f"HTTP {status}: {message}")
        self.status = status
