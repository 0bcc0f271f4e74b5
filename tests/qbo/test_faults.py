import httpx
import pytest
from qbsync_qbo import (
    QboAuthError,
    QboDuplicateDocNumber,
    QboDuplicateName,
    QboInvalidReference,
    QboNotFound,
    QboServerError,
    QboStaleObject,
    QboThrottled,
    QboValidationError,
    parse_fault,
)
from qbsync_qbo.errors import error_from_fault
from qbsync_qbo.models import Fault, FaultError

API_FAULT = b"""{"Fault":{"Error":[{"Message":"Duplicate Name Exists Error","Detail":"The name \
supplied already exists. : Another customer, vendor or employee is already using this name.",
 "code":"6240","element":""}],"type":"ValidationFault"},"time":"2017-09-29T09:17:31.892-07:00"}"""

GATEWAY_FAULT = b"""{"warnings":null,"intuitObject":null,"fault":{"error":[{"message":
"message=AuthenticationFailed; errorCode=003200; statusCode=401","detail":
"Malformed bearer token: too short or too long","code":"3200","element":null}],
"type":"AUTHENTICATION"},"report":null,"queryResponse":null,"batchItemResponse":[],
"attachableResponse":[],"syncErrorResponse":null,"requestId":null,"time":1633520295688,
"status":null,"cdcresponse":[]}"""

THROTTLE_XML = b"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="2024-09-05T10:00:00.000-07:00">
<Fault type="SERVICE"><Error code="3001"><Message>message=ThrottleExceeded; errorCode=003001;
 statusCode=429</Message><Detail>The request limit was reached.  Try again later</Detail>
</Error></Fault></IntuitResponse>"""


class TestParseFault:
    def test_api_json_fault(self) -> None:
        fault = parse_fault(API_FAULT, "application/json")
        assert fault is not None
        assert fault.type == "ValidationFault"
        assert fault.codes == ("6240",)
        assert fault.errors[0].message == "Duplicate Name Exists Error"
        assert fault.errors[0].element is None

    def test_gateway_lowercase_fault(self) -> None:
        fault = parse_fault(GATEWAY_FAULT, "application/json")
        assert fault is not None
        assert fault.type == "AUTHENTICATION"
        assert fault.codes == ("3200",)
        assert fault.errors[0].detail.startswith("Malformed bearer token")

    def test_throttle_xml_with_namespace(self) -> None:
        fault = parse_fault(THROTTLE_XML, "application/xml")
        assert fault is not None
        assert fault.type == "SERVICE"
        assert fault.codes == ("3001",)
        assert "ThrottleExceeded" in fault.errors[0].message

    def test_oauth_error(self) -> None:
        fault = parse_fault(b'{"error":"invalid_grant"}', "application/json")
        assert fault is not None
        assert fault.codes == ("invalid_grant",)

    @pytest.mark.parametrize("body", [b"", b"not json", b"<html>oops", b'{"Invoice":{}}'])
    def test_no_fault(self, body: bytes) -> None:
        assert parse_fault(body, "text/html") is None


def _fault(code: str) -> Fault:
    return Fault(type="ValidationFault", errors=(FaultError(code=code, message="m"),))


class TestErrorMapping:
    @pytest.mark.parametrize(
        ("status", "code", "cls"),
        [
            (400, "5010", QboStaleObject),
            (400, "6140", QboDuplicateDocNumber),
            (400, "6240", QboDuplicateName),
            (400, "610", QboNotFound),
            (400, "2500", QboInvalidReference),
            (400, "6000", QboValidationError),
            (200, "6240", QboDuplicateName),
            (401, "3200", QboAuthError),
            (403, "3100", QboAuthError),
            (429, "3001", QboThrottled),
            (403, "3001", QboThrottled),
            (500, "10000", QboServerError),
            (503, "", QboServerError),
        ],
    )
    def test_class_by_status_and_code(self, status: int, code: str, cls: type) -> None:
        err = error_from_fault(status, _fault(code))
        assert type(err) is cls
        assert err.status_code == status

    def test_validation_helpers(self) -> None:
        err = error_from_fault(400, _fault("6140"), {"Intuit_TID": "abc-123"})
        assert isinstance(err, QboValidationError)
        assert err.code == "6140"
        assert err.has_code("6140")
        assert not err.has_code("6240")
        assert err.intuit_tid == "abc-123"
        assert err.headers == {"intuit_tid": "abc-123"}
        assert not err.retriable

    def test_retriability_and_category(self) -> None:
        assert QboThrottled.retriable
        assert QboServerError.retriable
        assert not QboAuthError.retriable
        assert QboAuthError.category == "Account"

    @pytest.mark.parametrize(
        ("value", "expected"), [("7", 7.0), ("0", 0.0), ("soon", None), (None, None)]
    )
    def test_retry_after(self, value: str | None, expected: float | None) -> None:
        headers = httpx.Headers({"Retry-After": value} if value is not None else {})
        err = error_from_fault(429, _fault("3001"), headers)
        assert err.retry_after == expected

    def test_retry_after_http_date_in_past_is_zero(self) -> None:
        headers = {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}
        assert error_from_fault(429, _fault("3001"), headers).retry_after == 0.0
