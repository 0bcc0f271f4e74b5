"""docs/events.md: every example is a valid v1 event, and every type has one."""

import json
import re
from pathlib import Path

import pytest
from qbsync_contracts.events import EventType, parse_event_json

PAGE = Path(__file__).resolve().parents[2] / "docs" / "events.md"
BLOCK = re.compile(r"^## `([a-z_.]+)`$.*?^```json\n(.*?)^```$", re.M | re.S)


def _examples() -> dict[str, str]:
    return dict(BLOCK.findall(PAGE.read_text()))


def test_every_event_type_has_an_example() -> None:
    assert set(_examples()) == {t.value for t in EventType}


@pytest.mark.parametrize("event_type", sorted(t.value for t in EventType))
def test_example_is_a_valid_event_of_its_type(event_type: str) -> None:
    text = _examples()[event_type]
    event = parse_event_json(text)
    assert event.type == event_type
    assert json.loads(text)["spec"] == "qbsync.event/1"
