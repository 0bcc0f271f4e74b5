"""Resolving ``...Ref`` objects against a realm's name lists."""

from __future__ import annotations

from typing import Any

from qbsync_sandbox.faults import invalid_reference, required
from qbsync_sandbox.store import Json, Realm

NAME_FIELDS = {
    "Customer": "DisplayName",
    "Item": "Name",
    "Account": "Name",
    "Class": "Name",
    "Department": "Name",
    "PaymentMethod": "Name",
    "TaxCode": "Name",
    "TaxRate": "Name",
}


def ref_value(ref: Any) -> str | None:
    """Return the ``value`` of a reference (a dict or a bare id), or None."""
    if isinstance(ref, dict):
        value = ref.get("value")
        return None if value in (None, "") else str(value)
    if isinstance(ref, str | int):
        return str(ref)
    return None


def display_name(entity: str, doc: Json) -> str:
    """Return the name QBO puts into a reference's ``name``."""
    field = NAME_FIELDS.get(entity, "Name")
    return str(doc.get("FullyQualifiedName") or doc.get(field) or "")


def resolve(
    realm: Realm, ref: Any, entity: str, element: str, *, needed: bool = False
) -> tuple[Json | None, Json | None]:
    """Check a reference to a list entity.

    Returns:
        The normalised reference and the referenced entity, or (None, None) when the
        reference is absent and not needed.

    Raises:
        QboFault: 2020 when needed and absent; 2500 when missing or inactive.
    """
    value = ref_value(ref)
    if value is None:
        if needed:
            raise required(element)
        return None, None
    target = realm.get(entity, value)
    if target is None or target.get("Active") is False:
        raise invalid_reference(element, value)
    return {"value": value, "name": display_name(entity, target)}, target
