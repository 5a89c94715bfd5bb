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
    public_url: str | None = Field(
        default=None,
        description="Address browsers use (https://relay.example.com); for Google's "
        "redirect. Default: the address of the request.",
    )
    jwt_secret: SecretStr = Field(
        default=SecretStr(""),
        description="Key that signs session cookies (required, 32 bytes or more).",
    )
    jwt_previous_secrets: list[SecretStr] = Field(
        default_factory=list,
        description="Earlier signing keys still accepted until their tokens expire "
        "(JSON list); rotate by moving the current key here.",
    )
    session_days: int = Field(default=7, ge=1, description="Lifetime of a sign-in.")
    admin_emails: list[str] = Field(
        default_factory=list,
        validation_alias=AliasChoices("ADMIN_EMAILS", "GATEWAY_ADMIN_EMAILS"),
        description="Platform administrators (ADMIN_EMAILS, JSON list).",
    )
    google_client_id: str = Field(
        default="",
        validation_alias=AliasChoices("GOOGLE_CLIENT_ID", "GATEWAY_GOOGLE_CLIENT_ID"),
        description="Google OAuth client id (GOOGLE_CLIENT_ID); sign-in with Google is "
        "offered when set.",
    )
    google_client_secret: SecretStr = Field(
        default=SecretStr(""),
        validation_alias=AliasChoices("GOOGLE_CLIENT_SECRET", "GATEWAY_GOOGLE_CLIENT_SECRET"),
        description="Google OAuth client secret (GOOGLE_CLIENT_SECRET).",
    )
    google_discovery_url: str = Field(
        default="https://accounts.google.com/.well-known/openid-configuration",
        description="OpenID Connect discovery document of the identity provider.",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Other origins allowed to call the API with credentials (JSON list).",
    )
    sign_in_per_minute: int = Field(
        default=20, ge=1, description="Sign-in attempts allowed per IP address per minute."
    )
    requests_per_minute: int = Field(
        default=600, ge=1, description="API requests allowed per user or API key per minute."
    )
    max_image_bytes: int = Field(
        default=5 * 1024 * 1024, ge=1024, description="Largest image a bot may send."
    )
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
    sse_replay_limit: int = Field(
        default=5000,
        ge=1,
        description="Most events replayed to a browser that resumes with Last-Event-ID; "
        "further behind, it starts afresh (INIT).",
    )
