"""A tiny double-entry book for expected figures: net debit per account name."""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from qbsync_dev.demo.model import Planted


@dataclass
class TenantExpected:
    """What QBO must hold for one tenant once the demo has run."""

    entities: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    """QBO entity type -> keys (see `entity_key`), each exactly once."""
    problems: list[Planted] = field(default_factory=list)
    balances: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    """Account name -> debit minus credit."""
    journal_days: dict[str, Decimal] = field(default_factory=dict)
    """Journal mode: entry DocNumber -> total debits."""

    def post(self, account: str, debit: Decimal) -> None:
        """Add `debit` (negative: a credit) to an account."""
        self.balances[account] += debit

    def move(self, debit_account: str, credit_account: str, amount: Decimal) -> None:
        """One balanced movement."""
        self.post(debit_account, amount)
        self.post(credit_account, -amount)

    def entity(self, entity: str, key: str) -> None:
        """Expect one QBO entity."""
        self.entities[entity][key] += 1

    def trial_balance(self) -> dict[str, Decimal]:
        """Net debit per account, zero rows left out."""
        return {name: value for name, value in sorted(self.balances.items()) if value != 0}

    def counts(self) -> dict[str, int]:
        """Expected number of entities per QBO type."""
        return {entity: sum(keys.values()) for entity, keys in sorted(self.entities.items())}
