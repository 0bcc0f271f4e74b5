"""Document lines: QBO item (DOC-3, DOC-4), class, tax code (CUR-3) and the tax check (CUR-4)."""

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from qbsync_contracts.events import Line
from qbsync_core.commands import Entity, Operation
from qbsync_core.errors import ErrorCategory

from qbsync_mapper.rules.core import Mapping, money
from qbsync_mapper.tenants import ItemRule, TaxCode

CENT = Decimal("0.01")


@dataclass
class MappedLines:
    """QBO lines of a document and the items that must exist before it is posted."""

    lines: list[dict[str, Any]] = field(default_factory=list)
    new_items: dict[str, str] = field(default_factory=dict)
    """Item name -> income account, for items to create (DOC-4)."""
    tax_codes: list[TaxCode] = field(default_factory=list)


def _matches(rule: ItemRule, line: Line) -> bool:
    wanted = (rule.service_type, rule.revenue_group, rule.revenue_category)
    actual = (line.service_type, line.revenue_group, line.revenue_category)
    return any(w is not None for w in wanted) and all(
        w is None or w == a for w, a in zip(wanted, actual, strict=True)
    )


def _specificity(rule: ItemRule) -> int:
    return sum(
        v is not None for v in (rule.service_type, rule.revenue_group, rule.revenue_category)
    )


def find_rule(rules: list[ItemRule], line: Line) -> ItemRule | None:
    """The most specific rule matching the line's service type / revenue group / category."""
    candidates = [r for r in rules if _matches(r, line)]
    return max(candidates, key=_specificity, default=None)


def _describe(line: Line) -> str:
    parts = [
        f"{label} {value!r}"
        for label, value in (
            ("service type", line.service_type),
            ("revenue group", line.revenue_group),
            ("revenue category", line.revenue_category),
        )
        if value
    ]
    return ", ".join(parts) or "no service type or revenue category"


def map_lines(m: Mapping, lines: list[Line]) -> MappedLines | None:
    """QBO SalesItemLineDetail lines, or None after reporting every line that cannot map."""
    items = m.settings.items
    tax = m.settings.tax
    out = MappedLines()
    failed = False
    for index, line in enumerate(lines):
        rule = find_rule(items.rules, line)
        class_ref: str | None = None
        if rule is not None:
            item_name, class_ref = rule.item, rule.class_
        elif line.service_type:
            if items.default_income_account is None:
                m.fail(
                    ErrorCategory.SERVICE,
                    f"Line {index + 1} ({line.description!r}) has service type "
                    f"{line.service_type!r}, which has no QuickBooks product/service, and the "
                    "tenant settings have no default income account to create one with.",
                    code=f"no-item-{index}",
                    field=f"data.lines.{index}.service_type",
                )
                failed = True
                continue
            item_name = line.service_type
            out.new_items[item_name] = items.default_income_account
        elif items.default_item:
            item_name = items.default_item
        else:
            m.fail(
                ErrorCategory.MAPPING,
                f"Line {index + 1} ({line.description!r}, {_describe(line)}) matches no "
                "product/service mapping in the tenant settings and there is no default item.",
                code=f"no-item-mapping-{index}",
                field=f"data.lines.{index}",
            )
            failed = True
            continue
        code = tax.codes.get(line.tax_code, tax.default) if line.tax_code else tax.default
        out.tax_codes.append(code)
        detail: dict[str, Any] = {
            "ItemRef": {"$item": item_name},
            "Qty": str(line.quantity),
            "UnitPrice": str(line.unit_price),
            "TaxCodeRef": {"value": code.qbo_code},
        }
        if class_ref or line.class_:
            detail["ClassRef"] = {"value": class_ref or line.class_}
        out.lines.append(
            {
                "LineNum": index + 1,
                "Description": line.description,
                "Amount": money(line.amount),
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": detail,
            }
        )
    return None if failed else out


def ensure_items(m: Mapping, mapped: MappedLines) -> list[str]:
    """Commands creating the items new service types need (DOC-4); their refs."""
    refs = []
    for name, account in sorted(mapped.new_items.items()):
        ref = m.ref("item", name)
        m.command(
            Operation.ENSURE,
            Entity.ITEM,
            ref,
            ErrorCategory.SERVICE,
            body={"Name": name, "Type": "Service", "IncomeAccountRef": {"value": account}},
        )
        refs.append(ref)
    return refs


def expected_tax(lines: list[Line], codes: list[TaxCode]) -> Decimal | None:
    """The tax QBO will compute from the mapped codes' rates, or None if a rate is unknown.

    QBO applies each rate to the sum of the lines carrying it and rounds half up to
    cents per rate, so that is what is compared with the upstream tax (CUR-4).
    """
    per_rate: dict[Decimal, Decimal] = defaultdict(Decimal)
    for line, code in zip(lines, codes, strict=True):
        if code.rate is None:
            return None
        per_rate[code.rate] += line.amount
    return sum(
        (
            (base * rate / 100).quantize(CENT, rounding=ROUND_HALF_UP)
            for rate, base in per_rate.items()
        ),
        Decimal(0),
    )


def check_rounding(
    m: Mapping, lines: list[Line], mapped: MappedLines, tax_total: Decimal | None, label: str
) -> bool:
    """False after reporting a tax total QBO would compute differently (CUR-4)."""
    computed = expected_tax(lines, mapped.tax_codes)
    upstream = tax_total or Decimal(0)
    if computed is None or computed == upstream:
        return True
    m.fail(
        ErrorCategory.INVOICE,
        f"{label}: the upstream tax is {money(upstream)} but QuickBooks will compute "
        f"{money(computed)} from the mapped tax rates (difference {money(computed - upstream)}). "
        "qbsync reports rounding differences instead of absorbing them; correct the "
        "document or the tax mapping, then resync.",
        code="rounding-difference",
        field="data.tax_total",
    )
    return False
