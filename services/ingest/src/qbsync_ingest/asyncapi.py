"""The AsyncAPI document of ingest's channels (`make docs` writes docs/asyncapi/ingest.yaml)."""

from faststream import FastStream
from qbsync_contracts.events import Event
from qbsync_core.asyncapi import Channel, document
from qbsync_core.records import ErrorRecord, QboPaymentNotice
from qbsync_core.topics import ACCEPTED, COMMANDS, ERRORS, INBOUND

from qbsync_ingest.settings import IngestSettings

RECEIVES = (
    Channel(
        INBOUND,
        Event,
        "Upstream systems publish v1 events here (the Kafka intake path; HTTP intake "
        "accepts the same JSON). Anything unreadable becomes an error record.",
        "optional `traceparent` continues the upstream producer's trace.",
    ),
)
SENDS = (
    Channel(
        ACCEPTED,
        Event,
        "Each validated, first-seen event exactly as received.",
        "`traceparent` (the event's trace), `qbsync-event-id`, `qbsync-source`.",
    ),
    Channel(ERRORS, ErrorRecord, "Every refused event, with each broken rule and field."),
    Channel(
        COMMANDS,
        QboPaymentNotice,
        "A signed QBO webhook saying a Payment changed, for the poster's back-sync (SET-7).",
        "`qbsync-kind: qbo.payment.changed`.",
    ),
)


def docs_app() -> FastStream:
    """The document (`faststream docs gen --factory qbsync_ingest.asyncapi:docs_app`)."""
    return document(
        "ingest",
        "Intake of upstream events: validation against contract v1 and dedupe.",
        IngestSettings.model_fields["group_id"].default,
        RECEIVES,
        SENDS,
    )
