from pydantic import Field
from pydantic_settings import SettingsConfigDict

from relay_common.settings import WorkerSettings


class Settings(WorkerSettings):
    model_config = SettingsConfigDict(env_prefix="SESSION_WORKER_", extra="ignore", frozen=True)

    bot_refresh_s: float = Field(
        default=2.0, gt=0, description="How often the worker looks for bots to start or stop."
    )
    send_concurrency: int = Field(default=16, ge=1, description="Send commands in parallel.")
