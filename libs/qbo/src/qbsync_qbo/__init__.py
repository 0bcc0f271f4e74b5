"""Async QuickBooks Online v3 client: OAuth2 refresh, per-realm limits, retries, batch."""

from qbsync_qbo.auth import (
    INTUIT_TOKEN_URL,
    OAuthTokens,
    StaticToken,
    TokenProvider,
    TokenStore,
)
from qbsync_qbo.client import (
    INTUIT_PRODUCTION,
    INTUIT_SANDBOX,
    QboClient,
    WriteOp,
    WriteResult,
    check_requestid,
)
from qbsync_qbo.errors import (
    QboAuthError,
    QboDuplicateDocNumber,
    QboDuplicateName,
    QboError,
    QboHttpError,
    QboInvalidReference,
    QboNotFound,
    QboServerError,
    QboStaleObject,
    QboThrottled,
    QboTransportError,
    QboValidationError,
)
from qbsync_qbo.faults import parse_fault
from qbsync_qbo.limiter import LimiterRegistry, LimitSettings, RealmLimiter
from qbsync_qbo.models import (
    BatchItemResult,
    BatchOp,
    Fault,
    FaultError,
    QboEntity,
    QueryPage,
    TokenSet,
)
from qbsync_qbo.query import Cond, Select, count, quote_literal, select
from qbsync_qbo.retry import RetryPolicy

__all__ = [
    "INTUIT_PRODUCTION",
    "INTUIT_SANDBOX",
    "INTUIT_TOKEN_URL",
    "BatchItemResult",
    "BatchOp",
    "Cond",
    "Fault",
    "FaultError",
    "LimitSettings",
    "LimiterRegistry",
    "OAuthTokens",
    "QboAuthError",
    "QboClient",
    "QboDuplicateDocNumber",
    "QboDuplicateName",
    "QboEntity",
    "QboError",
    "QboHttpError",
    "QboInvalidReference",
    "QboNotFound",
    "QboServerError",
    "QboStaleObject",
    "QboThrottled",
    "QboTransportError",
    "QboValidationError",
    "QueryPage",
    "RealmLimiter",
    "RetryPolicy",
    "Select",
    "StaticToken",
    "TokenProvider",
    "TokenSet",
    "TokenStore",
    "WriteOp",
    "WriteResult",
    "check_requestid",
    "count",
    "parse_fault",
    "quote_literal",
    "select",
]
