"""Prometheus metrics of the errors service (one registry per app, with FastStream's)."""

from prometheus_client import CollectorRegistry, Counter, Gauge
from qbsync_core.errors import ErrorCategory
from qbsync_core.records import ErrorRecord

from qbsync_errors.models import Counts


class ErrorsMetrics:
    """Errors received by category and stage; open errors by category (refreshed each tick)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        """Register the metrics in `registry` (a fresh one when None)."""
        self.registry = registry or CollectorRegistry()
        self.received = Counter(
            "qbsync_errors_received",
            "Error records consumed from qbsync.errors.v1.",
            ["category", "stage"],
            registry=self.registry,
        )
        # Per category only: a tenant label would grow without bound.
        self.open = Gauge(
            "qbsync_errors_open", "Open errors.", ["category"], registry=self.registry
        )

    def received_records(self, records: list[ErrorRecord]) -> None:
        """Count a stored batch."""
        for r in records:
            self.received.labels(r.category.value, r.stage.value).inc()

    def open_counts(self, counts: Counts) -> None:
        """Set the open-errors gauge from all-tenant counts."""
        for category in ErrorCategory:
            self.open.labels(category.value).set(counts.by_category.get(category, 0))
