"""Settings of the errors service (`QBSYNC_ERRORS_*` on top of the shared ones)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict
from qbsync_core.settings import Environment, QbsyncSettings


class ErrorsSettings(QbsyncSettings):
    """The errors service's own settings; every period is in seconds."""

    model_config = SettingsConfigDict(
        env_prefix="QBSYNC_ERRORS_", extra="ignore", populate_by_name=True
    )

    http_host: str = "127.0.0.1"
    http_port: int = 8084
    group_id: str = Field(default="qbsync-errors", description="Consumer group on errors.v1.")
    kafka_max_records: int = Field(default=500, description="Records per consumed batch.")
    tick_seconds: float = Field(
        default=5.0, description="How often the retry, pause and notification jobs look for work."
    )
    retry_base_seconds: float = Field(
        default=60.0, description="Delay before the first automatic retry of a retriable error."
    )
    retry_factor: float = Field(
        default=5.0, description="Each further retry waits this many times longer."
    )
    retry_max_delay_seconds: float = Field(default=6 * 3600.0, description="Longest retry delay.")
    retry_max_attempts: int = Field(
        default=5, description="Automatic retries per error; then it waits for an operator."
    )
    auth_pause_after_seconds: float = Field(
        default=3600.0,
        description="A tenant whose QBO connection has failed this long is paused.",
    )
    digest_seconds: float = Field(
        default=300.0, description="At most one notification digest per tenant per period."
    )
    webhook_timeout_seconds: float = Field(default=10.0, description="Per delivery attempt.")
    webhook_retry_base_seconds: float = Field(
        default=30.0, description="Delay before retrying a failed delivery (doubles each time)."
    )
    webhook_max_attempts: int = Field(
        default=8, description="Delivery attempts before a digest is marked failed."
    )
    webhook_allow_private: bool | None = Field(
        default=None,
        description=(
            "Allow webhook URLs on loopback or private addresses. Unset: allowed, except "
            "with QBSYNC_ENVIRONMENT=production (see private_webhooks_allowed)."
        ),
    )

    @property
    def private_webhooks_allowed(self) -> bool:
        """Whether a webhook may point at a loopback or private address.

        Off by default in production: a tenant's key must not make the errors service
        call into the operator's own network.
        """
        if self.webhook_allow_private is not None:
            return self.webhook_allow_private
        return self.environment is not Environment.PRODUCTION
