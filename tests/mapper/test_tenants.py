"""The tenant settings document: validated as a whole, every problem listed (SET-1, SET-4)."""

import json
from typing import Any

import pytest
import yaml
from qbsync_core.commands import MatchStrategy
from qbsync_mapper.tenants import (
    DocumentType,
    TenantSettings,
    parse_document,
    validate_document,
)

from tests.mapper.helpers import settings_document


def problems(document: Any, **kwargs: Any) -> dict[str, str]:
    result = validate_document(document, **kwargs)
    assert isinstance(result, list), "expected problems"
    return {p.field: p.message for p in result}


class TestSettingsDocument:
    def test_yaml_and_json_documents_give_the_same_settings_SET_1(self) -> None:
        doc = settings_document(export_from="2026-01-01")
        from_yaml = parse_document(yaml.safe_dump(doc))
        from_json = parse_document(json.dumps(doc))
        assert isinstance(from_yaml, TenantSettings)
        assert from_yaml == from_json
        assert from_yaml.customers.strategy is MatchStrategy.EMAIL
        assert from_yaml.tax.codes["VAT23"].qbo_code == "5"
        assert str(from_yaml.tax.codes["VAT23"].rate) == "23"
        assert from_yaml.exports(DocumentType.REFUND)

    def test_tax_shorthand_is_a_code_without_rate_CUR_3(self) -> None:
        result = validate_document(settings_document(tax={"default": "NON", "codes": {}}))
        assert isinstance(result, TenantSettings)
        assert (result.tax.default.qbo_code, result.tax.default.rate) == ("NON", None)

    def test_every_problem_is_listed_at_once_SET_1(self) -> None:
        doc = settings_document(home_currency="usd", customers={"strategy": "phone"})
        del doc["tax"]
        del doc["deposit_accounts"]["default"]
        doc["surprise"] = 1
        found = problems(doc)
        assert set(found) == {
            "home_currency",
            "customers.strategy",
            "tax",
            "deposit_accounts.default",
            "surprise",
        }

    def test_cross_field_problems_are_listed_together(self) -> None:
        doc = settings_document(multicurrency=False, refund_accounts={"KWD": "1"})
        doc["deposit_accounts"]["rules"].append(
            {"method": "card", "currency": "EUR", "account": "9"}
        )
        doc["items"]["rules"].append({"item": "Nothing"})
        found = problems(doc)
        assert set(found) == {
            "refund_accounts.KWD",
            "deposit_accounts.rules.0.currency",
            "deposit_accounts.rules.1",
            "deposit_accounts.rules.1.currency",
            "items.rules.3",
        }

    @pytest.mark.parametrize("field", ["tax", "deposit_accounts"])
    def test_tax_and_deposit_defaults_are_required_CUR_3_PAY_1(self, field: str) -> None:
        doc = settings_document()
        doc[field].pop("default")
        assert f"{field}.default" in problems(doc)

    def test_document_for_another_tenant_is_refused(self) -> None:
        assert "tenant_id" in problems(settings_document(), tenant_id="other")

    def test_tenant_id_may_come_from_the_url(self) -> None:
        doc = settings_document()
        del doc["tenant_id"]
        assert isinstance(validate_document(doc, tenant_id="hotel-lisboa"), TenantSettings)

    def test_text_that_is_not_yaml_is_one_problem(self) -> None:
        result = parse_document("a: [")
        assert isinstance(result, list)
        (problem,) = result
        assert problem.field == ""
        assert "not a YAML or JSON document" in problem.message
