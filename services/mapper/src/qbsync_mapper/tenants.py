"""The tenant settings document (SET-1, SET-2, DOC-9, CUS-4, SET-4) and its validation.

One document per tenant, YAML or JSON. It is validated as a whole: `validate_document`
returns every problem (field path + message) at once, so an operator fixes a document
in one round. Pure: no I/O.
"""

import json
import re
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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


class AccountType(StrEnum):
    """QBO `AccountType` values (qbo-api.md §2, Account)."""

    BANK = "Bank"
    ACCOUNTS_RECEIVABLE = "Accounts Receivable"
    OTHER_CURRENT_ASSET = "Other Current Asset"
    FIXED_ASSET = "Fixed Asset"
    OTHER_ASSET = "Other Asset"
    ACCOUNTS_PAYABLE = "Accounts Payable"
    CREDIT_CARD = "Credit Card"
    OTHER_CURRENT_LIABILITY = "Other Current Liability"
    LONG_TERM_LIABILITY = "Long Term Liability"
    EQUITY = "Equity"
    INCOME = "Income"
    COST_OF_GOODS_SOLD = "Cost of Goods Sold"
    EXPENSE = "Expense"
    OTHER_INCOME = "Other Income"
    OTHER_EXPENSE = "Other Expense"
    NON_POSTING = "Non-Posting"


class AccountInfo(_Strict):
    """What the mapper knows of one QBO account: enough to refuse a wrong target (PAY-10)."""

    name: Name
    type: AccountType


class TargetRole(StrEnum):
    """What a payout setting uses an account for; each role allows some account types."""

    DEPOSIT_TO = "deposit_to"
    """The Deposit's `DepositToAccountRef`: where the processor's money lands."""
    REVENUE_LINE = "revenue_line"
    """A Deposit line of a revenue category."""
    FEE = "fee"
    """The fee line (or fee Expense line)."""


ALLOWED_TYPES: dict[TargetRole, frozenset[AccountType]] = {
    # QBO takes Bank / Other Current Asset as DepositToAccountRef.
    TargetRole.DEPOSIT_TO: frozenset({AccountType.BANK, AccountType.OTHER_CURRENT_ASSET}),
    # PAY-10: revenue or asset only; of those, QBO takes these on a DepositLineDetail.
    TargetRole.REVENUE_LINE: frozenset(
        {AccountType.INCOME, AccountType.OTHER_INCOME, AccountType.OTHER_CURRENT_ASSET}
    ),
    TargetRole.FEE: frozenset(
        {AccountType.EXPENSE, AccountType.OTHER_EXPENSE, AccountType.COST_OF_GOODS_SOLD}
    ),
}
_ROLE_NAMES = {
    TargetRole.DEPOSIT_TO: "deposit account",
    TargetRole.REVENUE_LINE: "revenue category account",
    TargetRole.FEE: "fee account",
}
_LIABILITIES = frozenset(
    {
        AccountType.ACCOUNTS_PAYABLE,
        AccountType.CREDIT_CARD,
        AccountType.OTHER_CURRENT_LIABILITY,
        AccountType.LONG_TERM_LIABILITY,
    }
)


def deposit_target_problems(
    targets: Iterable[tuple[str, str, TargetRole]], accounts: Mapping[str, AccountInfo]
) -> list["Problem"]:
    """Refuse payout targets whose account type does not fit their role (PAY-10).

    Pure, so any source of account types can feed it: the poster's read API of the
    company's real accounts (`qbsync_mapper.accounts`), or the settings document's
    `accounts` table.
    An account whose type is unknown is not judged (QBO refuses it at posting).

    Args:
        targets: (settings field, account id, role) of every payout target.
        accounts: account id -> name and QBO type.

    Returns:
        One problem per refused target, naming the account and its type.
    """
    problems: list[Problem] = []
    for field, account, role in targets:
        info = accounts.get(account)
        if info is None or info.type in ALLOWED_TYPES[role]:
            continue
        kind = "a clearing/liability account" if info.type in _LIABILITIES else "not allowed here"
        allowed = ", ".join(sorted(ALLOWED_TYPES[role]))
        problems.append(
            Problem(
                field=field,
                message=(
                    f"account {account} {info.name!r} is of type {info.type.value}, "
                    f"{kind}; a {_ROLE_NAMES[role]} must be one of: {allowed}"
                ),
            )
        )
    return problems


