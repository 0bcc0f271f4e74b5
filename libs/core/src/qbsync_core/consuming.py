"""Helpers every Kafka consumer of qbsync shares."""

import asyncio
from collections.abc import Sequence
from typing import Any, NoReturn

from faststream.exceptions import NackMessage
from faststream.message import StreamMessage

_TRACE_HEADERS = frozenset({"traceparent", "tracestate"})


async def raw_only(_: StreamMessage[Any]) -> None:
    """A FastStream decoder that decodes nothing.

    Handlers that read `message.raw_message` themselves use it: the default batch
    decoder would parse every record as JSON first (about a fifth of intake's CPU).
    """
    return None


def trace_carrier(headers: Sequence[tuple[str, bytes]]) -> dict[str, str]:
    """The W3C trace-context headers of a Kafka record, for `propagate.extract`."""
    return {k: v.decode("latin-1") for k, v in headers if k in _TRACE_HEADERS}


async def retry_later(cause: BaseException, pause_seconds: float) -> NoReturn:
    """Nack the batch after a pause: the consumer seeks back and handles it again.

    Only for infrastructure failures (database or broker down): a domain failure must
    become an error record instead, or the same message would loop forever.
    """
    await asyncio.sleep(pause_seconds)
    raise NackMessage from cause
