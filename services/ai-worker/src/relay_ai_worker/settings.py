from pydantic import Field
from pydantic_settings import SettingsConfigDict

from relay_common.settings import WorkerSettings


class Settings(WorkerSettings):
    model_config = SettingsConfigDict(env_prefix="AI_WORKER_", extra="ignore", frozen=True)

    concurrency: int = Field(default=8, ge=1, description="Conversations answered in parallel.")
