"""QBO fault bodies: the Fault JSON envelope, authentication faults and the XML throttle fault."""

from __future__ import annotations

from typing import Any

from qbsync_sandbox.clock import now, response_time

Json = dict[str, Any]


class QboFault(Exception):
    """A QBO error answered as Fault JSON.

    Attributes:
        code: QBO error code (string, as QBO sends it).
        message: Short error name.
        detail: Longer explanation.
        element: Name of the offending element, or "".
        status: HTTP status of the answer.
        fault_type: Fault ``type`` (ValidationFault, SystemFault, ...).
    """

    def __init__(
        self,
        code: str,
        message: str,
        detail: str,
        *,
        element: str = "",
        status: int = 400,
        fault_type: str = "ValidationFault",
    ) -> None:
        super().__init__(f"{code} {message}: {detail}")
        self.code = code
        self.message = message
        self.detail = detail
        self.element = element
        self.status = status
        self.fault_type = fault_type

    def fault(self) -> Json:
        """Return the ``Fault`` object (without envelope)."""
        return {
            "Error": [
                {
                    "Message": self.message,
                    "Detail": self.detail,
                    "code": self.code,
                    "element": self.element,
                }
            ],
            "type": self.fault_type,
        }

    def body(self) -> Json:
        """Return the full response body ``{"Fault": ..., "time": ...}``."""
        return {"Fault": self.fault(), "time": response_time()}


def not_found(entity: str, entity_id: str) -> QboFault:
    """Object Not Found (610): a deleted or unknown object."""
    return QboFault(
        "610",
        "Object Not Found",
        f"Object Not Found : {entity} with Id {entity_id} does not exist or has been deleted.",
        element="Id",
    )


def invalid_reference(element: str, ref_id: object) -> QboFault:
    """Invalid Reference Id (2500): a reference to a missing or inactive list entity."""
    return QboFault(
        "2500",
        "Invalid Reference Id",
        f"Invalid Reference Id : {element} {ref_id} is missing or inactive.",
        element=element,
    )


def required(element: str) -> QboFault:
    """Required param missing (2020)."""
    return QboFault(
        "2020",
        "Required param missing, need to supply the required value for the API",
        f"Required parameter {element} is missing in the request",
        element=element,
    )


def business(detail: str, element: str = "") -> QboFault:
    """Business Validation Error (6000)."""
    return QboFault(
        "6000",
        "A business validation error has occurred while processing your request",
        f"Business Validation Error: {detail}",
        element=element,
    )


def unsupported(detail: str) -> QboFault:
    """Unsupported Operation (500)."""
    return QboFault("500", "Unsupported Operation", f"Operation {detail} is not supported.")


def authentication_fault(detail: str) -> Json:
    """Body of a 401 answer for a missing, expired, revoked or foreign access token.

    Token problems are caught by Intuit's gateway before the accounting service, and the
    gateway answers in its own lowercase envelope (qbo-api.md section 3), not the
    capitalised ``Fault`` of validation errors.
    """
    return {
        "warnings": None,
        "intuitObject": None,
        "fault": {
            "error": [
                {
                    "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                    "detail": detail,
                    "code": "3200",
                    "element": None,
                }
            ],
            "type": "AUTHENTICATION",
        },
        "report": None,
        "queryResponse": None,
        "batchItemResponse": [],
        "attachableResponse": [],
        "syncErrorResponse": None,
        "requestId": None,
        "time": int(now().timestamp() * 1000),
        "status": None,
        "cdcresponse": [],
    }


def authorization_fault(detail: str) -> Json:
    """Body of a 403 answer: a valid token without the accounting scope (gateway shape)."""
    body = authentication_fault(detail)
    body["fault"] = {
        "error": [
            {
                "message": "message=AuthorizationFailed; errorCode=003100; statusCode=403",
                "detail": detail,
                "code": "3100",
                "element": None,
            }
        ],
        "type": "SERVICE",
    }
    return body


def unsupported_content_type(content_type: str) -> QboFault:
    """Unsupported Operation (500): the body's media type is not the one the call reads."""
    return QboFault(
        "500",
        "Unsupported Operation",
        f"Operation cannot consume content type {content_type or '(none)'}.",
    )


def throttle_xml() -> str:
    """Body of a 429 answer; QBO sends XML here even when JSON was requested."""
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="'
        + response_time()
        + '"><Fault type="SERVICE"><Error code="3001">'
        "<Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>"
        "<Detail>Too many requests for this company. Wait and retry.</Detail>"
        "</Error></Fault></IntuitResponse>"
    )


def system_fault() -> Json:
    """Body of an injected HTTP 500."""
    return QboFault(
        "10000",
        "An application error has occurred while processing your request",
        "System Failure Error: injected by the sandbox",
        status=500,
        fault_type="SystemFault",
    ).body()
