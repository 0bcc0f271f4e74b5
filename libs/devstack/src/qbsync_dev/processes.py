"""Starting, finding and stopping the dev stack's child processes.

A process is remembered by pid and start time, so a recycled pid is never
mistaken for ours and signalled by `qbsync dev down`.
"""

import asyncio
import contextlib
import os
import pwd
import signal
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil


class StartupError(RuntimeError):
    """A dev-stack component did not come up; the message says which and where its log is."""


# Popen objects of the children this process started: kept so they are reaped
# (no zombies) and not garbage-collected while running.
_CHILDREN: dict[int, "subprocess.Popen[bytes]"] = {}


@dataclass(frozen=True)
class ProcessRef:
    """Identity of a child process that outlives the command that started it."""

    pid: int
    create_time: float

    def alive(self) -> bool:
        """True while the very process we started still runs (not a zombie)."""
        child = _CHILDREN.get(self.pid)
        if child is not None and child.poll() is not None:
            del _CHILDREN[self.pid]
            return False
        try:
            proc = psutil.Process(self.pid)
            return bool(
                abs(proc.create_time() - self.create_time) < 1.0
                and proc.status() != psutil.STATUS_ZOMBIE
            )
        except psutil.Error:
            return False

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, wait, then SIGKILL the process group if it did not exit."""
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                return
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)


def spawn(
    argv: list[str], log_file: Path, *, user: str | None = None, env: dict[str, str] | None = None
) -> ProcessRef:
    """Start `argv` in its own session (Ctrl-C in the terminal reaches only the CLI)."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
            **as_user(user),
        )
    _CHILDREN[proc.pid] = proc
    return ProcessRef(pid=proc.pid, create_time=psutil.Process(proc.pid).create_time())


async def wait_ready(
    process: ProcessRef,
    probe: Callable[[], Awaitable[bool]],
    *,
    what: str,
    log_file: Path,
    timeout: float,
    interval: float = 0.05,
) -> None:
    """Poll `probe` until it answers True.

    Raises:
        StartupError: the process exited, or `probe` did not answer within `timeout` s.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise StartupError(f"{what} exited during startup; see {log_file}")
        if await probe():
            return
        await asyncio.sleep(interval)
    raise StartupError(f"{what} did not answer within {timeout:.0f}s; see {log_file}")


def as_user(user: str | None) -> dict[str, Any]:
    """Subprocess keyword arguments that drop to `user` with only its own group.

    Setting the uid alone would keep root's gid, and a root-owned 0701 folder
    (pytest's temp root) then denies access through its group bits.
    """
    if user is None:
        return {}
    return {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []}


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_port(preferred: int | None = None, host: str = "127.0.0.1") -> int:
    """`preferred` when it is free, else a port the kernel picks."""
    if preferred and port_is_free(preferred, host):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_answers(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """True when a TCP connection to host:port succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
