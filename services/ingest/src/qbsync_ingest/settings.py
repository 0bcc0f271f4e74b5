"""Settings of the ingest service (`QBSYNC_INGEST_*` on top of the shared ones)."""

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict
from qbsync_core.settings import QbsyncSettings


class IngestSettings(QbsyncSettings):
    """Ingest's own settings."""

    model_config = SettingsConfigDict(
        env_prefix="QBSYNC_INGEST_", extra="ignore", populate_by_name=True
    )

    http_host: str = "127.0.0.1"
    http_port: int = 8081
    group_id: str = Field(
        default="qbsync-ingest", description="Consumer group on qbsync.inbound.v1."
    )
    max_batch_events: int = Field(default=1000, description="Largest POST /v1/events array.")
    max_body_bytes: int = Field(default=20_000_000, description="Largest POST /v1/events body.")
    kafka_max_records: int = Field(default=500, description="Records per consumed batch.")
    qbo_webhook_verifier_token: SecretStr | None = Field(
        default=None,
        description="Intuit's webhook verifier token; webhooks are refused (401) while unset.",
    )
