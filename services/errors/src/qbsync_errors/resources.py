"""What the transports share once the app's lifespan has opened it."""

from dataclasses import dataclass

import asyncpg
from faststream.kafka import KafkaBroker

from qbsync_errors.actions import Actions
from qbsync_errors.metrics import ErrorsMetrics
from qbsync_errors.settings import ErrorsSettings
from qbsync_errors.storage import RetryPolicy


class NotReady(RuntimeError):
    """The lifespan has not opened the pool and producer yet (or has closed them)."""


@dataclass
class Resources:
    """Settings at once; pool and actions while running."""

    settings: ErrorsSettings
    metrics: ErrorsMetrics
    broker: KafkaBroker
    pool: asyncpg.Pool | None = None
    actions: Actions | None = None

    @property
    def retry_policy(self) -> RetryPolicy:
        """The automatic retry schedule from the settings."""
        s = self.settings
        return RetryPolicy(
            s.retry_base_seconds, s.retry_factor, s.retry_max_delay_seconds, s.retry_max_attempts
        )

    def ready(self) -> tuple[asyncpg.Pool, Actions]:
        """The pool and the actions.

        Raises:
            NotReady: before startup finished or after shutdown began.
        """
        if self.pool is None or self.actions is None:
            raise NotReady("errors is starting up or shutting down")
        return self.pool, self.actions
