"""`python -m qbsync_errors [--host H] [--port P]` serves the errors service with uvicorn."""

from qbsync_core.serving import serve
from qbsync_core.settings import load_settings

from qbsync_errors.app import create_app
from qbsync_errors.settings import ErrorsSettings


def main() -> None:
    """Parse the command line and serve."""
    serve("python -m qbsync_errors", __doc__, load_settings(ErrorsSettings), create_app)


if __name__ == "__main__":
    main()
