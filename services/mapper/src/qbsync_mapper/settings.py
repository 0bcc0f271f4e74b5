"""Settings of the mapper service (`QBSYNC_MAPPER_*` on top of the shared ones)."""

from pydantic import AliasChoices, Field, SecretStr, field_validator
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
    poster_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("QBSYNC_POSTER_URL", "poster_url"),
        description=(
            "Base URL of the poster (QBSYNC_POSTER_URL, as the dev stack writes it). Set: "
            "PAY-10 checks payout accounts against the company's real account types."
        ),
    )
    poster_key: SecretStr | None = Field(
        default=None,
        description="Bearer API key of the poster's read API (an operator key: every tenant).",
    )

    @field_validator("poster_url", mode="before")
    @classmethod
    def _http_only(cls, value: object) -> object:
        if value == "":
            return None
        if isinstance(value, str) and not value.startswith(("http://", "https://")):
            raise ValueError("QBSYNC_POSTER_URL must be an http:// or https:// URL")
        return value
