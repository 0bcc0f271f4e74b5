"""Run the emulator: ``python -m qbsync_sandbox --host 127.0.0.1 --port 18080``."""

from __future__ import annotations

import argparse

import uvicorn
from qbsync_core.gc_settings import tune_gc

from qbsync_sandbox.app import create_app


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve the emulator with uvicorn."""
    parser = argparse.ArgumentParser(prog="python -m qbsync_sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18080)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    app = create_app()
    tune_gc()
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
