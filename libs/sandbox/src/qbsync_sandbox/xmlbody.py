"""XML answers: QBO answers in XML unless the request's Accept header asks for JSON.

The JSON keys are the XSD element names, and the few XSD attributes (``domain``,
``sparse``, ``status``, a reference's ``name`` and ``type``, a Fault's ``type``, an
Error's ``code`` and ``element``, the paging counters of a QueryResponse) become XML
attributes again, so the document reads like Intuit's ``IntuitResponse``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

NAMESPACE = "http://schema.intuit.com/finance/v3"
ATTRIBUTES = frozenset(
    {"domain", "sparse", "status", "startPosition", "maxResults", "totalCount", "bId"}
)
ERROR_ATTRIBUTES = frozenset({"code", "element"})


def wants_json(accept: str) -> bool:
    """True when the Accept header names JSON (QBO's default answer is XML)."""
    return "application/json" in accept.lower()


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _add(parent: Element, tag: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, list):
        for entry in value:
            _add(parent, tag, entry)
        return
    element = SubElement(parent, tag)
    if not isinstance(value, dict):
        element.text = _text(value)
        return
    is_ref = tag.endswith("Ref") and "value" in value
    for key, inner in value.items():
        if inner is None:
            continue
        if is_ref and key == "value":
            element.text = _text(inner)
        elif (
            key in ATTRIBUTES
            or (is_ref and key in ("name", "type"))
            or (tag == "Fault" and key == "type")
            or (tag == "Error" and key in ERROR_ATTRIBUTES)
        ):
            element.set(key, _text(inner))
        else:
            _add(element, key, inner)


def render(body: dict[str, Any]) -> bytes:
    """Render a JSON answer body as an ``IntuitResponse`` XML document."""
    root = Element("IntuitResponse", {"xmlns": NAMESPACE})
    if body.get("time") is not None:
        root.set("time", _text(body["time"]))
    for key, value in body.items():
        if key != "time":
            _add(root, key, value)
    declaration = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    document: bytes = tostring(root, encoding="utf-8", xml_declaration=False)
    return declaration + document
