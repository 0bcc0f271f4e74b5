"""`python -m qbsync_<service> [--host H] [--port P]`: every service's entry point."""

import argparse
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import uvicorn

from qbsync_core.gc_settings import tune_gc


class HttpSettings(Protocol):
    """Where a service listens (each service's settings carry its own default port)."""

    http_host: str
    http_port: int


S = TypeVar("S", bound=HttpSettings)


def serve(prog: str, description: str | None, settings: S, create_app: Callable[[S], Any]) -> None:
    """Parse `--host` / `--port`, build the app, tune the collector, serve with uvicorn."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--host", default=settings.http_host)
    parser.add_argument("--port", type=int, default=settings.http_port)
    args = parser.parse_args()
    app = create_app(settings)
    tune_gc()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
