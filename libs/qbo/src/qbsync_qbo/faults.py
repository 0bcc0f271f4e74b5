"""Parse the Fault shapes QBO sends.

Three shapes reach a client (qbo-api.md §3):

* the API's JSON `{"Fault": {"Error": [{"Message", "Detail", "code", "element"}], "type"}}`;
* the gateway's lowercase JSON `{"fault": {"error": [{"message", ...}], "type"}}` (401/403);
* XML `<Fault type="SERVICE"><Error code="3001">…` for throttling, even when JSON was asked.

OAuth endpoints answer `{"error": "invalid_grant", "error_description": ...}` instead.
"""

from __future__ import annotations

import json
from typing import Any

from defusedxml import ElementTree  # type: ignore[import-untyped]

from qbsync_qbo.models import Fault, FaultError


def _norm_code(code: Any) -> str:
    # The gateway writes "003200" in messages and sometimes in `code`; compare by number.
    text = str(code or "").strip()
    return text.lstrip("0") or text


def _get(obj: dict[str, Any], name: str) -> Any:
    """Case-insensitive key lookup: API faults use `Message`, gateway faults `message`."""
    if name in obj:
        return obj[name]
    lowered = name.lower()
    for key, value in obj.items():
        if key.lower() == lowered:
            return value
    return None


def fault_from_json(obj: Any) -> Fault | None:
    """Return the Fault inside a decoded JSON body, or None if it holds none."""
    if not isinstance(obj, dict):
        return None
    raw = _get(obj, "Fault")
    if isinstance(raw, dict):
        errors_raw = _get(raw, "Error") or []
        if isinstance(errors_raw, dict):
            errors_raw = [errors_raw]
        errors = tuple(
            FaultError(
                code=_norm_code(_get(e, "code")),
                element=_get(e, "element") or None,
                message=str(_get(e, "Message") or ""),
                detail=str(_get(e, "Detail") or ""),
            )
            for e in errors_raw
            if isinstance(e, dict)
        )
        return Fault(type=str(_get(raw, "type") or ""), errors=errors)
    if isinstance(obj.get("error"), str):
        return Fault(
            type="OAuth",
            errors=(
                FaultError(
                    code=obj["error"],
                    message=obj["error"],
                    detail=str(obj.get("error_description") or ""),
                ),
            ),
        )
    return None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def fault_from_xml(text: str) -> Fault | None:
    """Return the Fault inside an XML body (the 429 throttle shape), or None."""
    try:
        root = ElementTree.fromstring(text)
    except Exception:  # noqa: BLE001 - defusedxml raises several unrelated types
        return None
    fault_el = next((el for el in root.iter() if _local(el.tag) == "Fault"), None)
    if fault_el is None:
        return None
    errors = []
    for err in fault_el:
        if _local(err.tag) != "Error":
            continue
        fields = {_local(child.tag): (child.text or "").strip() for child in err}
        errors.append(
            FaultError(
                code=_norm_code(err.get("code")),
                element=err.get("element") or None,
                message=fields.get("Message", ""),
                detail=fields.get("Detail", ""),
            )
        )
    return Fault(type=fault_el.get("type") or "", errors=tuple(errors))


def parse_fault(body: bytes, content_type: str = "") -> Fault | None:
    """Parse a response body into a Fault whatever its shape; None if it holds none."""
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        return None
    if "xml" in content_type or text.startswith("<"):
        return fault_from_xml(text)
    try:
        return fault_from_json(json.loads(text))
    except ValueError:
        return None
