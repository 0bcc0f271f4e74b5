"""Settings of the mapper service (`QBSYNC_MAPPER_*` on top of the shared ones)."""

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict
from qbsync_core.settings import QbsyncSettings


class MapperSettings(QbsyncSettings):
    """The mapper's own settings."""

    model_config = SettingsConfigDict(
        env_prefix="QBSYNC_MAPPER_", extra="ignore", populate_by_name=True
    )

    http_host: str = "127.0.0.1"
    http_port: int = 8082
    group_id: str = Field(default="qbsync-mapper", description="Consumer group on accepted.v1.")
    kafka_max_records: int = Field(default=500, description="Records per consumed batch.")
    release_interval_seconds: float = Field(
        default=2.0, description="How often held events of newly configured tenants are released."
    )
    admin_token: SecretStr | None = Field(
        default=None,
        description=(
            "Bearer token of the admin API. Unset: open in development and test, "
            "refused (401) in production."
        ),
    )
