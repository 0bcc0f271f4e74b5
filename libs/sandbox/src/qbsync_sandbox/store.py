"""In-memory state: realms with their entities, tombstones, links and request-id cache."""

from __future__ import annotations

import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from qbsync_sandbox.clock import stamp

Json = dict[str, Any]
ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"


@dataclass
class Tombstone:
    """A deleted entity as CDC reports it."""

    entity: str
    entity_id: str
    deleted_at: str


@dataclass
class Realm:
    """One QBO company."""

    realm_id: str
    name: str
    home_currency: str = "USD"
    entities: dict[str, dict[str, Json]] = field(default_factory=lambda: defaultdict(dict))
    tombstones: list[Tombstone] = field(default_factory=list)
    next_ids: dict[str, int] = field(default_factory=lambda: defaultdict(lambda: 1))
    # (target type, target id) -> {payment id: applied amount}; payments link invoices
    # and credit memos, and the balances of both are derived from this map.
    applications: dict[tuple[str, str], dict[str, Decimal]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    # payment id -> deposit ids that carry it: a deposited payment is locked.
    deposited: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    request_ids: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    auto_doc_number: int = 1000
    # While a batch runs: what its items created. Batch items are independent in QBO
    # (no item may use an object made by another item of the same batch), so these stay
    # invisible to reads, references and queries until the batch ends.
    batch_created: set[tuple[str, str]] | None = None

    def new_id(self, entity: str) -> str:
        """Allocate the next Id for an entity type."""
        value = self.next_ids[entity]
        self.next_ids[entity] = value + 1
        return str(value)

    def get(self, entity: str, entity_id: object) -> Json | None:
        """Return a live entity or None."""
        if self.batch_created and (entity, str(entity_id)) in self.batch_created:
            return None
        return self.entities[entity].get(str(entity_id))

    def all(self, entity: str) -> list[Json]:
        """Return the live entities of a type ordered by numeric Id."""
        hidden = self.batch_created or set()
        return sorted(
            (e for e in self.entities[entity].values() if (entity, str(e["Id"])) not in hidden),
            key=lambda e: _id_key(e.get("Id")),
        )

    def is_deleted(self, entity: str, entity_id: str) -> bool:
        """True when the entity existed and was deleted."""
        return any(t.entity == entity and t.entity_id == entity_id for t in self.tombstones)

    def insert(self, entity: str, doc: Json, entity_id: str | None = None) -> Json:
        """Store a new entity, stamping Id, SyncToken "0", MetaData and domain."""
        moment = stamp()
        doc["Id"] = entity_id or self.new_id(entity)
        doc["SyncToken"] = "0"
        doc["domain"] = "QBO"
        doc["sparse"] = False
        doc["MetaData"] = {"CreateTime": moment, "LastUpdatedTime": moment}
        self.entities[entity][doc["Id"]] = doc
        if self.batch_created is not None:
            self.batch_created.add((entity, doc["Id"]))
        return doc

    def bump(self, doc: Json) -> Json:
        """Record a write: SyncToken + 1 and a new LastUpdatedTime."""
        doc["SyncToken"] = str(int(doc.get("SyncToken", "0")) + 1)
        meta = doc.setdefault("MetaData", {})
        meta["LastUpdatedTime"] = stamp()
        return doc

    def singleton(self, entity: str) -> Json:
        """Return the single Preferences or CompanyInfo object."""
        return next(iter(self.entities[entity].values()))


def _id_key(value: object) -> tuple[int, str]:
    text = str(value)
    return (int(text), text) if text.isdigit() else (1 << 62, text)


@dataclass
class TokenGrant:
    """An issued access or refresh token."""

    realm_id: str
    expires_at: float
    kind: str
    revoked: bool = False
    scope: str = ACCOUNTING_SCOPE


@dataclass
class AuthCode:
    """A one-time authorization code."""

    realm_id: str
    redirect_uri: str
    expires_at: float
    scope: str = ACCOUNTING_SCOPE


class Store:
    """All realms and OAuth grants of one emulator instance.

    Handlers never await while mutating, so the single asyncio thread makes every
    operation atomic without locks.
    """

    def __init__(self) -> None:
        self.realms: dict[str, Realm] = {}
        self.tokens: dict[str, TokenGrant] = {}
        self.codes: dict[str, AuthCode] = {}

    def new_realm_id(self) -> str:
        """Allocate a QBO-looking realm id (a long decimal number)."""
        while True:
            candidate = "9130" + "".join(secrets.choice("0123456789") for _ in range(12))
            if candidate not in self.realms:
                return candidate

    def reset(self) -> None:
        """Forget every realm and grant."""
        self.realms.clear()
        self.tokens.clear()
        self.codes.clear()
