"""The `qbsync` command line.

Services and libraries add their own command groups through the `qbsync.cli`
entry-point group (a `typer.Typer` per entry), so this package never imports a
service.
"""

import asyncio
import json
import signal
import sys
import threading
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated

import typer
from qbsync_contracts.events import event_json_schema
from qbsync_core.settings import qbsync_home

from qbsync_dev.demo.cli import demo_command, demo_in_foreground
from qbsync_dev.processes import StartupError
from qbsync_dev.stack import (
    DEFAULT_KAFKA_PORT,
    DEFAULT_POSTGRES_PORT,
    read_state,
    stack_status,
    start_stack,
    stop_stack,
)
from qbsync_dev.traces import trace_command

app = typer.Typer(
    help="qbsync: sync business transactions into QuickBooks Online.", no_args_is_help=True
)
dev = typer.Typer(
    help="The embedded development stack (broker + PostgreSQL).", no_args_is_help=True
)
schema = typer.Typer(help="Published schemas of the event contract.", no_args_is_help=True)
app.add_typer(dev, name="dev")
app.add_typer(schema, name="schema")
app.command("trace")(trace_command)
app.command("demo")(demo_command)


def _print_endpoints(report: dict[str, dict[str, object]]) -> None:
    for name, info in report.items():
        mark = (
            "up" if info["answers"] else ("running, not answering" if info["running"] else "down")
        )
        typer.echo(f"  {name:<12} {info['url']:<48} {mark}")


@dev.command("up")
def dev_up(
    detach: Annotated[
        bool, typer.Option("--detach", "-d", help="Return once everything answers.")
    ] = False,
    kafka_port: Annotated[int, typer.Option(help="Preferred broker port.")] = DEFAULT_KAFKA_PORT,
    postgres_port: Annotated[
        int, typer.Option(help="Preferred PostgreSQL port.")
    ] = DEFAULT_POSTGRES_PORT,
    demo: Annotated[
        bool, typer.Option("--demo", help="Then run `qbsync demo` (what `make run` does).")
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of the demo's week.")] = 7,
) -> None:
    """Start the broker and PostgreSQL; in the foreground until Ctrl-C unless --detach."""
    home = qbsync_home()
    existing = read_state(home)
    if existing is not None and all(c.process.alive() for c in existing.components().values()):
        typer.echo(f"The dev stack is already running (state in {home}).")
        _print_endpoints(asyncio.run(stack_status(home)))
        if demo:
            demo_in_foreground(home, existing, seed, owns_stack=False)
        return
    if existing is not None:
        stop_stack(home)  # a half-dead stack from an earlier run
    try:
        # 90 s: on a busy two-core machine the four services together take ~40 s to answer.
        state = asyncio.run(
            start_stack(home, kafka_port=kafka_port, postgres_port=postgres_port, timeout=90.0)
        )
    except StartupError as exc:
        typer.echo(f"qbsync dev up failed: {exc}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        typer.echo("Interrupted during startup; everything started was stopped.", err=True)
        raise typer.Exit(130) from None
    typer.echo(
        "qbsync dev stack up: broker, database and QBO sandbox in "
        f"{state.infrastructure_seconds:.1f}s, services in {state.services_seconds:.1f}s more"
    )
    for name, component in state.components().items():
        typer.echo(f"  {name:<12} {component.url}")
    typer.echo(f"  {'settings':<12} {home / 'dev.env'}")
    if demo:
        demo_in_foreground(home, state, seed)
    if detach:
        return
    typer.echo("Press Ctrl-C to stop.")
    _wait_for_stop_or_crash(home)


def _wait_for_stop_or_crash(home: Path) -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    crashed: list[str] = []
    while not stop.wait(0.5):
        state = read_state(home)
        if state is None:  # `qbsync dev down` from another terminal
            return
        crashed = [n for n, c in state.components().items() if not c.process.alive()]
        if crashed:
            break
    stopped = stop_stack(home)
    if crashed:
        typer.echo(
            f"Stopped: {', '.join(crashed)} exited unexpectedly (logs in {home / 'logs'}).",
            err=True,
        )
        raise typer.Exit(1)
    typer.echo(f"Stopped {', '.join(stopped) or 'nothing'}.")


@dev.command("down")
def dev_down() -> None:
    """Stop everything `qbsync dev up` started."""
    stopped = stop_stack(qbsync_home())
    typer.echo(f"Stopped {', '.join(stopped)}." if stopped else "No dev stack is running.")


@dev.command("status")
def dev_status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable endpoints.")] = False,
) -> None:
    """Report every endpoint of the running stack; exit 1 if any is down."""
    report = asyncio.run(stack_status(qbsync_home()))
    healthy = bool(report) and all(info["answers"] for info in report.values())
    if as_json:
        typer.echo(json.dumps({"healthy": healthy, "components": report}, indent=2))
    elif not report:
        typer.echo("No dev stack is running (qbsync dev up starts one).")
    else:
        _print_endpoints(report)
    if not healthy:
        raise typer.Exit(1)


@schema.command("export")
def schema_export(
    out: Annotated[Path | None, typer.Option(help="File to write; stdout when omitted.")] = None,
) -> None:
    """Print or write the JSON Schema of a v1 event."""
    text = json.dumps(event_json_schema(), indent=2, sort_keys=True) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        typer.echo(f"Wrote {out}")


def _load_plugins() -> None:
    for entry in entry_points(group="qbsync.cli"):
        try:
            plugin = entry.load()
        except ImportError as exc:
            # One broken plugin must not take `qbsync dev down` away from the operator.
            typer.echo(f"warning: command group {entry.name!r} unavailable: {exc}", err=True)
            continue
        app.add_typer(plugin, name=entry.name)


def main() -> None:
    """Entry point of the `qbsync` script."""
    _load_plugins()
    app()
