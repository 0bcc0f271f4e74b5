"""What the transports share once the app's lifespan has opened it."""

from dataclasses import dataclass, field

import asyncpg
from opentelemetry.trace import Tracer

from qbsync_mapper.exports import Clock, utc_now
from qbsync_mapper.publishing import Publisher
from qbsync_mapper.settings import MapperSettings


class NotReady(RuntimeError):
    """The lifespan has not opened the pool and producer yet (or has closed them)."""


@dataclass
class Resources:
    """Settings and tracer at once; pool and publisher while running."""

    settings: MapperSettings
    tracer: Tracer
    pool: asyncpg.Pool | None = None
    publisher: Publisher | None = None
    clock: Clock = field(default=utc_now)
    """The time of export windows and business days (tests pass their own)."""

    def ready(self) -> tuple[asyncpg.Pool, Publisher]:
        """The pool and publisher.

        Raises:
            NotReady: before startup finished or after shutdown began.
        """
        if self.pool is None or self.publisher is None:
            raise NotReady("mapper is starting up or shutting down")
        return self.pool, self.publisher
