from pydantic import Field
from pydantic_settings import SettingsConfigDict

from relay_common.settings import WorkerSettings


class Settings(WorkerSettings):
    model_config = SettingsConfigDict(env_prefix="LEAD_SERVICE_", extra="ignore", frozen=True)

    concurrency: int = Field(default=8, ge=1, description="Messages stored in parallel.")
    webhook_allow_http: bool = Field(
        default=False, description="Allow plain-http webhook URLs (local testing only)."
    )
    unclaimed_check_s: float = Field(
        default=30.0, gt=0, description="How often qualified leads nobody took are flagged."
    )
