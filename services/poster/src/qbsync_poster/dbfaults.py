"""Which database failures are worth retrying, and which are the commands' own fault.

A batch is nacked and handled again only when the database itself is unavailable or
asked for a retry (connection lost, too many connections, serialization failure,
deadlock, shutdown, "cannot connect now"). Any other PostgreSQL error is about the data
a command carries (a NUL byte, a value out of range, a broken invariant): retrying it
would loop forever on the same offset, so those commands become error records instead.
"""

import asyncpg

TRANSIENT: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # class 08: connection lost or refused
    asyncpg.InsufficientResourcesError,  # class 53: too many connections, disk, memory
    asyncpg.TransactionRollbackError,  # class 40: serialization failure, deadlock
    asyncpg.OperatorInterventionError,  # class 57: admin/crash shutdown, cannot connect now
)


def is_transient(exc: BaseException) -> bool:
    """True when `exc` is a database failure a later attempt can get past."""
    if isinstance(exc, asyncpg.PostgresError):
        return isinstance(exc, TRANSIENT)
    # Client-side: the connection closed mid-query, pool closing. asyncpg's DataError
    # (a Python value it cannot encode) is the input's fault, not the database's.
    if isinstance(exc, asyncpg.InterfaceError):
        return not isinstance(exc, ValueError)
    return False


def is_data_error(exc: BaseException) -> bool:
    """True when the database refused what a command carries (never retried)."""
    return isinstance(exc, (asyncpg.PostgresError, asyncpg.InterfaceError)) and not is_transient(
        exc
    )
