"""The qbsync exception tree. Every failure a service records is one of these.

    QbsyncError                 root; carries `category` and class-level `retriable`
    ├── ValidationFailure       bad input at intake (category Validation)
    ├── MappingFailure          no mapping for a value in tenant settings (category Mapping)
    └── InfrastructureFailure   broker or database unavailable; retriable

Later issues add the QBO client's errors under this root. Control flow (a held
payment, a do-not-sync customer) is not an exception.
"""

from enum import StrEnum

import asyncpg
from aiokafka.errors import KafkaError


class ErrorCategory(StrEnum):
    """Categories an operator filters errors by (ERR-1)."""

    ACCOUNT = "Account"
    """Customer matching or the QBO connection."""
    INVOICE = "Invoice"
    """Invoices and credit notes."""
    PAYMENT = "Payment"
    """Payments."""
    REFUND = "Refund"
    """Refunds."""
    EXPENSE = "Expense"
    """Fees and other expenses."""
    SERVICE = "Service"
    """Products/services (QBO items)."""
    MAPPING = "Mapping"
    """A tenant setting is missing a mapping."""
    VALIDATION = "Validation"
    """An event broke the contract."""


class QbsyncError(Exception):
    """Root of every failure qbsync records as an error."""

    category: ErrorCategory = ErrorCategory.VALIDATION
    retriable: bool = False


class ValidationFailure(QbsyncError):
    """Input broke the event contract; never retried, fixed upstream."""

    category = ErrorCategory.VALIDATION


class MappingFailure(QbsyncError):
    """Tenant settings lack a mapping; resync after the settings are fixed (SET-4)."""

    category = ErrorCategory.MAPPING


class InfrastructureFailure(QbsyncError):
    """A dependency (broker, database) was unavailable; retry later."""

    retriable = True


INFRASTRUCTURE_ERRORS: tuple[type[Exception], ...] = (
    InfrastructureFailure,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    OSError,
    KafkaError,
    TimeoutError,
)
"""Failures of a dependency, not of the input: retried (nack, 503), never error records."""
