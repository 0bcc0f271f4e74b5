"""The AsyncAPI document of the errors service's channels (docs/asyncapi/errors.yaml)."""

from faststream import FastStream
from qbsync_contracts.events import Event
from qbsync_core.asyncapi import Channel, document
from qbsync_core.commands import PostingCommand
from qbsync_core.records import ErrorRecord, OperatorAction
from qbsync_core.topics import ACCEPTED, COMMANDS, ERRORS, INBOUND

from qbsync_errors.settings import ErrorsSettings

REPLAY_HEADERS = "`qbsync-resync-of` (the error id), `qbsync-resync-attempt`, `traceparent`."
RECEIVES = (
    Channel(ERRORS, ErrorRecord, "Every failure of every stage; one record per failure id."),
)
SENDS = (
    Channel(
        INBOUND,
        Event,
        "Resync of an ingest failure: the original payload, byte for byte.",
        REPLAY_HEADERS,
    ),
    Channel(ACCEPTED, Event, "Resync of a mapping failure: the accepted event.", REPLAY_HEADERS),
    Channel(
        COMMANDS,
        PostingCommand | OperatorAction,
        "Resync of a posting failure (the command), and operators' decisions (link or create "
        "a customer, stop or resume syncing one, pause or resume a tenant).",
        REPLAY_HEADERS + " Operator actions carry `qbsync-kind: qbsync.operator-action`.",
    ),
)


def docs_app() -> FastStream:
    """The document (`faststream docs gen --factory qbsync_errors.asyncapi:docs_app`)."""
    return document(
        "errors",
        "The error store: resync, skip, account resolutions and notifications.",
        ErrorsSettings.model_fields["group_id"].default,
        RECEIVES,
        SENDS,
    )
