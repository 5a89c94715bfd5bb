"""Which model answers for a workspace: its own account when it has one (in
``workspace_models``), else the installation's (``DEEPSEEK_API_KEY``), else none (the local
engine answers)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg
from pydantic import SecretStr

from relay_ai_worker.providers import ModelSettings, OpenAICompatibleModel, build_model


@dataclass
class _Cached:
    model: OpenAICompatibleModel | None
    version: datetime | None
    checked_at: float


class ModelDirectory:
    def __init__(self, pool: asyncpg.Pool, defaults: ModelSettings, refresh_s: float = 30.0):
        self.pool = pool
        self.defaults = defaults
        self.refresh_s = refresh_s
        self.installation = build_model(defaults)
        self._by_workspace: dict[UUID, _Cached] = {}

    async def for_workspace(self, workspace_id: UUID) -> OpenAICompatibleModel | None:
        cached = self._by_workspace.get(workspace_id)
        if cached is not None and time.monotonic() - cached.checked_at < self.refresh_s:
            return cached.model or self.installation
        row = await self.pool.fetchrow(
            """SELECT base_url, model, api_key, updated_at FROM workspace_models
               WHERE workspace_id = $1""",
            workspace_id,
        )
        version = row["updated_at"] if row else None
        if cached is not None and cached.version == version:
            cached.checked_at = time.monotonic()
            return cached.model or self.installation
        if cached is not None and cached.model is not None:
            await cached.model.aclose()
        model = None
        if row is not None:
            model = build_model(
                self.defaults.model_copy(
                    update={
                        "base_url": row["base_url"],
                        "model": row["model"],
                        "api_key": SecretStr(row["api_key"]),
                    }
                )
            )
        self._by_workspace[workspace_id] = _Cached(model, version, time.monotonic())
        return model or self.installation

    async def aclose(self) -> None:
        for cached in self._by_workspace.values():
            if cached.model is not None:
                await cached.model.aclose()
        if self.installation is not None:
            await self.installation.aclose()
