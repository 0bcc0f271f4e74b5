"""Builders for mapper tests: a complete settings document and a pure mapping runner."""

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from qbsync_contracts import parse_event_json
from qbsync_core.commands import PostingCommand
from qbsync_core.records import ErrorRecord
from qbsync_mapper.rules import Mapping, map_event
from qbsync_mapper.rules.state import TenantState
from qbsync_mapper.tenants import TenantSettings, validate_document

from tests.fixtures.events import _merge

JSON = dict[str, Any]


def settings_document(**overrides: Any) -> JSON:
    """A complete, valid settings document for tenant hotel-lisboa (home currency USD)."""
    base: JSON = {
        "tenant_id": "hotel-lisboa",
        "realm_id": "9130354",
        "home_currency": "USD",
        "multicurrency": True,
        "document_types": ["customer", "invoice", "credit_note", "payment", "refund"],
        "customers": {"strategy": "email", "auto_create": True, "do_not_sync": []},
        "items": {
            "rules": [
                {
                    "revenue_group": "Rooms",
                    "revenue_category": "Standard",
                    "item": "Room night",
                    "class": "200",
                },
                {"revenue_group": "Rooms", "item": "Room other"},
                {"service_type": "Consulting", "item": "Consulting hours"},
            ],
            "default_item": "Sundries",
            "default_income_account": "79",
        },
        "tax": {"default": "TAX", "codes": {"VAT23": {"qbo_code": "5", "rate": "23"}}},
        "deposit_accounts": {
            "default": "35",
            "rules": [{"method": "card", "currency": "EUR", "account": "36"}],
        },
        "refund_accounts": {"USD": "90", "EUR": "91"},
        "fee_account": "92",
    }
    doc = _merge(base, {k: v for k, v in overrides.items() if not isinstance(v, list)})
    doc.update({k: v for k, v in overrides.items() if isinstance(v, list)})
    return doc


def tenant_settings(**overrides: Any) -> TenantSettings:
    result = validate_document(settings_document(**overrides))
    assert isinstance(result, TenantSettings), result
    return result


@dataclass
class Run:
    """Events mapped one after another against one tenant state."""

    settings: TenantSettings
    state: TenantState = field(default_factory=TenantState)
    mappings: list[Mapping] = field(default_factory=list)

    def map(self, payload: JSON) -> list[Mapping]:
        raw = json.dumps(payload).encode()
        out = map_event(parse_event_json(raw), raw, self.settings, self.state)
        self.mappings.extend(out)
        return out

    def commands(self, payload: JSON) -> list[PostingCommand]:
        return [c for m in self.map(payload) for c in m.commands]

    def errors(self, payload: JSON) -> list[ErrorRecord]:
        return [e for m in self.map(payload) for e in m.errors]


def run(**overrides: Any) -> Run:
    return Run(tenant_settings(**overrides))


def deep(value: Any) -> Any:
    return copy.deepcopy(value)
