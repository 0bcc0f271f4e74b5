"""Kill and restart one service of a running dev stack (chaos runs, issue 10).

A restarted service gets the port, log file and environment `start_stack` gave it, so
the others (and dev.env) keep pointing at it; stack.json records its new pid.
"""

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path

from qbsync_dev.http_components import SERVICES, start_http, wait_http
from qbsync_dev.processes import free_port, port_is_free
from qbsync_dev.stack import Component, StackState, _component, _write_state, read_state


def _state(home: Path) -> StackState:
    state = read_state(home)
    if state is None:
        raise RuntimeError(f"no dev stack recorded in {home}")
    return state


def service_env(home: Path, state: StackState) -> dict[str, str]:
    """The environment `start_stack` starts services with (the caller's, plus the stack's)."""
    env = {**os.environ, "QBSYNC_HOME": str(home)}
    poster = state.services.get("poster")
    if poster is not None:
        env["QBSYNC_POSTER_OAUTH_REDIRECT_URI"] = f"{poster.url}/callback"
    return env


async def kill_service(home: Path, name: str, timeout: float = 10.0) -> None:
    """SIGKILL the service's process group (no shutdown hooks run, as in a crash).

    Returns once the process is gone, so its port is free for `restart_service`.
    """
    process = _state(home).services[name].process
    if process.alive():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while process.alive() and time.monotonic() < deadline:  # noqa: ASYNC110 - polls a pid
        await asyncio.sleep(0.05)


async def restart_service(home: Path, name: str, timeout: float = 90.0) -> Component:
    """Start the named service again on its old port (else a free one); wait until it answers.

    Raises:
        qbsync_dev.processes.StartupError: it did not come up within `timeout` seconds.
    """
    state = _state(home)
    old = state.services[name]
    spec = next(s for s in SERVICES if s.name == name)
    port = int(old.url.rsplit(":", 1)[1])
    if not port_is_free(port):  # taken while it was down: the caller must re-read its url
        port = free_port()
    handle = start_http(spec, port, Path(old.log_file), service_env(home, state))
    await wait_http(handle, timeout)
    component = _component(handle)
    state.services[name] = component
    _write_state(state, home)
    return component
