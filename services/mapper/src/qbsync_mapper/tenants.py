"""The tenant settings document (SET-1, SET-2, DOC-9, CUS-4, SET-4) and its validation.

One document per tenant, YAML or JSON. It is validated as a whole: `validate_document`
returns every problem (field path + message) at once, so an operator fixes a document
in one round. Pure: no I/O.
"""

import json
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
from pydantic import ValidationError as PydanticValidationError
from qbsync_contracts.money import MoneyError, check_currency
from qbsync_core.commands import MatchStrategy

TENANT_PATTERN = r"^[a-z0-9-]{1,64}$"

QboId = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]
"""A QBO id (account, class, tax code) of the tenant's company."""
Name = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class DocumentType(StrEnum):
    """Kinds of upstream documents a tenant may export (DOC-9)."""

    CUSTOMER = "customer"
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"
    PAYMENT = "payment"
    REFUND = "refund"


class _Strict(BaseModel):
    # Unknown keys are refused: a typo in a settings key must not silently mean "unset".
    model_config = ConfigDict(extra="forbid", frozen=True)


class CustomerSettings(_Strict):
    """Customer matching (CUS-1..4, CUS-6, CUS-8)."""

    strategy: MatchStrategy
    auto_create: bool = True
    do_not_sync: list[str] = Field(
        default_factory=list, description="Upstream customer refs whose transactions are held."
    )


class ItemRule(_Strict):
    """Revenue group / category / service type -> QBO item, account and class (SET-1, DOC-3)."""

    service_type: Name | None = None
    revenue_group: Name | None = None
    revenue_category: Name | None = None
    item: Name = Field(description="QBO item name.")
    income_account: QboId | None = Field(
        default=None, description="Income account of the item, if it must be created."
    )
    class_: QboId | None = Field(default=None, alias="class")


class ItemSettings(_Strict):
    """How invoice lines find their QBO item (DOC-3, DOC-4)."""

    rules: list[ItemRule] = Field(default_factory=list)
    default_item: Name | None = Field(
        default=None, description="Item for lines no rule matches and without a service type."
    )
    default_income_account: QboId | None = Field(
        default=None, description="Income account of items created for new service types (DOC-4)."
    )


def _tax_shorthand(value: Any) -> Any:
    return {"qbo_code": value} if isinstance(value, str) else value


class TaxCode(_Strict):
    """A QBO tax code, and its rate when the tenant wants rounding checked (CUR-4)."""

    qbo_code: QboId
    rate: Decimal | None = Field(default=None, ge=0, le=100, description="Percent.")


TaxEntry = Annotated[TaxCode, BeforeValidator(_tax_shorthand)]


class TaxSettings(_Strict):
    """Upstream tax code -> QBO tax code, with a required default (CUR-3)."""

    default: TaxEntry
    codes: dict[str, TaxEntry] = Field(default_factory=dict)


class DepositRule(_Strict):
    """(payment method, currency) -> deposit account (PAY-1)."""

    method: Name
    currency: Currency
    account: QboId


class DepositSettings(_Strict):
    """Deposit accounts of payments, with a required default (PAY-1)."""

    default: QboId
    rules: list[DepositRule] = Field(default_factory=list)


class TenantSettings(_Strict):
    """One tenant's settings document."""

    tenant_id: Annotated[str, StringConstraints(pattern=TENANT_PATTERN)]
    realm_id: QboId
    home_currency: Currency
    multicurrency: bool = False
    export_from: date | None = Field(default=None, description="Nothing dated earlier is sent.")
    document_types: list[DocumentType] = Field(default_factory=lambda: list(DocumentType))
    customers: CustomerSettings
    items: ItemSettings = Field(default_factory=ItemSettings)
    tax: TaxSettings
    deposit_accounts: DepositSettings
    refund_accounts: dict[Currency, QboId] = Field(
        default_factory=dict, description="Currency -> refund expense account (PAY-4)."
    )
    fee_account: QboId | None = None
    auto_renumber: bool = Field(
        default=False, description="Renumber duplicate DocNumbers instead of reporting (DOC-10)."
    )

    def exports(self, kind: DocumentType) -> bool:
        """Whether documents of `kind` are exported (DOC-9)."""
        return kind in self.document_types


