"""Retry policy of the client: exponential backoff with jitter, honouring Retry-After."""

from __future__ import annotations

from dataclasses import dataclass

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_base, wait_exponential_jitter

from qbsync_qbo.errors import QboError, QboHttpError


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a request is retried.

    Retried: throttling (429/3001), 5xx, timeouts and dropped connections. Writes are
    retried too, with the same requestid, so QBO replays the first outcome instead of
    writing twice.

    Attributes:
        max_attempts: Attempts in total, the first included.
        initial_s: First backoff; doubles each attempt.
        max_s: Cap on one backoff.
        jitter_s: Random extra in [0, jitter_s] so clients of one realm spread out.
    """

    max_attempts: int = 5
    initial_s: float = 0.5
    max_s: float = 30.0
    jitter_s: float = 0.5

    def retrying(self) -> AsyncRetrying:
        """A tenacity controller for one request."""
        return AsyncRetrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=_WaitRetryAfter(self),
            retry=retry_if_exception(_is_retriable),
            reraise=True,
        )


def _is_retriable(exc: BaseException) -> bool:
    return isinstance(exc, QboError) and exc.retriable


class _WaitRetryAfter(wait_base):
    """Exponential backoff with jitter, but never shorter than the server's Retry-After."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._backoff = wait_exponential_jitter(
            multiplier=policy.initial_s, max=policy.max_s, jitter=policy.jitter_s
        )

    def __call__(self, retry_state: RetryCallState) -> float:
        wait = self._backoff(retry_state)
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, QboHttpError) and exc.retry_after is not None:
            return max(wait, exc.retry_after)
        return wait
