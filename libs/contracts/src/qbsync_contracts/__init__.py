"""The public qbsync event contract, version 1 (`qbsync.event/1`).

Upstream systems may depend on this package alone to validate what they publish.
"""

from qbsync_contracts.events import (
    EVENT_ADAPTER,
    SPEC_V1,
    Event,
    EventType,
    parse_event,
    parse_event_json,
)

__all__ = ["EVENT_ADAPTER", "SPEC_V1", "Event", "EventType", "parse_event", "parse_event_json"]
