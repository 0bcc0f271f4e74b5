"""What the transports share once the app's lifespan has opened it."""

from dataclasses import dataclass

from qbsync_poster.cdc import CdcPoller
from qbsync_poster.dispatch import Deps
from qbsync_poster.settings import PosterSettings


class NotReady(RuntimeError):
    """The lifespan has not opened the pool, producer and connections yet (or closed them)."""


@dataclass
class Resources:
    """Settings at once; the batch dependencies while running."""

    settings: PosterSettings
    deps: Deps | None = None
    cdc: CdcPoller | None = None
    """The CDC back-sync poll (its loop runs when `cdc_interval_s` > 0)."""

    def ready(self) -> Deps:
        """The running dependencies.

        Raises:
            NotReady: before startup finished or after shutdown began.
        """
        if self.deps is None:
            raise NotReady("poster is starting up or shutting down")
        return self.deps
