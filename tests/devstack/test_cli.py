"""`qbsync dev up/down/status` as a user runs them: real processes, real ports."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import pytest
from qbsync_dev.processes import free_port

pytestmark = pytest.mark.slow

QBSYNC = [sys.executable, "-m", "qbsync_dev"]


def _env(home: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in {"KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL"}
    }
    env["QBSYNC_HOME"] = str(home)
    return env


def _qbsync(home: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*QBSYNC, *args],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _gone(pid: int) -> bool:
    # A stopped child of an exited `dev up --detach` may linger as a zombie until reaped.
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


def _ports() -> list[str]:
    return ["--kafka-port", str(free_port()), "--postgres-port", str(free_port())]


def _status(home: Path) -> tuple[int, dict[str, object]]:
    result = _qbsync(home, "dev", "status", "--json")
    return result.returncode, json.loads(result.stdout)


class TestDetached:
    def test_emulator_in_the_stack_answers_the_qbo_api(self, tmp_path: Path) -> None:
        assert _qbsync(tmp_path, "dev", "up", "--detach", *_ports()).returncode == 0
        try:
            _, report = _status(tmp_path)
            components = report["components"]
            assert isinstance(components, dict)
            base = components["qbo_sandbox"]["url"]
            env = {**_env(tmp_path), "QBSYNC_SANDBOX_URL": base}
            realm = subprocess.run(
                [*QBSYNC, "sandbox", "realm", "create"],
                env=env,
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            )
            realm_id = json.loads(realm.stdout)["realm_id"]
            token = subprocess.run(
                [*QBSYNC, "sandbox", "token", "--realm", realm_id],
                env=env,
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            )
            access = json.loads(token.stdout)["access_token"]
            answer = httpx.get(
                f"{base}/v3/company/{realm_id}/companyinfo/{realm_id}",
                headers={"Authorization": f"Bearer {access}", "Accept": "application/json"},
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["CompanyInfo"]["CompanyName"]
        finally:
            _qbsync(tmp_path, "dev", "down")

    def test_up_detach_reports_both_endpoints_then_down_stops_them(self, tmp_path: Path) -> None:
        up = _qbsync(tmp_path, "dev", "up", "--detach", *_ports())
        try:
            assert up.returncode == 0, up.stderr
            code, report = _status(tmp_path)
            assert code == 0
            components = report["components"]
            assert isinstance(components, dict)
            assert set(components) == {
                "broker",
                "database",
                "qbo_sandbox",
                "ingest",
                "mapper",
                "poster",
                "errors",
            }
            assert all(c["answers"] for c in components.values())
            env_file = (tmp_path / "dev.env").read_text()
            assert f"KAFKA_BOOTSTRAP_SERVERS={components['broker']['url']}" in env_file
            assert f"DATABASE_URL={components['database']['url']}" in env_file
            assert f"QBSYNC_QBO_BASE_URL={components['qbo_sandbox']['url']}" in env_file
        finally:
            down = _qbsync(tmp_path, "dev", "down")
        assert down.returncode == 0
        assert "Stopped" in down.stdout
        pids = [c["pid"] for c in components.values()]
        assert all(_gone(pid) for pid in pids)
        code, report = _status(tmp_path)
        assert code == 1
        assert report["components"] == {}

    def test_second_up_reuses_the_running_stack(self, tmp_path: Path) -> None:
        assert _qbsync(tmp_path, "dev", "up", "--detach", *_ports()).returncode == 0
        try:
            again = _qbsync(tmp_path, "dev", "up", "--detach", *_ports())
            assert again.returncode == 0
            assert "already running" in again.stdout
        finally:
            _qbsync(tmp_path, "dev", "down")

    def test_status_without_a_stack_says_so_and_fails(self, tmp_path: Path) -> None:
        result = _qbsync(tmp_path, "dev", "status")
        assert result.returncode == 1
        assert "No dev stack is running" in result.stdout


class TestForeground:
    def test_ctrl_c_stops_broker_and_database_cleanly(self, tmp_path: Path) -> None:
        proc = subprocess.Popen(
            [*QBSYNC, "dev", "up", *_ports()],
            env=_env(tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            banner = ""
            while "Press Ctrl-C to stop." not in banner and proc.poll() is None:
                banner += proc.stdout.readline()
            code, report = _status(tmp_path)
            assert code == 0, report
            components = report["components"]
            assert isinstance(components, dict)
            pids = [c["pid"] for c in components.values()]
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
            out = banner + out
        finally:
            if proc.poll() is None:
                proc.kill()
                _qbsync(tmp_path, "dev", "down")
        assert proc.returncode == 0, err
        assert "Stopped errors, poster, mapper, ingest, qbo_sandbox, database, broker." in out
        assert all(_gone(pid) for pid in pids)
        assert not (tmp_path / "stack.json").exists()
