"""Operator actions the mapper applies: CUS-8 stop / resume syncing a customer.

The errors service publishes `OperatorAction`s on qbsync.commands.v1 (keyed by
tenant, header `qbsync-kind: qbsync.operator-action`), next to the posting commands
the poster reads. The mapper reads that topic in its own consumer group and keeps
only `stop_syncing` and `resume_syncing`; everything else there is the poster's.
An unreadable action is skipped here: the poster reports it as an error record.
"""

from collections.abc import Sequence

import structlog
from pydantic import ValidationError
from qbsync_core.consuming import retry_later
from qbsync_core.errors import InfrastructureFailure
from qbsync_core.records import OPERATOR_ACTION_KIND, OperatorAction, OperatorActionType

from qbsync_mapper.mapping import apply_customer_action
from qbsync_mapper.records import Record
from qbsync_mapper.resources import NotReady, Resources

RETRY_PAUSE_SECONDS = 2.0
APPLIED = frozenset({OperatorActionType.STOP_SYNCING, OperatorActionType.RESUME_SYNCING})
_KIND = ("qbsync-kind", OPERATOR_ACTION_KIND.encode())
log = structlog.get_logger()


def customer_actions(records: Sequence[Record]) -> list[OperatorAction]:
    """The stop/resume syncing actions among consumed command-topic records, in order."""
    out = []
    for record in records:
        if _KIND not in record.headers:
            continue
        try:
            action = OperatorAction.model_validate_json(record.value or b"")
        except ValidationError as exc:
            log.warning("unreadable operator action skipped", error=str(exc)[:500])
            continue
        if action.action in APPLIED and action.customer_ref:
            out.append(action)
    return out


async def handle_actions(resources: Resources, records: Sequence[Record]) -> None:
    """Apply the batch's customer actions in order, each in its own transaction.

    Raises:
        NackMessage: the database or broker is unavailable, or applying failed
            unexpectedly (after a pause). Actions are idempotent, so the batch is
            simply consumed again; acking would lose an operator's decision.
    """
    actions = customer_actions(records)
    if not actions:
        return
    try:
        pool, publisher = resources.ready()
        for action in actions:
            await apply_customer_action(
                pool, publisher, resources.tracer, action, clock=resources.clock
            )
    except (InfrastructureFailure, NotReady) as exc:
        log.warning("operator actions will be retried", error=str(exc), actions=len(actions))
        await retry_later(exc, RETRY_PAUSE_SECONDS)
    except Exception as exc:  # nothing may be lost: see the docstring
        log.exception("applying operator actions failed; they will be consumed again")
        await retry_later(exc, RETRY_PAUSE_SECONDS)
