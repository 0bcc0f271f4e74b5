"""Wiring of the poster service: the only place its objects are constructed."""

from pathlib import Path

from faststream import FastStream
from qbsync_core.service import create_service_app
from qbsync_core.settings import QbsyncSettings, load_settings

SERVICE_NAME = "qbsync-poster"
SCHEMA = "poster"
MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: QbsyncSettings | None = None) -> FastStream:
    """The poster FastStream app (handlers arrive with the poster issue)."""
    return create_service_app(
        name=SERVICE_NAME,
        schema=SCHEMA,
        migrations_dir=MIGRATIONS,
        settings=settings or load_settings(QbsyncSettings),
    )
