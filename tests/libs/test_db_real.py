"""Versioned SQL migrations per service schema, on the real PostgreSQL."""

from pathlib import Path

import asyncpg
import pytest
from qbsync_core.db import check_schema_name, create_pool, migrate

pytestmark = pytest.mark.postgres


def _write(folder: Path, name: str, sql: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(sql)


class TestMigrations:
    async def test_applies_pending_files_in_order_into_the_schema(
        self, database_url: str, db: asyncpg.Connection, tmp_path: Path, unique_name: str
    ) -> None:
        schema = f"svc_{unique_name}"
        _write(
            tmp_path,
            "0001.events.sql",
            "CREATE TABLE events (id text PRIMARY KEY, amount numeric(15,2));",
        )
        _write(tmp_path, "0002.note.sql", "ALTER TABLE events ADD COLUMN note text;")
        applied = await migrate(database_url, schema, tmp_path)
        assert applied == ["0001.events", "0002.note"]
        columns = await db.fetch(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema=$1 AND table_name='events' ORDER BY ordinal_position",
            schema,
        )
        assert [c["column_name"] for c in columns] == ["id", "amount", "note"]

    async def test_rerun_applies_only_new_files(
        self, database_url: str, tmp_path: Path, unique_name: str
    ) -> None:
        schema = f"svc_{unique_name}"
        _write(tmp_path, "0001.a.sql", "CREATE TABLE a (id int);")
        assert await migrate(database_url, schema, tmp_path) == ["0001.a"]
        assert await migrate(database_url, schema, tmp_path) == []
        _write(tmp_path, "0002.b.sql", "CREATE TABLE b (id int);")
        assert await migrate(database_url, schema, tmp_path) == ["0002.b"]

    async def test_schemas_keep_separate_histories(
        self, database_url: str, tmp_path: Path, unique_name: str
    ) -> None:
        _write(tmp_path, "0001.same.sql", "CREATE TABLE same_name (id int);")
        assert await migrate(database_url, f"one_{unique_name}", tmp_path) == ["0001.same"]
        assert await migrate(database_url, f"two_{unique_name}", tmp_path) == ["0001.same"]

    async def test_failing_migration_rolls_back_and_raises(
        self, database_url: str, db: asyncpg.Connection, tmp_path: Path, unique_name: str
    ) -> None:
        schema = f"svc_{unique_name}"
        _write(tmp_path, "0001.bad.sql", "CREATE TABLE half (id int);\nSELECT no_such_function();")
        with pytest.raises(Exception, match="no_such_function"):
            await migrate(database_url, schema, tmp_path)
        exists = await db.fetchval("SELECT to_regclass($1)", f"{schema}.half")
        assert exists is None

    @pytest.mark.parametrize("name", ["Ingest", "a-b", "x;drop", ""])
    def test_schema_names_are_plain_identifiers(self, name: str) -> None:
        with pytest.raises(ValueError, match="schema name"):
            check_schema_name(name)


class TestPool:
    async def test_pool_resolves_unqualified_names_in_its_schema(
        self, database_url: str, tmp_path: Path, unique_name: str
    ) -> None:
        schema = f"svc_{unique_name}"
        _write(
            tmp_path,
            "0001.t.sql",
            "CREATE TABLE ledger (ref text PRIMARY KEY, amount numeric(15,2) NOT NULL);",
        )
        await migrate(database_url, schema, tmp_path)
        pool = await create_pool(database_url, schema, max_size=2)
        try:
            await pool.execute("INSERT INTO ledger VALUES ('inv-1', '10.10'), ('inv-2', '0.20')")
            total = await pool.fetchval("SELECT sum(amount) FROM ledger")
        finally:
            await pool.close()
        assert str(total) == "10.30"