class Problem(BaseModel):
    """One thing wrong with a settings document."""

    model_config = ConfigDict(frozen=True)

    field: str = Field(description="Dotted path, '' for the whole document.")
    message: str


def load_document(text: str | bytes) -> Any:
    """Decode a YAML or JSON settings document (JSON is YAML; numbers stay exact).

    Raises:
        ValueError: not YAML/JSON text.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    stripped = text.lstrip()
    try:
        if stripped.startswith("{"):
            return json.loads(text, parse_float=Decimal)
        return yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a YAML or JSON document: {exc}") from exc


def _path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def _semantic_problems(settings: TenantSettings) -> list[Problem]:
    problems: list[Problem] = []

    def currency(value: str, field: str) -> None:
        try:
            check_currency(value)
        except MoneyError as exc:
            problems.append(Problem(field=field, message=str(exc)))

    currency(settings.home_currency, "home_currency")
    for code in settings.refund_accounts:
        currency(code, f"refund_accounts.{code}")
    seen_deposits: set[tuple[str, str]] = set()
    for index, rule in enumerate(settings.deposit_accounts.rules):
        currency(rule.currency, f"deposit_accounts.rules.{index}.currency")
        if (rule.method, rule.currency) in seen_deposits:
            problems.append(
                Problem(
                    field=f"deposit_accounts.rules.{index}",
                    message=f"({rule.method}, {rule.currency}) is mapped twice",
                )
            )
        seen_deposits.add((rule.method, rule.currency))
        if not settings.multicurrency and rule.currency != settings.home_currency:
            problems.append(
                Problem(
                    field=f"deposit_accounts.rules.{index}.currency",
                    message=f"{rule.currency} is not the home currency and multicurrency is off",
                )
            )
    seen_items: set[tuple[str | None, str | None, str | None]] = set()
    for index, item in enumerate(settings.items.rules):
        key = (item.service_type, item.revenue_group, item.revenue_category)
        if key == (None, None, None):
            problems.append(
                Problem(
                    field=f"items.rules.{index}",
                    message="a rule needs service_type, revenue_group or revenue_category",
                )
            )
        elif key in seen_items:
            problems.append(Problem(field=f"items.rules.{index}", message="duplicate rule"))
        seen_items.add(key)
    if len(set(settings.document_types)) != len(settings.document_types):
        problems.append(Problem(field="document_types", message="a type is listed twice"))
    return problems


def validate_document(
    document: Any, *, tenant_id: str | None = None
) -> TenantSettings | list[Problem]:
    """Validate a decoded settings document as a whole.

    Args:
        document: the decoded YAML/JSON value.
        tenant_id: when given (the URL's tenant), the document must name the same one.

    Returns:
        The settings, or every problem found (never only the first).
    """
    problems: list[Problem] = []
    if tenant_id is not None and isinstance(document, dict):
        named = document.get("tenant_id")
        if named is None:
            document = {**document, "tenant_id": tenant_id}
        elif named != tenant_id:
            problems.append(
                Problem(field="tenant_id", message=f"document is for {named!r}, not {tenant_id!r}")
            )
    try:
        settings = TenantSettings.model_validate(document)
    except PydanticValidationError as exc:
        problems.extend(
            Problem(field=_path(err["loc"]), message=err["msg"]) for err in exc.errors()
        )
        return problems
    problems.extend(_semantic_problems(settings))
    return problems or settings


def parse_document(
    text: str | bytes, *, tenant_id: str | None = None
) -> TenantSettings | list[Problem]:
    """Decode and validate a YAML/JSON settings document; problems instead of exceptions."""
    try:
        document = load_document(text)
    except ValueError as exc:
        return [Problem(field="", message=str(exc))]
    return validate_document(document, tenant_id=tenant_id)
