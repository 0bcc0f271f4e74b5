"""Where the poster's schema and migrations live (shared by the app and tests)."""

from pathlib import Path

SERVICE_NAME = "qbsync-poster"
SCHEMA = "poster"
MIGRATIONS = Path(__file__).parent / "migrations"
