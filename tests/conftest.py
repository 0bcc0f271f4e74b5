"""Root fixtures: real infrastructure (see tests/fixtures/infra.py)."""

from tests.fixtures.infra import (
    database_url,
    db,
    kafka_bootstrap,
    kafka_idempotent,
    postgres_admin_url,
    unique_name,
)

__all__ = [
    "database_url",
    "db",
    "kafka_bootstrap",
    "kafka_idempotent",
    "postgres_admin_url",
    "unique_name",
]
