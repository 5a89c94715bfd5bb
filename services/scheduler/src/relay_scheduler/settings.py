from pydantic import Field
from pydantic_settings import SettingsConfigDict

from relay_common.settings import WorkerSettings


class Settings(WorkerSettings):
    model_config = SettingsConfigDict(env_prefix="SCHEDULER_", extra="ignore", frozen=True)

    poll_s: float = Field(default=5.0, gt=0, description="How often due schedules are looked for.")
    batch: int = Field(default=100, ge=1, description="Schedules carried out per poll at most.")
