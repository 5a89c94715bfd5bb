"""Configuration of the chat model, nested in the AI worker's settings."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from relay_ai_worker.providers.breaker import CircuitBreaker
from relay_ai_worker.providers.deepseek import (
    DEEPSEEK_BASE_URL,
    DEEPSEEK_CHAT_MODEL,
    OpenAICompatibleModel,
)


class ModelSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    base_url: str = Field(
        default=DEEPSEEK_BASE_URL,
        min_length=1,
        description="Base URL of the OpenAI-compatible API; /chat/completions is appended.",
    )
    model: str = Field(
        default=DEEPSEEK_CHAT_MODEL, min_length=1, description="Model name sent with each request."
    )
    api_key: SecretStr | None = Field(
        default=None,
        description="API key of the provider. Unset or empty: no model, the local engine replies.",
    )
    timeout_s: float = Field(
        default=20.0, gt=0, description="Bound on one attempt, from sending to the whole answer."
    )
    max_retries: int = Field(
        default=3,
        ge=0,
        description="Retries after a 429, a 5xx, a timeout or a connection error (0: none).",
    )
    backoff_base_s: float = Field(
        default=0.5, ge=0, description="Delay before the first retry; doubles at each retry."
    )
    backoff_max_s: float = Field(
        default=8.0,
        ge=0,
        description="Longest delay between two attempts, also the bound on a Retry-After.",
    )
    breaker_failures: int = Field(
        default=5,
        ge=1,
        description="Consecutive failed attempts that open the circuit breaker.",
    )
    breaker_cooldown_s: float = Field(
        default=30.0,
        ge=0,
        description="Time the breaker stays open before one trial call is let through.",
    )

    @field_validator("api_key", mode="before")
    @classmethod
    def _blank_key_is_none(cls, value: object) -> object:
        # An empty variable in an env file means "no key", not a key that fails with 401.
        if isinstance(value, str) and not value.strip():
            return None
        if isinstance(value, SecretStr) and not value.get_secret_value().strip():
            return None
        return value


def build_model(settings: ModelSettings) -> OpenAICompatibleModel | None:
    """The configured model, or None without an API key. The caller closes it (``aclose``)."""
    if settings.api_key is None:
        return None
    return OpenAICompatibleModel(
        settings.base_url,
        settings.api_key.get_secret_value(),
        settings.model,
        timeout_s=settings.timeout_s,
        max_retries=settings.max_retries,
        backoff_base_s=settings.backoff_base_s,
        backoff_max_s=settings.backoff_max_s,
        breaker=CircuitBreaker(
            settings.breaker_failures, settings.breaker_cooldown_s, name=settings.model
        ),
    )
