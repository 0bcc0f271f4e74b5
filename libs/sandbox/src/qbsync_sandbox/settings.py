"""Settings of the QuickBooks Online sandbox emulator (env prefix ``QBSYNC_SANDBOX_``)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class SandboxSettings(BaseSettings):
    """Limits, OAuth client and behaviour knobs of one emulator instance.

    The default limits are Intuit's published per-realm limits: 500 requests per
    minute, 10 requests per second, 10 concurrent requests, batches of at most 30
    items and 40 batch requests per minute.
    """

    model_config = SettingsConfigDict(env_prefix="QBSYNC_SANDBOX_", extra="ignore")

    limits_enabled: bool = True
    requests_per_minute: int = 500
    requests_per_second: int = 10  # 0 switches the per-second limit off
    max_concurrent: int = 10
    batch_max_items: int = 30
    batch_requests_per_minute: int = 40
    latency_ms: int = 0
    client_id: str = "qbsync-dev"
    client_secret: str = "qbsync-dev-secret"  # noqa: S105 - well-known development secret
    access_token_ttl_s: int = 3600
    webhook_verifier_token: str = "qbsync-dev-verifier"  # noqa: S105 - development value
