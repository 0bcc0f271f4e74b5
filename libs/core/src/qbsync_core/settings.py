"""Settings shared by every service: one env prefix, the design's override names, fail fast.

Resolution order for each value (highest first):
1. the process environment (`QBSYNC_*`, or the design's `KAFKA_BOOTSTRAP_SERVERS`,
   `DATABASE_URL`, `OTEL_EXPORTER_OTLP_ENDPOINT`);
2. the env file the embedded dev stack writes (`$QBSYNC_HOME/dev.env`, default
   `./.qbsync/dev.env`);
3. the field default. Connection settings have none: a service with no broker or
   database configured refuses to start with a message naming the variable.
"""

import os
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "QBSYNC_"


class Environment(StrEnum):
    """Where the process runs; production refuses development shortcuts."""

    DEVELOPMENT = "development"
    """A laptop or CI machine on the embedded stack."""
    TEST = "test"
    """The pytest suite."""
    PRODUCTION = "production"
    """A real deployment."""


def qbsync_home() -> Path:
    """Directory holding the dev stack's state and env file (`QBSYNC_HOME`, default `.qbsync`)."""
    return Path(os.environ.get(f"{ENV_PREFIX}HOME", ".qbsync")).resolve()


def dev_env_file() -> Path:
    """Path of the env file `qbsync dev up` writes and services read."""
    return qbsync_home() / "dev.env"


class QbsyncSettings(BaseSettings):
    """Base settings every service extends (its own fields go in a subclass)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=None,
        extra="ignore",
        populate_by_name=True,
    )

    # Shared fields name their variables explicitly, so a service's own env_prefix
    # (QBSYNC_INGEST_, ...) applies only to its own fields.
    environment: Environment = Field(
        default=Environment.DEVELOPMENT, validation_alias=AliasChoices(f"{ENV_PREFIX}ENVIRONMENT")
    )
    kafka_bootstrap_servers: str = Field(
        validation_alias=AliasChoices(
            "KAFKA_BOOTSTRAP_SERVERS", f"{ENV_PREFIX}KAFKA_BOOTSTRAP_SERVERS"
        ),
        description="Comma-separated host:port list of the Kafka-API brokers.",
    )
    database_url: str = Field(
        validation_alias=AliasChoices("DATABASE_URL", f"{ENV_PREFIX}DATABASE_URL"),
        description="postgresql:// URL of the database holding every service schema.",
    )
    kafka_idempotent_producer: bool = Field(
        default=True,
        validation_alias=AliasChoices(f"{ENV_PREFIX}KAFKA_IDEMPOTENT_PRODUCER"),
        description=(
            "Idempotent producer (no duplicates on producer retry). The embedded Tansu broker "
            "does not implement InitProducerId, so the dev stack turns it off; dedupe keys "
            "downstream still make effects exactly-once."
        ),
    )
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_ENDPOINT"),
        description="OTLP/HTTP collector URL; unset means spans are not exported.",
    )
    trace_store: Path | None = Field(
        default=None,
        validation_alias=AliasChoices(f"{ENV_PREFIX}TRACE_STORE"),
        description=(
            "SQLite file of the local span store that `qbsync trace` reads (the dev stack "
            "sets it under QBSYNC_HOME); unset or empty means no local store."
        ),
    )
    log_level: str = Field(default="INFO", validation_alias=AliasChoices(f"{ENV_PREFIX}LOG_LEVEL"))

    @field_validator("trace_store", mode="before")
    @classmethod
    def _empty_means_off(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("database_url")
    @classmethod
    def _normalise_database_url(cls, value: str) -> str:
        scheme, sep, rest = value.partition("://")
        if not sep or scheme not in {"postgres", "postgresql", "postgresql+asyncpg"}:
            raise ValueError("DATABASE_URL must be a postgresql:// URL")
        return f"postgresql://{rest}"

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _check_bootstrap(cls, value: str) -> str:
        servers = [s.strip() for s in value.split(",") if s.strip()]
        if not servers or any(":" not in s for s in servers):
            raise ValueError("KAFKA_BOOTSTRAP_SERVERS must be a comma-separated host:port list")
        return ",".join(servers)


S = TypeVar("S", bound=QbsyncSettings)


def load_settings(cls: type[S]) -> S:
    """Build `cls` from the environment, falling back to the dev stack's env file."""
    env_file = dev_env_file()
    return cls(_env_file=env_file if env_file.is_file() else None)
