"""Wiring of the errors service: the only place its objects are constructed."""

from pathlib import Path

from faststream import FastStream
from qbsync_core.service import create_service_app
from qbsync_core.settings import QbsyncSettings, load_settings

SERVICE_NAME = "qbsync-errors"
SCHEMA = "errors"
MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: QbsyncSettings | None = None) -> FastStream:
    """The errors FastStream app (handlers arrive with the errors issue)."""
    return create_service_app(
        name=SERVICE_NAME,
        schema=SCHEMA,
        migrations_dir=MIGRATIONS,
        settings=settings or load_settings(QbsyncSettings),
    )
