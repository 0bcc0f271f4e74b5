"""Prometheus metrics of intake, in a registry owned by the app (no global state)."""

import re
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter

_INDEX = re.compile(r"\.\d+(?=\.|$)")


def reason_label(field_path: str) -> str:
    """A bounded label for a rejection: the field path with list indexes folded."""
    return _INDEX.sub(".*", field_path) or "payload"


@dataclass
class IntakeMetrics:
    """Counters of events by outcome and path."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.accepted = Counter(
            "qbsync_ingest_accepted",
            "Events accepted and forwarded",
            ["path"],
            registry=self.registry,
        )
        self.duplicate = Counter(
            "qbsync_ingest_duplicate",
            "Events acknowledged as duplicates",
            ["path"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "qbsync_ingest_rejected",
            "Events rejected, by the field of their first reason",
            ["path", "reason"],
            registry=self.registry,
        )
