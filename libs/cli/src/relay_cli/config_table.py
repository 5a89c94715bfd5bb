"""`relay config`: every environment variable of every service, from the settings classes."""

from __future__ import annotations

from pydantic import AliasChoices
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from relay_ai_worker.settings import Settings as AiWorkerSettings
from relay_billing.settings import Settings as BillingSettings
from relay_common.settings import CommonSettings
from relay_gateway.settings import Settings as GatewaySettings
from relay_lead_service.settings import Settings as LeadServiceSettings
from relay_scheduler.settings import Settings as SchedulerSettings
from relay_session_worker.settings import Settings as SessionWorkerSettings

SETTINGS: tuple[tuple[str, type[BaseSettings]], ...] = (
    ("all services", CommonSettings),
    ("gateway", GatewaySettings),
    ("session-worker", SessionWorkerSettings),
    ("ai-worker", AiWorkerSettings),
    ("lead-service", LeadServiceSettings),
    ("scheduler", SchedulerSettings),
    ("billing", BillingSettings),
)

RELAY_UP_ONLY = (
    ("RELAY_DATA_DIR", ".relay", "relay up", "Folder of `relay up`'s data, logs and state."),
)


def _names(prefix: str, name: str, info: FieldInfo) -> list[str]:
    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        return [str(choice) for choice in alias.choices]
    return [f"{prefix}{name}".upper()]


def _default(info: FieldInfo) -> str:
    if info.default_factory is not None:
        return "(computed)"
    value = info.default
    if hasattr(value, "get_secret_value"):
        secret = value.get_secret_value()
        return "(empty)" if not secret else f"`{secret}`"
    return "(empty)" if value in (None, "") else f"`{value}`"


def rows() -> list[tuple[str, str, str, str]]:
    found: list[tuple[str, str, str, str]] = []
    for used_by, cls in SETTINGS:
        prefix = str(cls.model_config.get("env_prefix", ""))
        for name, info in cls.model_fields.items():
            if name == "common":
                continue
            for env in _names(prefix, name, info):
                found.append((env, _default(info), used_by, info.description or ""))
    return found + list(RELAY_UP_ONLY)


def markdown() -> str:
    lines = ["| variable | default | used by | meaning |", "|---|---|---|---|"]
    lines += [f"| `{env}` | {default} | {used} | {text} |" for env, default, used, text in rows()]
    return "\n".join(lines)
