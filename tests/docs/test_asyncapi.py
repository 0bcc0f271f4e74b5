"""docs/asyncapi/*.yaml: FastStream's AsyncAPI documents of every service's channels (#9).

The documents are generated from each service's declaration in `qbsync_<svc>.asyncapi`;
these tests fail when a committed document is stale, and when a declaration names
other topics than the service's real subscriber consumes.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from faststream import FastStream
from faststream.kafka import KafkaRouter
from qbsync_errors import asyncapi as errors_doc
from qbsync_ingest import asyncapi as ingest_doc
from qbsync_mapper import asyncapi as mapper_doc
from qbsync_poster import asyncapi as poster_doc

from tests.fixtures.routers import ROUTERS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "asyncapi"
SERVICES: dict[str, tuple[Callable[[], FastStream], Callable[[], KafkaRouter]]] = {
    "ingest": (ingest_doc.docs_app, ROUTERS["ingest"]),
    "mapper": (mapper_doc.docs_app, ROUTERS["mapper"]),
    "poster": (poster_doc.docs_app, ROUTERS["poster"]),
    "errors": (errors_doc.docs_app, ROUTERS["errors"]),
}


def _document(service: str) -> dict[str, Any]:
    app = SERVICES[service][0]()
    document: dict[str, Any] = app.schema.to_specification().to_jsonable()
    return document


def _topics(document: dict[str, Any], action: str) -> set[str]:
    channels = document["channels"]
    return {
        channels[op["channel"]["$ref"].rsplit("/", 1)[-1].replace("%20", " ")]["address"]
        for op in document["operations"].values()
        if op["action"] == action
    }


@pytest.mark.parametrize("service", SERVICES)
def test_committed_document_is_current(service: str) -> None:
    path = DOCS / f"{service}.yaml"
    assert path.is_file(), f"{path} is missing: run `make docs`"
    committed = yaml.safe_load(path.read_text())
    assert committed == _document(service), f"{path} is stale: run `make docs`"


@pytest.mark.parametrize("service", SERVICES)
def test_document_receives_what_the_service_consumes(service: str) -> None:
    router = SERVICES[service][1]()
    # KafkaSubscriber exposes `topics`; the base type the router lists does not declare it.
    subscribers: list[Any] = list(router.subscribers)
    consumed = {str(getattr(t, "name", t)) for sub in subscribers for t in sub.topics}
    assert consumed, "the service's router subscribes to nothing"
    assert _topics(_document(service), "receive") == consumed


@pytest.mark.parametrize("service", SERVICES)
def test_every_channel_has_a_payload_schema(service: str) -> None:
    document = _document(service)
    for name, message in document["components"]["messages"].items():
        payload = message["payload"]
        assert payload.get("$ref") or payload.get("oneOf") or payload.get("anyOf"), name
