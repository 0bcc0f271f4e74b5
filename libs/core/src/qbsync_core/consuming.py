"""Helpers every Kafka consumer of qbsync shares."""

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NoReturn

from aiokafka import ConsumerRecord
from faststream.exceptions import NackMessage
from faststream.message import StreamMessage

_TRACE_HEADERS = frozenset({"traceparent", "tracestate"})


async def raw_only(_: StreamMessage[Any]) -> None:
    """A FastStream decoder that decodes nothing.

    Handlers that read `message.raw_message` themselves use it: the default batch
    decoder would parse every record as JSON first (about a fifth of intake's CPU).
    """
    return None


def _utf8(value: bytes) -> bytes:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("utf-8", "replace").encode("utf-8")
    return value


async def tolerant_headers(
    records: tuple[ConsumerRecord[bytes, bytes], ...],
    parse: Callable[[tuple[ConsumerRecord[bytes, bytes], ...]], Awaitable[StreamMessage[Any]]],
) -> StreamMessage[Any]:
    """A FastStream batch parser that accepts header values that are not UTF-8.

    FastStream's own parser decodes every header value as UTF-8; one that is not
    makes it fail before the handler runs, and the whole batch is acknowledged
    unhandled: lost. Headers come from upstream producers, so they can be any
    bytes: such values are replaced (U+FFFD) before FastStream sees them.
    """
    safe = tuple(
        dataclasses.replace(r, headers=[(k, _utf8(v)) for k, v in r.headers])
        if any(_utf8(v) is not v for _, v in r.headers)
        else r
        for r in records
    )
    return await parse(safe)


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
