import asyncio
import json
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from qbsync_core.commands import Entity
from qbsync_qbo import (
    BatchOp,
    QboDuplicateName,
    QboServerError,
    QboStaleObject,
    QboThrottled,
    QboTransportError,
    WriteOp,
    select,
)
from qbsync_qbo.wire import dumps

from .helpers import REALM, Recorder, fast_limiter, fault, json_response, make_client

INVOICE = {"Invoice": {"Id": "1", "SyncToken": "0", "TotalAmt": 10}, "time": "t"}
THROTTLE_XML = (
    b'<IntuitResponse><Fault type="SERVICE"><Error code="3001"><Message>'
    b"message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>"
    b"<Detail>The request limit was reached.</Detail></Error></Fault></IntuitResponse>"
)


def _scripted(*responses: httpx.Response | Exception) -> Recorder:
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, Exception):
            raise item
        return item

    return Recorder(handler)


class TestWrites:
    async def test_create_sends_requestid_minorversion_and_json(self) -> None:
        rec = _scripted(json_response(200, INVOICE))
        async with rec.http() as http:
            inv = await make_client(http).create("Invoice", {"Line": []}, "inv-ord-1")
        assert inv.id == "1"
        assert inv.sync_token == "0"
        req = rec.requests[0]
        assert req.method == "POST"
        assert req.url.path == f"/v3/company/{REALM}/invoice"
        assert req.url.params["requestid"] == "inv-ord-1"
        assert req.url.params["minorversion"] == "75"
        assert req.headers["authorization"] == "Bearer at-1"
        assert req.headers["accept"] == "application/json"

    @pytest.mark.parametrize(
        "first",
        [
            fault("10000", 500, "SystemFault"),
            httpx.Response(503, content=b"Service Unavailable"),
            httpx.ReadTimeout("slow"),
            httpx.RemoteProtocolError("dropped"),
            httpx.Response(429, content=THROTTLE_XML, headers={"content-type": "text/xml"}),
        ],
    )
    async def test_retry_reuses_the_same_requestid(self, first: Any) -> None:
        rec = _scripted(first, json_response(200, INVOICE))
        async with rec.http() as http:
            inv = await make_client(http).create("Invoice", {}, "inv-ord-2")
        assert inv.id == "1"
        assert [r.url.params["requestid"] for r in rec.requests] == ["inv-ord-2"] * 2
        assert rec.requests[0].content == rec.requests[1].content

    async def test_validation_fault_is_not_retried(self) -> None:
        rec = _scripted(fault("5010"))
        async with rec.http() as http:
            with pytest.raises(QboStaleObject) as info:
                await make_client(http).update("Invoice", {"Id": "1", "SyncToken": "0"}, "u-1")
        assert info.value.code == "5010"
        assert len(rec.requests) == 1

    async def test_gives_up_after_max_attempts(self) -> None:
        rec = _scripted(fault("10000", 500))
        async with rec.http() as http:
            with pytest.raises(QboServerError):
                await make_client(http).read("Invoice", "1")
        assert len(rec.requests) == 4

    async def test_transport_error_surfaces_as_qbo_error(self) -> None:
        rec = _scripted(httpx.ConnectError("refused"))
        async with rec.http() as http:
            with pytest.raises(QboTransportError):
                await make_client(http).read("Invoice", "1")

    async def test_throttle_xml_honours_retry_after_and_pauses_realm(self) -> None:
        throttled = httpx.Response(
            429,
            content=THROTTLE_XML,
            headers={"content-type": "application/xml", "Retry-After": "0.2"},
        )
        rec = _scripted(throttled, json_response(200, INVOICE))
        limiter = fast_limiter()
        loop_times: list[float] = []
        async with rec.http() as http:
            client = make_client(http, limiter=limiter)
            start = asyncio.get_running_loop().time()
            await client.read("Invoice", "1")
            loop_times.append(asyncio.get_running_loop().time() - start)
        assert limiter.throttled_count == 1
        assert loop_times[0] >= 0.2

    async def test_throttle_error_when_retries_exhausted(self) -> None:
        rec = _scripted(httpx.Response(429, content=THROTTLE_XML))
        async with rec.http() as http:
            with pytest.raises(QboThrottled) as info:
                await make_client(http).read("Invoice", "1")
        assert info.value.has_code("3001")

    async def test_fault_inside_200_is_raised(self) -> None:
        rec = _scripted(fault("6240", 200))
        async with rec.http() as http:
            with pytest.raises(QboDuplicateName):
                await make_client(http).create("Customer", {}, "c-1")

    @pytest.mark.parametrize("rid", ["", "x" * 51])
    async def test_requestid_is_validated(self, rid: str) -> None:
        rec = _scripted(json_response(200, INVOICE))
        async with rec.http() as http:
            with pytest.raises(ValueError, match="requestid"):
                await make_client(http).create("Invoice", {}, rid)
        assert rec.requests == []

    @pytest.mark.parametrize(
        ("entity", "params", "sparse"),
        [
            ("Invoice", {"operation": "void"}, None),
            ("Payment", {"operation": "update", "include": "void"}, True),
            ("SalesReceipt", {"operation": "update", "include": "void"}, True),
        ],
    )
    async def test_void_shapes(
        self, entity: str, params: dict[str, str], sparse: bool | None
    ) -> None:
        rec = _scripted(json_response(200, {entity: {"Id": "7", "SyncToken": "2"}}))
        async with rec.http() as http:
            await make_client(http).void(entity, "7", "1", f"void-{entity}")
        req = rec.requests[0]
        assert req.url.path.endswith("/" + entity.lower())
        for key, value in params.items():
            assert req.url.params[key] == value
        body = json.loads(req.content)
        assert body["Id"] == "7"
        assert body["SyncToken"] == "1"
        assert body.get("sparse") == sparse

    async def test_delete_and_sparse_update_bodies(self) -> None:
        rec = _scripted(json_response(200, {"Invoice": {"Id": "7", "status": "Deleted"}}))
        async with rec.http() as http:
            client = make_client(http)
            deleted = await client.delete("Invoice", "7", "3", "del-7")
            await client.update("Invoice", {"Id": "7", "SyncToken": "3", "DueDate": "x"}, "upd-7")
        assert deleted.status == "Deleted"
        assert rec.requests[0].url.params["operation"] == "delete"
        assert json.loads(rec.requests[1].content)["sparse"] is True

    async def test_send_invoice(self) -> None:
        rec = _scripted(json_response(200, INVOICE))
        async with rec.http() as http:
            await make_client(http).send_invoice("1", "a@b.co", requestid="send-1")
        req = rec.requests[0]
        assert req.url.path.endswith("/invoice/1/send")
        assert req.url.params["sendTo"] == "a@b.co"
        assert req.headers["content-type"] == "application/octet-stream"


