"""The emulator as a process: ``python -m qbsync_sandbox`` over real HTTP, and the CLI."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from qbsync_sandbox.cli import app as sandbox_cli
from typer.testing import CliRunner


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "qbsync_sandbox", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                if httpx.get(f"{base}/_admin/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


class TestProcess:
    async def test_real_http_round_trip(self, server: str) -> None:
        async with httpx.AsyncClient(base_url=server, timeout=5) as client:
            realm = (await client.post("/_admin/realms", json={"name": "Proc Co"})).json()
            tokens = (await client.post(f"/_admin/realms/{realm['realm_id']}/tokens")).json()
            headers = {
                "Authorization": f"Bearer {tokens['access_token']}",
                "Accept": "application/json",
            }
            base = f"/v3/company/{realm['realm_id']}"
            created = await client.post(
                f"{base}/customer", json={"DisplayName": "Over HTTP"}, headers=headers
            )
            assert created.json()["Customer"]["SyncToken"] == "0"
            query = await client.get(
                f"{base}/query", headers=headers, params={"query": "SELECT COUNT(*) FROM Customer"}
            )
            assert query.json()["QueryResponse"]["totalCount"] == 1

    async def test_dropped_connection_is_a_transport_error(self, server: str) -> None:
        async with httpx.AsyncClient(base_url=server, timeout=5) as client:
            realm = (await client.post("/_admin/realms")).json()["realm_id"]
            tokens = (await client.post(f"/_admin/realms/{realm}/tokens")).json()
            await client.post(
                "/_admin/faults", json={"share": 1.0, "kinds": ["drop"], "realm_id": realm}
            )
            try:
                with pytest.raises(httpx.TransportError):
                    await client.get(
                        f"/v3/company/{realm}/preferences",
                        headers={"Authorization": f"Bearer {tokens['access_token']}"},
                    )
            finally:
                await client.delete("/_admin/faults")

    def test_cli_creates_realm_and_token(self, server: str) -> None:
        runner = CliRunner()
        created = runner.invoke(sandbox_cli, ["realm", "create", "--url", server])
        assert created.exit_code == 0, created.output
        realm_id = json.loads(created.output)["realm_id"]
        issued = runner.invoke(
            sandbox_cli, ["token", "--realm", realm_id], env={"QBSYNC_SANDBOX_URL": server}
        )
        assert issued.exit_code == 0, issued.output
        access = json.loads(issued.output)["access_token"]
        answer = httpx.get(
            f"{server}/v3/company/{realm_id}/preferences",
            headers={"Authorization": f"Bearer {access}"},
        )
        assert answer.status_code == 200

    def test_cli_reports_unreachable_emulator(self) -> None:
        result = CliRunner().invoke(
            sandbox_cli, ["token", "--realm", "1", "--url", f"http://127.0.0.1:{free_port()}"]
        )
        assert result.exit_code == 1
