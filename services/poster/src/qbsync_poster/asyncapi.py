"""The AsyncAPI document of the poster's channels (`make docs` writes docs/asyncapi/poster.yaml)."""

from faststream import FastStream
from qbsync_core.asyncapi import Channel, document
from qbsync_core.commands import PostingCommand
from qbsync_core.records import ErrorRecord, OperatorAction, QboPaymentNotice
from qbsync_core.topics import COMMANDS, ERRORS, POSTED

from qbsync_poster.outcomes import BackSyncRecord, PostedRecord
from qbsync_poster.settings import PosterSettings

RECEIVES = (
    Channel(
        COMMANDS,
        PostingCommand | QboPaymentNotice | OperatorAction,
        "Posting commands from the mapper, QBO payment notices from ingest (back-sync) and "
        "operators' decisions from the errors service.",
        "`qbsync-kind` tells them apart: `posting-command`, `qbo.payment.changed`, "
        "`qbsync.operator-action`; `traceparent`.",
    ),
)
SENDS = (
    Channel(
        POSTED,
        PostedRecord | BackSyncRecord,
        "One record per QBO write (`type: posted`), and payments recorded in QBO against "
        "synced invoices (`type: payment.recorded_in_qbo`, SET-7).",
    ),
    Channel(
        ERRORS,
        ErrorRecord,
        "QBO faults and connection failures, with QBO's code, message and detail; the command "
        "kept for resync.",
    ),
)


def docs_app() -> FastStream:
    """The document (`faststream docs gen --factory qbsync_poster.asyncapi:docs_app`)."""
    return document(
        "poster",
        "The only service that writes to QuickBooks Online, exactly once per command.",
        PosterSettings.model_fields["group_id"].default,
        RECEIVES,
        SENDS,
    )