class TestQueries:
    async def test_query_all_pages_by_1000(self) -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            stmt = request.url.params["query"]
            start = int(stmt.split("STARTPOSITION ")[1].split()[0])
            n = 1000 if start == 1 else 5
            rows = [{"Id": str(start + i)} for i in range(n)]
            return json_response(
                200, {"QueryResponse": {"Customer": rows, "startPosition": start, "maxResults": n}}
            )

        rec = Recorder(handler)
        async with rec.http() as http:
            rows = await make_client(http).query_all(select("Customer", where={"Active": True}))
        assert len(rows) == 1005
        assert [r.url.params["query"] for r in rec.requests] == [
            "SELECT * FROM Customer WHERE Active = true STARTPOSITION 1 MAXRESULTS 1000",
            "SELECT * FROM Customer WHERE Active = true STARTPOSITION 1001 MAXRESULTS 1000",
        ]

    async def test_empty_query_and_count(self) -> None:
        rec = _scripted(json_response(200, {"QueryResponse": {"totalCount": 42}}))
        async with rec.http() as http:
            client = make_client(http)
            assert await client.count("Invoice") == 42
            page = await client.query("SELECT * FROM Invoice")
        assert page.entities == []

    async def test_cdc(self) -> None:
        payload = {
            "CDCResponse": [
                {
                    "QueryResponse": [
                        {"Customer": [{"Id": "1"}], "startPosition": 1, "maxResults": 1},
                        {"Invoice": [{"Id": "9", "status": "Deleted"}]},
                    ]
                }
            ]
        }
        rec = _scripted(json_response(200, payload))
        async with rec.http() as http:
            out = await make_client(http).cdc(["Customer", "Invoice"], date(2026, 11, 1))
        assert [e.id for e in out["Customer"]] == ["1"]
        assert out["Invoice"][0].status == "Deleted"
        assert rec.requests[0].url.params["changedSince"] == "2026-11-01"


def _batch_echo(request: httpx.Request) -> httpx.Response:
    items = json.loads(request.content)["BatchItemRequest"]
    out: list[dict[str, Any]] = []
    for item in items:
        if item["Invoice"].get("DocNumber") == "dup":
            out.append(
                {
                    "bId": item["bId"],
                    "Fault": {
                        "type": "ValidationFault",
                        "Error": [
                            {"Message": "Duplicate", "Detail": "d", "code": "6140", "element": ""}
                        ],
                    },
                }
            )
        else:
            out.append(
                {
                    "bId": item["bId"],
                    "Invoice": {"Id": item["bId"], "SyncToken": "0", **item["Invoice"]},
                }
            )
    return json_response(200, {"BatchItemResponse": out[::-1], "time": "t"})


