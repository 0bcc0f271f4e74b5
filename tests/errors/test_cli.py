"""`qbsync errors key create | list | show | resync | skip` against the running service."""

import asyncio
import json
from pathlib import Path

import pytest
from qbsync_errors.cli import app
from typer.testing import CliRunner, Result

from tests.errors.conftest import Errors, make_record

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


async def _run(*args: str, env: dict[str, str] | None = None) -> Result:
    # The CLI is synchronous (asyncio.run, blocking HTTP): keep it off the test's loop,
    # which also serves the API it calls.
    runner = CliRunner()
    return await asyncio.to_thread(lambda: runner.invoke(app, list(args), env=env))


class TestCli:
    async def test_key_create_wants_exactly_one_scope(self) -> None:
        assert (await _run("key", "create")).exit_code == 2
        assert (await _run("key", "create", "--tenant", "a", "--all")).exit_code == 2
        assert (await _run("key", "create", "--tenant", "Not Valid")).exit_code == 2

    async def test_key_create_then_list_show_resync_skip(
        self, errors: Errors, errors_url: str, tenant: str, tmp_path: Path
    ) -> None:
        db_env = {
            "QBSYNC_DATABASE_URL": errors.settings.database_url,
            "QBSYNC_KAFKA_BOOTSTRAP_SERVERS": errors.settings.kafka_bootstrap_servers,
        }
        created = await _run("key", "create", "--tenant", tenant, env=db_env)
        assert created.exit_code == 0, created.output
        key = created.output.strip()
        assert key.startswith("qbs_")
        first, second = make_record(tenant), make_record(tenant)
        await errors.publish(first, second)
        await errors.wait_error(key, first.record_id)
        await errors.wait_error(key, second.record_id)
        env = {"QBSYNC_ERRORS_URL": errors_url, "QBSYNC_ERRORS_KEY": key}

        listed = await _run("list", "--category", "Mapping", env=env)
        assert listed.exit_code == 0, listed.output
        assert first.record_id in listed.output
        assert second.record_id in listed.output
        assert "2 of 2" in listed.output

        shown = await _run("show", first.record_id, env=env)
        assert json.loads(shown.output)["trace_id"] == first.trace_id

        resynced = await _run("resync", first.record_id, env=env)
        assert resynced.output.strip() == f"{first.record_id} resolved (resync 1)"
        skipped = await _run("skip", second.record_id, env=env)
        assert skipped.output.strip() == f"{second.record_id} skipped"
        assert "0 of 0" in (await _run("list", env=env)).output

        missing = await _run("show", "nope", env=env)
        assert missing.exit_code == 1
        assert "404: no error nope" in missing.output

        # Without --url or the variable, the dev stack's dev.env names the service.
        home = tmp_path / "home"
        home.mkdir()
        (home / "dev.env").write_text(  # as `qbsync dev up` writes it: every service's settings
            f"KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:1\nQBSYNC_ERRORS_URL={errors_url}\n"
            "QBSYNC_POSTER_URL=http://127.0.0.1:2\n"
        )
        from_dev_env = await _run(
            "show", first.record_id, env={"QBSYNC_HOME": str(home), "QBSYNC_ERRORS_KEY": key}
        )
        assert from_dev_env.exit_code == 0, from_dev_env.output
        assert json.loads(from_dev_env.output)["record_id"] == first.record_id
        keyless = await _run("list", env={"QBSYNC_ERRORS_URL": errors_url, "QBSYNC_ERRORS_KEY": ""})
        assert keyless.exit_code == 2
        assert "no API key" in keyless.output

        revoked = await _run("key", "revoke", key.split("_")[1], env=db_env)
        assert revoked.exit_code == 0, revoked.output
        refused = await _run("list", env=env)
        assert refused.exit_code == 1
        assert "401" in refused.output
