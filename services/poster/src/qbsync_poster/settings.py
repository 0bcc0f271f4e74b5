"""Settings of the poster service (`QBSYNC_POSTER_*` on top of the shared ones)."""

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict
from qbsync_core.settings import Environment, QbsyncSettings
from qbsync_core.topics import COMMANDS
from qbsync_qbo import INTUIT_PRODUCTION, INTUIT_TOKEN_URL

INTUIT_AUTHORIZE_URL = "https://appcenter.intuit.com/connect/oauth2"
"""Intuit's consent page (authorization-code flow, step 1)."""
QBO_SCOPE = "com.intuit.quickbooks.accounting"
DEV_CLIENT_ID, DEV_CLIENT_SECRET = "qbsync-dev", "qbsync-dev-secret"
"""The emulator's well-known OAuth client: fine on the dev stack, refused in production."""


class PosterSettings(QbsyncSettings):
    """The poster's own settings."""

    model_config = SettingsConfigDict(
        env_prefix="QBSYNC_POSTER_", extra="ignore", populate_by_name=True
    )

    http_host: str = "127.0.0.1"
    http_port: int = 8083
    group_id: str = Field(default="qbsync-poster", description="Consumer group on commands.v1.")
    commands_topic: str = Field(
        default=COMMANDS.name, description="Topic of posting commands (tests use their own)."
    )
    kafka_max_records: int = Field(default=500, description="Records per consumed batch.")
    kafka_fetch_min_bytes: int = Field(
        default=1,
        ge=1,
        description=(
            "Bytes a fetch waits for (up to kafka_fetch_max_wait_ms). Larger: fuller batches "
            "under a burst, so fewer and fuller /batch requests per realm."
        ),
    )
    kafka_fetch_max_wait_ms: int = Field(
        default=500, ge=0, description="Longest a fetch waits for kafka_fetch_min_bytes."
    )
    consumers: int = Field(
        default=1,
        ge=1,
        description=(
            "Consumers of the group in this process: their partitions' batches run "
            "concurrently (a tenant is keyed to one partition, so its order holds), so a "
            "realm waiting on QBO's limits holds only its own partitions' batches. The "
            "deploy files set 4 (passed three SIGKILL runs and two full-stack chaos runs). "
            "The default stays 1 for the embedded broker, where each member's join waits "
            "seconds (docs/poster.md)."
        ),
    )
    token_keys: SecretStr = Field(
        default=SecretStr(""),
        description=(
            "Comma-separated Fernet keys: the first encrypts, every one decrypts (rotation). "
            "Unset: a development-only key is derived, refused in production."
        ),
    )
    qbo_base_url: str = Field(
        default=INTUIT_PRODUCTION,
        validation_alias=AliasChoices("QBSYNC_QBO_BASE_URL", "QBSYNC_POSTER_QBO_BASE_URL"),
        description="QBO API host (the emulator's URL in tests and the dev stack).",
    )
    oauth_authorize_url: str = Field(
        default=INTUIT_AUTHORIZE_URL,
        validation_alias=AliasChoices(
            "QBSYNC_QBO_AUTHORIZE_URL", "QBSYNC_POSTER_OAUTH_AUTHORIZE_URL"
        ),
    )
    oauth_token_url: str = Field(
        default=INTUIT_TOKEN_URL,
        validation_alias=AliasChoices("QBSYNC_QBO_TOKEN_URL", "QBSYNC_POSTER_OAUTH_TOKEN_URL"),
    )
    oauth_client_id: str = Field(
        default=DEV_CLIENT_ID, description="The app's OAuth client id (required in production)."
    )
    oauth_client_secret: SecretStr = Field(
        default=SecretStr(DEV_CLIENT_SECRET),
        description="The app's OAuth client secret (required in production).",
    )
    oauth_redirect_uri: str = Field(
        default="http://127.0.0.1:8083/callback", description="Where Intuit sends the user back."
    )
    limits_enabled: bool = Field(
        default=True, description="Pace each realm at Intuit's limits (off only for benchmarks)."
    )
    realm_concurrency: int = Field(
        default=2000,
        description=(
            "Document chains of one realm in flight at once. HTTP requests stay at QBO's 10 "
            "(the client's limiter); more chains fill /batch requests of 30."
        ),
    )
    batch_writes: bool = Field(
        default=True, description="Send independent creates of a realm through /batch."
    )
    retry_max_attempts: int = Field(default=5, description="Attempts per QBO request.")
    retry_initial_s: float = Field(default=0.5, description="First retry backoff.")
    retry_max_s: float = Field(default=30.0, description="Cap of one retry backoff.")
    throttle_backoff_s: float = Field(
        default=60.0, description="Pause of a realm after a 429 without Retry-After."
    )
    qbo_timeout_s: float = Field(
        default=30.0,
        description=(
            "Read timeout of one QBO request; a connection that stops mid-answer is a "
            "transport error (outcome unknown) after this long."
        ),
    )
    cdc_interval_s: float = Field(
        default=300.0,
        ge=0,
        description=(
            "Back-sync from QBO's Change Data Capture: poll every connected realm for "
            "payments this often (0 turns the poll off; the webhook path stays)."
        ),
    )
    refresh_leeway_s: float = Field(
        default=300.0, description="Refresh an access token this long before it expires."
    )


def production_problems(settings: PosterSettings) -> list[str]:
    """What a production poster is missing; empty outside production.

    The development fallbacks (a derived token key, the emulator's OAuth client) would
    run, and then fail at the first connect or leave tokens weakly encrypted.
    """
    if settings.environment is not Environment.PRODUCTION:
        return []
    problems = []
    if not settings.token_keys.get_secret_value():
        problems.append("QBSYNC_POSTER_TOKEN_KEYS is required in production")
    if settings.oauth_client_id == DEV_CLIENT_ID:
        problems.append("QBSYNC_POSTER_OAUTH_CLIENT_ID must be the app's own in production")
    if settings.oauth_client_secret.get_secret_value() == DEV_CLIENT_SECRET:
        problems.append("QBSYNC_POSTER_OAUTH_CLIENT_SECRET must be the app's own in production")
    return problems
