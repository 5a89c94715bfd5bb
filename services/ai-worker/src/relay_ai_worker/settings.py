from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from relay_ai_worker.providers import ModelSettings
from relay_common.settings import WorkerSettings


class Settings(WorkerSettings):
    model_config = SettingsConfigDict(env_prefix="AI_WORKER_", extra="ignore", frozen=True)

    concurrency: int = Field(default=16, ge=1, description="Conversations answered in parallel.")
    model_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("DEEPSEEK_API_KEY", "AI_WORKER_MODEL_API_KEY"),
        description="DeepSeek (or OpenAI-compatible) API key; unset: the local reply engine.",
    )
    model_base_url: str = Field(
        default="https://api.deepseek.com", description="OpenAI-compatible API base URL."
    )
    model_name: str = Field(default="deepseek-chat", description="Chat model to ask.")
    model_timeout_s: float = Field(default=20.0, gt=0, description="Time limit per model call.")
    model_max_retries: int = Field(default=3, ge=0, description="Retries on 429, 5xx, timeouts.")

    def model_settings(self) -> ModelSettings:
        return ModelSettings(
            base_url=self.model_base_url,
            model=self.model_name,
            api_key=self.model_api_key,
            timeout_s=self.model_timeout_s,
            max_retries=self.model_max_retries,
        )