class TestBatch:
    async def test_batch_chunks_by_30_and_maps_by_bid(self) -> None:
        rec = Recorder(_batch_echo)
        items = [
            BatchOp(
                bid=f"i{n}",
                entity_type="Invoice",
                operation="create",
                body={"DocNumber": "dup" if n == 40 else str(n)},
            )
            for n in range(65)
        ]
        async with rec.http() as http:
            results = await make_client(http).batch(items, "run-1")
        assert len(rec.requests) == 3
        sizes = sorted(len(json.loads(r.content)["BatchItemRequest"]) for r in rec.requests)
        assert sizes == [5, 30, 30]
        assert sorted(r.url.params["requestid"] for r in rec.requests) == [
            "run-1-0",
            "run-1-1",
            "run-1-2",
        ]
        assert [r.bid for r in results] == [i.bid for i in items]
        assert results[40].fault is not None
        assert results[40].fault.codes == ("6140",)
        assert results[3].entity is not None
        assert results[3].entity["DocNumber"] == "3"

    async def test_batch_requestid_limit(self) -> None:
        rec = Recorder(_batch_echo)
        items = [BatchOp(bid="a", entity_type="Invoice", operation="create", body={})]
        async with rec.http() as http:
            with pytest.raises(ValueError, match="requestid"):
                await make_client(http).batch(items, "x" * 37)

    async def test_write_many_mixes_batch_and_single_and_keeps_order(self) -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/batch"):
                return _batch_echo(request)
            body = json.loads(request.content)
            if body.get("DocNumber") == "dup":
                return fault("6140")
            return json_response(200, {"Invoice": {"Id": "s", "SyncToken": "0", **body}})

        rec = Recorder(handler)
        ops = [
            WriteOp("create", "Invoice", {"DocNumber": "dup" if n == 7 else str(n)}, f"r-{n}")
            for n in range(100)
        ]
        # Batch requests scarcer than requests, as at Intuit: singles spend the rest.
        limiter = fast_limiter(batch_requests_per_minute=60)  # a batch token a second
        async with rec.http() as http:
            results = await make_client(http, limiter=limiter).write_many(ops)
        assert [r.op for r in results] == ops
        assert results[7].error is not None
        assert results[7].error.code == "6140"  # type: ignore[attr-defined]
        for n, r in enumerate(results):
            if n != 7:
                assert r.entity is not None
                assert r.entity["DocNumber"] == str(n)
        assert any(r.url.path.endswith("/batch") for r in rec.requests)
        assert any(r.url.path.endswith("/invoice") for r in rec.requests)
        batch_ids = [
            r.url.params["requestid"] for r in rec.requests if r.url.path.endswith("/batch")
        ]
        assert all(len(rid) <= 36 for rid in batch_ids)

    @pytest.mark.parametrize("count", [2, 31, 100])
    async def test_write_many_sends_no_single_writes_when_batches_are_not_scarce(
        self, count: int
    ) -> None:
        """With the limits off a single write would be a whole request for one write."""
        rec = Recorder(_batch_echo)
        ops = [WriteOp("create", "Invoice", {"DocNumber": str(n)}, f"r-{n}") for n in range(count)]
        async with rec.http() as http:
            results = await make_client(http).write_many(ops)  # batch rate == request rate
        assert [r.entity["DocNumber"] for r in results if r.entity] == [
            str(n) for n in range(count)
        ]
        assert all(r.url.path.endswith("/batch") for r in rec.requests)
        assert len(rec.requests) == -(-count // 30)


class TestJson:
    def test_request_bodies_keep_enum_keys_dates_and_non_ascii_names(self) -> None:
        body = {
            Entity.INVOICE: {
                "Amount": Decimal("100.10"),
                "Qty": Decimal("2"),
                "TxnDate": date(2026, 1, 2),
                "DisplayName": "O\u2019Brien & Søn",
            }
        }
        assert json.loads(dumps(body)) == {
            "Invoice": {
                "Amount": 100.1,
                "Qty": 2,
                "TxnDate": "2026-01-02",
                "DisplayName": "O\u2019Brien & Søn",
            }
        }
        assert "\u2019".encode() in dumps(body)  # UTF-8, not \u escapes

    @pytest.mark.parametrize(
        ("amount", "sent"),
        [
            (Decimal("0.00001"), 0.00001),
            (Decimal("1E+2"), 100),
            # Beyond 64-bit ints and not numbers at all: still valid JSON, for QBO to
            # refuse that one item, never a crash of the whole request or a silent null.
            (Decimal("1E+20"), 1e20),
            (Decimal("NaN"), "NaN"),
            (Decimal("-Infinity"), "-Infinity"),
        ],
    )
    def test_unusual_amounts_still_make_valid_json(self, amount: Decimal, sent: object) -> None:
        assert json.loads(dumps({"Amount": amount})) == {"Amount": sent}

    async def test_decimal_amounts_go_out_as_numbers_and_come_back_exact(self) -> None:
        rec = _scripted(
            httpx.Response(
                200,
                content=b'{"Invoice": {"Id": "1", "SyncToken": "0", "TotalAmt": 448.40}}',
                headers={"content-type": "application/json"},
            )
        )
        async with rec.http() as http:
            inv = await make_client(http).create(
                "Invoice",
                {"Line": [{"Amount": Decimal("448.40")}], "TxnDate": date(2026, 1, 2)},
                "dec-1",
            )
        assert json.loads(rec.requests[0].content) == {
            "Line": [{"Amount": 448.4}],
            "TxnDate": "2026-01-02",
        }
        assert inv["TotalAmt"] == Decimal("448.40")
