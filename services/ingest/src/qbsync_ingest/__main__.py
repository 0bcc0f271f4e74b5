"""`python -m qbsync_ingest [--host H] [--port P]` serves ingest with uvicorn."""

from qbsync_core.serving import serve
from qbsync_core.settings import load_settings

from qbsync_ingest.app import create_app
from qbsync_ingest.settings import IngestSettings


def main() -> None:
    """Parse the command line and serve."""
    serve("python -m qbsync_ingest", __doc__, load_settings(IngestSettings), create_app)


if __name__ == "__main__":
    main()