class CategoryTarget(_Strict):
    """Where a revenue category's payout share goes: an account, a class, or both (PAY-9)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    account: QboId | None = None
    class_: QboId | None = Field(default=None, alias="class")


class FeeMode(StrEnum):
    """How a payout's processor fees reach QBO (PAY-8)."""

    LINE = "line"
    """A negative line on the fee account inside the Deposit."""
    EXPENSE = "expense"
    """A separate Expense (Purchase) from the deposit account."""


class PayoutSettings(_Strict):
    """Processor payouts as one Deposit each (PAY-8..PAY-10); the fee account is `fee_account`."""

    deposit_account: QboId = Field(description="Bank / Other Current Asset the payout lands in.")
    categories: dict[Name, CategoryTarget] = Field(
        default_factory=dict, description="Revenue category -> account and/or class (PAY-9)."
    )
    default_account: QboId | None = Field(
        default=None, description="Account of categories mapped to a class only, or not at all."
    )
    fees: FeeMode = FeeMode.LINE


class JournalSettings(_Strict):
    """Journal mode: one summary JournalEntry per business day (JRN-1..JRN-6)."""

    accounts_receivable: QboId
    deposits: QboId = Field(description="Guest deposits: unearned revenue, a liability (JRN-4).")
    ar_customer: Name = Field(
        default="Guests", description="QBO customer on AR lines (QBO requires one)."
    )
    revenue_accounts: dict[Name, QboId] = Field(default_factory=dict)
    default_revenue_account: QboId
    tax_account: QboId
    fee_account: QboId | None = Field(default=None, description="Default: revenue default.")
    payment_accounts: dict[Name, QboId] = Field(
        default_factory=dict, description="Payment method -> account the money lands in."
    )
    default_payment_account: QboId
    adjustment_account: QboId | None = Field(
        default=None, description="Debited by adjustments; default: revenue default."
    )
    cash_register_methods: list[Name] = Field(
        default_factory=lambda: ["cash_register"],
        description="Payment methods of point-of-sale drawer postings: skipped (JRN-6).",
    )


class ScheduleMode(StrEnum):
    """When a tenant's commands leave the mapper (SET-3)."""

    CONTINUOUS = "continuous"
    INTERVAL = "interval"
    MANUAL = "manual"


