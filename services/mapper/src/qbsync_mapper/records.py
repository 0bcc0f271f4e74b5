"""What the mapper's handlers read of a consumed Kafka record."""

from collections.abc import Sequence
from typing import Protocol


class Record(Protocol):
    """A consumed Kafka record (aiokafka's ConsumerRecord, or a test's stand-in)."""

    @property
    def value(self) -> bytes | None:
        """The record's bytes."""

    @property
    def headers(self) -> Sequence[tuple[str, bytes]]:
        """The record's headers."""
