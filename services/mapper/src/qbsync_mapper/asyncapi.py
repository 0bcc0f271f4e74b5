"""The AsyncAPI document of the mapper's channels (`make docs` writes docs/asyncapi/mapper.yaml)."""

from faststream import FastStream
from qbsync_contracts.events import Event
from qbsync_core.asyncapi import Channel, document
from qbsync_core.commands import PostingCommand
from qbsync_core.records import ErrorRecord, OperatorAction
from qbsync_core.topics import ACCEPTED, COMMANDS, ERRORS

from qbsync_mapper.settings import MapperSettings

RECEIVES = (
    Channel(
        ACCEPTED,
        Event,
        "Validated events from ingest, and replays of mapping failures from the errors service.",
        "`traceparent`; `qbsync-resync-of` marks a replay, which is mapped again.",
    ),
    Channel(
        COMMANDS,
        OperatorAction,
        "Operator actions from the errors service, read in the group `<group_id>-actions`: "
        "the mapper applies `stop_syncing` / `resume_syncing` (CUS-8) and ignores every "
        "other message (posting commands and the other actions are the poster's).",
        "`qbsync-kind: qbsync.operator-action` marks an action.",
    ),
)
SENDS = (
    Channel(
        COMMANDS,
        PostingCommand,
        "QBO posting commands (qbsync.command/1, docs/commands.md), in per-document order.",
        "`qbsync-kind: posting-command`, `traceparent`.",
    ),
    Channel(ERRORS, ErrorRecord, "Mapping and validation failures, the event kept for resync."),
)


def docs_app() -> FastStream:
    """The document (`faststream docs gen --factory qbsync_mapper.asyncapi:docs_app`)."""
    return document(
        "mapper",
        "Maps accepted events to QBO posting commands per tenant settings.",
        MapperSettings.model_fields["group_id"].default,
        RECEIVES,
        SENDS,
    )