_DURATION = re.compile(r"^(\d+)\s*([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def _schedule_shorthand(value: Any) -> Any:
    if isinstance(value, str):
        if value in (ScheduleMode.CONTINUOUS, ScheduleMode.MANUAL):
            return {"mode": value}
        return {"mode": ScheduleMode.INTERVAL, "every": value}
    return value


def _duration(value: Any) -> Any:
    if isinstance(value, str) and (match := _DURATION.match(value.strip())):
        return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    return value


class Schedule(_Strict):
    """`continuous` (default), an interval such as `12h`, or `manual` (SET-3)."""

    mode: ScheduleMode = ScheduleMode.CONTINUOUS
    every: Annotated[timedelta, BeforeValidator(_duration)] | None = Field(
        default=None, description="Interval mode: windows open at local midnight + k x every."
    )


ScheduleEntry = Annotated[Schedule, BeforeValidator(_schedule_shorthand)]


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
    fee_account: QboId | None = Field(default=None, description="Processor fees (PAY-7, PAY-8).")
    auto_renumber: bool = Field(
        default=False, description="Renumber duplicate DocNumbers instead of reporting (DOC-10)."
    )
    time_zone: str = Field(default="UTC", description="IANA zone of the business day (JRN-1).")
    accounts: dict[QboId, AccountInfo] = Field(
        default_factory=dict, description="Account id -> name and QBO type, for PAY-10 checks."
    )
    payouts: PayoutSettings | None = None
    journal: JournalSettings | None = Field(
        default=None, description="Present = journal mode for ledger.* events (JRN-1)."
    )
    schedule: ScheduleEntry = Field(default_factory=Schedule)

    @property
    def zone(self) -> ZoneInfo:
        """The tenant's time zone (validated)."""
        return ZoneInfo(self.time_zone)

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


def _semantic_problems(
    settings: TenantSettings, accounts: Mapping[str, AccountInfo] | None
) -> list[Problem]:
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
    try:
        ZoneInfo(settings.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(
            Problem(field="time_zone", message=f"unknown time zone {settings.time_zone!r}")
        )
    problems.extend(_schedule_problems(settings.schedule))
    if settings.payouts is not None:
        problems.extend(_payout_problems(settings, accounts))
    return problems


def _schedule_problems(schedule: Schedule) -> list[Problem]:
    every = schedule.every
    if schedule.mode is ScheduleMode.INTERVAL:
        if every is None:
            return [Problem(field="schedule.every", message="an interval schedule needs `every`")]
        if not timedelta(minutes=1) <= every <= timedelta(days=1):
            return [Problem(field="schedule.every", message="must be between 1m and 1d")]
    elif every is not None:
        return [Problem(field="schedule.every", message=f"not used by {schedule.mode.value}")]
    return []


def _payout_problems(
    settings: TenantSettings, accounts: Mapping[str, AccountInfo] | None
) -> list[Problem]:
    payouts = settings.payouts
    assert payouts is not None
    problems: list[Problem] = []
    targets = [("payouts.deposit_account", payouts.deposit_account, TargetRole.DEPOSIT_TO)]
    if payouts.default_account:
        targets.append(
            ("payouts.default_account", payouts.default_account, TargetRole.REVENUE_LINE)
        )
    for name, target in payouts.categories.items():
        if target.account is None and target.class_ is None:
            problems.append(
                Problem(field=f"payouts.categories.{name}", message="needs an account or a class")
            )
        if target.account is None and target.class_ is not None and not payouts.default_account:
            problems.append(
                Problem(
                    field=f"payouts.categories.{name}",
                    message="a class-only category needs payouts.default_account",
                )
            )
        if target.account:
            targets.append(
                (f"payouts.categories.{name}.account", target.account, TargetRole.REVENUE_LINE)
            )
    if settings.fee_account is None:
        problems.append(Problem(field="fee_account", message="payouts need a fee account (PAY-8)"))
    else:
        targets.append(("fee_account", settings.fee_account, TargetRole.FEE))
    table = settings.accounts if accounts is None else accounts
    problems.extend(deposit_target_problems(targets, table))
    return problems


def validate_document(
    document: Any,
    *,
    tenant_id: str | None = None,
    accounts: Mapping[str, AccountInfo] | None = None,
) -> TenantSettings | list[Problem]:
    """Validate a decoded settings document as a whole.

    Args:
        document: the decoded YAML/JSON value.
        tenant_id: when given (the URL's tenant), the document must name the same one.
        accounts: the account types PAY-10 judges payout targets by (the company's
            live accounts); default: the document's own `accounts` table.

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
    problems.extend(_semantic_problems(settings, accounts))
    return problems or settings


def parse_document(
    text: str | bytes,
    *,
    tenant_id: str | None = None,
    accounts: Mapping[str, AccountInfo] | None = None,
) -> TenantSettings | list[Problem]:
    """Decode and validate a YAML/JSON settings document; problems instead of exceptions.

    `accounts` as for `validate_document`.
    """
    try:
        document = load_document(text)
    except ValueError as exc:
        return [Problem(field="", message=str(exc))]
    return validate_document(document, tenant_id=tenant_id, accounts=accounts)
