"""Where the mapper's schema lives and its migrations are (shared by app and CLI)."""

from pathlib import Path

SERVICE_NAME = "qbsync-mapper"
SCHEMA = "mapper"
MIGRATIONS = Path(__file__).parent / "migrations"
