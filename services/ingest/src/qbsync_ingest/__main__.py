"""`python -m qbsync_ingest [--host H] [--port P]` serves ingest with uvicorn."""

import argparse

import uvicorn
from qbsync_core.gc_settings import tune_gc
from qbsync_core.settings import load_settings

from qbsync_ingest.app import create_app
from qbsync_ingest.settings import IngestSettings


def main() -> None:
    """Parse the command line and serve."""
    settings = load_settings(IngestSettings)
    parser = argparse.ArgumentParser(prog="python -m qbsync_ingest", description=__doc__)
    parser.add_argument("--host", default=settings.http_host)
    parser.add_argument("--port", type=int, default=settings.http_port)
    args = parser.parse_args()
    app = create_app(settings)
    tune_gc()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
