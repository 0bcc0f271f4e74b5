"""Exceptions raised by the QBO client, under the qbsync root `QbsyncError`.

    QbsyncError (qbsync_core)
    └── QboError                      any QBO failure
        ├── QboHttpError              QBO answered with an error status or a Fault
        │   ├── QboAuthError          401 / 3200 / 3100 / invalid_grant: re-authorise (Account)
        │   ├── QboThrottled          429 / 3001; retriable, honours Retry-After
        │   ├── QboServerError        5xx; retriable
        │   └── QboValidationError    400 faults; `.code`, `has_code("6140")`
        │       ├── QboStaleObject          5010 (SyncToken out of date)
        │       ├── QboDuplicateDocNumber   6140
        │       ├── QboDuplicateName        6240 (Account)
        │       ├── QboNotFound             610 (deleted or inactive object)
        │       └── QboInvalidReference     2500
        └── QboTransportError         timeout or dropped connection; retriable, and for a
                                      write the outcome is unknown (resend the same requestid)

Only `qbsync_qbo.client` (and `auth`) turn `httpx` exceptions and QBO Faults into these;
code above the client never catches `httpx.*`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from qbsync_core.errors import ErrorCategory, QbsyncError

from qbsync_qbo.models import Fault


class QboError(QbsyncError):
    """Root of every failure of the QBO client."""


class QboHttpError(QboError):
    """QBO answered with an HTTP error status or a Fault.

    Attributes:
        status_code: HTTP status of the response (200 for a Fault inside a batch item).
        fault: The parsed Fault (empty when the body held none).
        headers: Response headers, names lower-cased.
        intuit_tid: Intuit's transaction id (`intuit_tid` header), for support tickets.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        fault: Fault | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.fault = fault or Fault()
        self.headers = {k.lower(): v for k, v in (headers or {}).items()}
        self.intuit_tid = self.headers.get("intuit_tid")

    @property
    def code(self) -> str | None:
        """Code of the first Fault error, e.g. '6240'."""
        return self.fault.errors[0].code if self.fault.errors else None

    @property
    def element(self) -> str | None:
        """Element (field) of the first Fault error."""
        return self.fault.errors[0].element if self.fault.errors else None

    @property
    def detail(self) -> str:
        """Detail of the first Fault error ('' if none)."""
        return self.fault.errors[0].detail if self.fault.errors else ""

    def has_code(self, code: str) -> bool:
        """True if any Fault error carries `code` (leading zeros ignored)."""
        return code.lstrip("0") in self.fault.codes

    @property
    def retry_after(self) -> float | None:
        """Seconds to wait per the `Retry-After` header (delta or HTTP date), else None."""
        value = self.headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - datetime.now(UTC)).total_seconds())


class QboAuthError(QboHttpError):
    """The connection's tokens were refused; the realm must be re-authorised."""

    category = ErrorCategory.ACCOUNT
    retriable = False


class QboThrottled(QboHttpError):
    """QBO throttled the realm (HTTP 429, fault 3001)."""

    retriable = True


class QboServerError(QboHttpError):
    """QBO failed (5xx); resubmitting is safe with the same requestid."""

    retriable = True


class QboValidationError(QboHttpError):
    """QBO rejected the request (400 / ValidationFault); fix the data, do not retry."""


class QboStaleObject(QboValidationError):
    """Fault 5010: the SyncToken is stale; re-read the entity and apply the change again."""


class QboDuplicateDocNumber(QboValidationError):
    """Fault 6140: the DocNumber is already used by another transaction."""


class QboDuplicateName(QboValidationError):
    """Fault 6240: another customer, vendor or employee already uses this name."""

    category = ErrorCategory.ACCOUNT


class QboNotFound(QboValidationError):
    """Fault 610: the object was deleted or made inactive."""


class QboInvalidReference(QboValidationError):
    """Fault 2500: a reference points to an unknown or inactive object."""


class QboTransportError(QboError):
    """No usable answer: timeout, refused or dropped connection.

    For a write the outcome is unknown; retrying with the same requestid is the safe move.
    """

    retriable = True

    def __init__(self, message: str, *, method: str, url: str) -> None:
        super().__init__(message)
        self.method = method
        self.url = url

    @property
    def outcome_unknown(self) -> bool:
        """True for a write (POST): QBO may have applied it before the connection failed."""
        return self.method.upper() == "POST"


_BY_CODE: dict[str, type[QboHttpError]] = {
    "5010": QboStaleObject,
    "6140": QboDuplicateDocNumber,
    "6240": QboDuplicateName,
    "610": QboNotFound,
    "2500": QboInvalidReference,
    "3001": QboThrottled,
    "3200": QboAuthError,
    "3100": QboAuthError,
    "100": QboAuthError,
    "110": QboAuthError,
    "120": QboAuthError,
    "invalid_grant": QboAuthError,
}


def error_class_for(status_code: int, fault: Fault) -> type[QboHttpError]:
    """Pick the exception class for a status code and Fault.

    The status decides first for the transport-level cases (401, 429, 5xx) because the
    body may be missing or unparseable there; otherwise the first known fault code wins.
    """
    if status_code == 401:
        return QboAuthError
    if status_code == 429:
        return QboThrottled
    if status_code >= 500:
        return QboServerError
    for code in fault.codes:
        if code in _BY_CODE:
            return _BY_CODE[code]
    if status_code == 403 or fault.type.lower().startswith(("authentication", "authoriz")):
        return QboAuthError
    return QboValidationError


def error_from_fault(
    status_code: int, fault: Fault, headers: Mapping[str, str] | None = None
) -> QboHttpError:
    """Build the typed exception for a QBO answer carrying `fault`."""
    cls = error_class_for(status_code, fault)
    first = fault.errors[0] if fault.errors else None
    text = f"{first.code} {first.message}: {first.detail}" if first else "no fault body"
    return cls(
        f"QBO {status_code} {fault.type or 'error'}: {text}",
        status_code=status_code,
        fault=fault,
        headers=headers,
    )
