"""`qbsync demo` and `qbsync dev up --demo`: run the demo week against the running stack."""

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import httpx
import typer
from qbsync_core.settings import qbsync_home

from qbsync_dev.demo.report import summary
from qbsync_dev.demo.runner import DemoRun, Progress, run_demo
from qbsync_dev.demo.stack_api import Keys, StackUrls
from qbsync_dev.demo.tenants import HOTEL
from qbsync_dev.demo.week import generate_week
from qbsync_dev.stack import StackState, read_state, stop_stack


async def _fresh_suffix(urls: StackUrls) -> str:
    """No suffix on a fresh database, else a new one: the mapper remembers earlier tenants."""
    async with httpx.AsyncClient(timeout=10) as client:
        known = await client.get(f"{urls.mapper}/v1/tenants/{HOTEL}/settings")
    return "" if known.status_code == httpx.codes.NOT_FOUND else f"{datetime.now(UTC):%H%M%S}"


class _Printer:
    """Prints a progress line when it changes, with the seconds since the start."""

    def __init__(self) -> None:
        self.began = time.monotonic()
        self.last = ""

    def __call__(self, progress: Progress) -> None:
        line = progress.line()
        if line != self.last:
            typer.echo(f"  [{time.monotonic() - self.began:5.1f}s] {line}")
            self.last = line


def run_and_print(
    home: Path,
    state: StackState,
    *,
    seed: int,
    days: int = 7,
    per_day: int = 3,
    timeout: float = 600.0,
) -> DemoRun:
    """Run the demo against `state`'s stack and print its progress and summary."""
    urls = StackUrls.of(state)
    keys = Keys.create(home)
    suffix = asyncio.run(_fresh_suffix(urls))
    week = generate_week(seed, days=days, per_day=per_day, suffix=suffix)
    count = sum(len(week.all_events(role)) for role in week.tenants)
    typer.echo(
        f"Demo (seed {seed}): connecting {', '.join(t.tenant_id for t in week.tenants.values())} "
        f"through OAuth2, then {count} events from {week.start} on"
    )
    run = asyncio.run(run_demo(urls, week, keys, _Printer(), timeout))
    verdict = "as expected" if run.settled else "NOT as expected (timed out)"
    typer.echo(f"Synced in {run.seconds:.1f}s, {verdict}.\n")
    for line in asyncio.run(summary(urls, keys, run)):
        typer.echo(line)
    typer.echo(f"Errors API / operator page key: {keys.errors}")
    if keys.poster:
        typer.echo(f"Poster API key: {keys.poster}")
    return run


def demo_command(
    seed: Annotated[int, typer.Option(help="Seed of the generated week.")] = 7,
    days: Annotated[int, typer.Option(min=3, max=28, help="Business days.")] = 7,
    per_day: Annotated[int, typer.Option(min=0, max=50, help="Documents a day.")] = 3,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for QBO.")] = 600.0,
) -> None:
    """Connect three demo tenants, sync a generated week, print what QBO holds."""
    home = qbsync_home()
    state = read_state(home)
    if state is None or "poster" not in state.services:
        typer.echo("No dev stack is running: start one with `qbsync dev up`.", err=True)
        raise typer.Exit(1)
    run = run_and_print(home, state, seed=seed, days=days, per_day=per_day, timeout=timeout)
    if not run.settled:
        raise typer.Exit(1)


def demo_in_foreground(
    home: Path, state: StackState, seed: int, *, owns_stack: bool = True
) -> None:
    """`qbsync dev up --demo`: the demo, then the stack keeps serving until Ctrl-C.

    Ctrl-C during the demo stops the whole stack when this process started it; a demo
    that fails leaves the stack running so its logs and APIs can be looked at.
    """
    try:
        run_and_print(home, state, seed=seed)
    except KeyboardInterrupt:
        stopped = stop_stack(home) if owns_stack else []
        typer.echo(f"Interrupted; stopped {', '.join(stopped) or 'nothing'}.", err=True)
        raise typer.Exit(130) from None
    except Exception as exc:  # noqa: BLE001 - whatever broke, the stack must not be orphaned
        typer.echo(f"The demo failed: {exc!r}; the stack keeps running.", err=True)
