"""Chat model providers: one protocol, an OpenAI-compatible client, retries and a breaker."""

from __future__ import annotations

from relay_ai_worker.providers.base import (
    ChatMessage,
    ChatModel,
    Completion,
    ModelError,
    ModelResponseError,
    ModelUnavailableError,
    Role,
)
from relay_ai_worker.providers.breaker import BreakerState, CircuitBreaker, CircuitOpenError
from relay_ai_worker.providers.deepseek import OpenAICompatibleModel, extract_json
from relay_ai_worker.providers.settings import ModelSettings, build_model

__all__ = [
    "BreakerState",
    "ChatMessage",
    "ChatModel",
    "CircuitBreaker",
    "CircuitOpenError",
    "Completion",
    "ModelError",
    "ModelResponseError",
    "ModelSettings",
    "ModelUnavailableError",
    "OpenAICompatibleModel",
    "Role",
    "build_model",
    "extract_json",
]
