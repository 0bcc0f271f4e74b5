"""`python -m qbsync_mapper [--host H] [--port P]` serves the mapper with uvicorn."""

from qbsync_core.serving import serve
from qbsync_core.settings import load_settings

from qbsync_mapper.app import create_app
from qbsync_mapper.settings import MapperSettings


def main() -> None:
    """Parse the command line and serve."""
    serve("python -m qbsync_mapper", __doc__, load_settings(MapperSettings), create_app)


if __name__ == "__main__":
    main()
