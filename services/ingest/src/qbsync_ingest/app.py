"""Wiring of the ingest service: the only place its objects are constructed."""

from pathlib import Path

from faststream import FastStream
from qbsync_core.service import create_service_app
from qbsync_core.settings import QbsyncSettings, load_settings

SERVICE_NAME = "qbsync-ingest"
SCHEMA = "ingest"
MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: QbsyncSettings | None = None) -> FastStream:
    """The ingest FastStream app (handlers arrive with the ingest issue)."""
    return create_service_app(
        name=SERVICE_NAME,
        schema=SCHEMA,
        migrations_dir=MIGRATIONS,
        settings=settings or load_settings(QbsyncSettings),
    )
