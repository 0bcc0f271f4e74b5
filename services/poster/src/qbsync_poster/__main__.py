"""`python -m qbsync_poster [--host H] [--port P]` serves the poster with uvicorn."""

from qbsync_core.serving import serve
from qbsync_core.settings import load_settings

from qbsync_poster.app import create_app
from qbsync_poster.settings import PosterSettings


def main() -> None:
    """Parse the command line and serve."""
    serve("python -m qbsync_poster", __doc__, load_settings(PosterSettings), create_app)


if __name__ == "__main__":
    main()
