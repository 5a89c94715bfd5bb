from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from relay_common.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", frozen=True)

    host: str = Field(default="127.0.0.1", description="Address the gateway listens on.")
    port: int = Field(
        default=8080,
        ge=0,
        le=65535,
        validation_alias=AliasChoices("PORT", "GATEWAY_PORT"),
        description="Port of the UI, API and health endpoints (PORT).",
    )
    jwt_secret: SecretStr = Field(
        default=SecretStr(""), description="Key that signs session cookies (required)."
    )
    session_days: int = Field(default=7, ge=1, description="Lifetime of a sign-in.")
    web_dist: Path | None = Field(
        default=None, description="Folder of the built web UI (web/dist) to serve at /."
    )
    require_services: list[str] = Field(
        default_factory=list,
        description="Services that must be announced before /readyz is 200 (set by relay up).",
    )
    sse_queue_size: int = Field(
        default=1000, ge=10, description="Events buffered per browser before it is dropped."
    )
    sse_heartbeat_s: float = Field(default=15.0, gt=0, description="SSE keep-alive interval.")
