from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from relay_common.settings import WorkerSettings


class Settings(WorkerSettings):
    model_config = SettingsConfigDict(env_prefix="SESSION_WORKER_", extra="ignore", frozen=True)

    capacity: int = Field(default=500, ge=1, description="Most bot sessions this worker holds.")
    transports: list[str] = Field(
        default_factory=lambda: ["simulated"],
        description='Transports this worker runs: ["simulated"], ["whatsapp"] or both.',
    )
    lease_ttl_s: float = Field(
        default=5.0, gt=1, description="A dead worker's bots move after at most this long."
    )
    heartbeat_s: float = Field(default=1.0, gt=0, description="Worker heartbeat interval.")
    balance_every_s: float = Field(
        default=1.0, gt=0, description="How often bots are (re)distributed."
    )
    max_moves_per_tick: int = Field(
        default=5, ge=1, description="Bots released per tick when rebalancing (gradual)."
    )
    unresponsive_restart_s: float = Field(
        default=30.0, gt=0, description="Restart a session unresponsive for this long."
    )
    whatsapp_store_url: SecretStr | None = Field(
        default=None, description="PostgreSQL URL of whatsmeow's store (default DATABASE_URL)."
    )
    offline_cutoff_s: float = Field(
        default=600.0, ge=0, description="Offline-queued messages older than this: no reply."
    )
    qr_timeout_s: float = Field(default=170.0, gt=0, description="Give up a QR after this.")
