"""Settings shared by every service; each service nests these in its own prefixed settings."""

from __future__ import annotations

import os
import socket
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_instance_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class CommonSettings(BaseSettings):
    """Read from unprefixed environment variables (``NATS_URL``, ``DATABASE_URL``...)."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    nats_url: str = Field(
        default="nats://127.0.0.1:4222",
        description="NATS server(s) with JetStream, comma separated.",
    )
    database_url: SecretStr = Field(
        default=SecretStr("postgresql://postgres@127.0.0.1:5432/relay"),
        description="PostgreSQL connection URL (asyncpg / libpq syntax).",
    )
    relay_bus_prefix: str = Field(
        default="relay",
        pattern=r"^[a-z][a-z0-9_-]*$",
        description="First token of every subject and prefix of every stream name.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Minimum level of log lines."
    )
    log_format: Literal["auto", "json", "console"] = Field(
        default="auto", description="auto: readable in a terminal, JSON lines otherwise."
    )
    relay_instance_id: str = Field(
        default_factory=_default_instance_id,
        description="Unique name of this process (defaults to host-pid).",
    )
    db_pool_min: int = Field(default=1, ge=0, description="Minimum PostgreSQL pool size.")
    db_pool_max: int = Field(default=10, ge=1, description="Maximum PostgreSQL pool size.")
    relay_embedded: bool = Field(
        default=False,
        description="Set by `relay up` for its embedded stack; enables the dev sign-in.",
    )

    @property
    def bus_prefix(self) -> str:
        return self.relay_bus_prefix

    @property
    def instance_id(self) -> str:
        return self.relay_instance_id


class ServiceSettings(BaseSettings):
    """Base of each service's settings: ``<SERVICE>_...`` variables plus the common ones."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    common: CommonSettings = Field(default_factory=CommonSettings)
    shutdown_grace_s: float = Field(
        default=20.0, gt=0, description="Time to finish in-flight work after SIGTERM."
    )


class WorkerSettings(ServiceSettings):
    """A service without an API of its own: it serves only health and metrics."""

    health_host: str = Field(
        default="127.0.0.1", description="Address of /healthz, /readyz, /metrics (0.0.0.0: all)."
    )
    health_port: int = Field(
        default=0, ge=0, le=65535, description="Port of /healthz, /readyz, /metrics (0: any)."
    )
