"""The query language: operators, escaping, paging, counting."""

# ruff: noqa: S608 - these strings are QBO queries sent to the emulator, not SQL

from __future__ import annotations

import pytest

from tests.sandbox.conftest import Company, fault

NAMES = [
    "O'Brien & Sons",
    "Back\\slash Ltd",
    "Smart\u2019Quote Inc",
    "Smith & Co (West)",
    "Café Zürich",
    "Plain Co",
]


def quoted(name: str) -> str:
    return "'" + name.replace("\\", "\\\\").replace("'", "\\'") + "'"


@pytest.fixture
async def named(qbo: Company) -> Company:
    for name in NAMES:
        await qbo.customer(name)
    return qbo


class TestQueryEscaping:
    @pytest.mark.parametrize("name", NAMES)
    async def test_equality_matches_names_with_special_characters(
        self, named: Company, name: str
    ) -> None:
        found = await named.query(f"SELECT * FROM Customer WHERE DisplayName = {quoted(name)}")
        assert [c["DisplayName"] for c in found["Customer"]] == [name]

    async def test_query_by_post_body_with_application_text(self, named: Company) -> None:
        response = await named.client.post(
            f"{named.base}/query",
            content=f"select * from Customer where DisplayName = {quoted(NAMES[0])}",
            headers={**named.headers, "Content-Type": "application/text"},
        )
        assert response.json()["QueryResponse"]["Customer"][0]["DisplayName"] == NAMES[0]


class TestQueryOperators:
    @pytest.mark.parametrize(
        ("where", "expected"),
        [
            ("DisplayName LIKE 'Caf%'", ["Café Zürich"]),
            ("DisplayName LIKE '%Co'", ["Plain Co"]),
            ("DisplayName LIKE '%(West)'", ["Smith & Co (West)"]),
            ("DisplayName IN ('Plain Co', 'Smith & Co (West)')", ["Smith & Co (West)", "Plain Co"]),
            ("Id IN ('1', '2')", ["O'Brien & Sons", "Back\\slash Ltd"]),
            ("Id > '4'", ["Café Zürich", "Plain Co"]),
            ("Id <= '2'", ["O'Brien & Sons", "Back\\slash Ltd"]),
            ("Id >= '3' AND Id < '5'", ["Smart\u2019Quote Inc", "Smith & Co (West)"]),
            ("DisplayName = 'nobody'", []),
        ],
    )
    async def test_where_operators(self, named: Company, where: str, expected: list[str]) -> None:
        found = await named.query(f"SELECT * FROM Customer WHERE {where} ORDERBY Id")
        assert [c["DisplayName"] for c in found.get("Customer", [])] == expected

    async def test_dates_compare_on_txndate_and_metadata(self, qbo: Company) -> None:
        customer = await qbo.customer()
        await qbo.invoice(customer["Id"], TxnDate="2026-01-15")
        await qbo.invoice(customer["Id"], TxnDate="2026-03-01")
        found = await qbo.query("SELECT * FROM Invoice WHERE TxnDate >= '2026-02-01'")
        assert [i["TxnDate"] for i in found["Invoice"]] == ["2026-03-01"]
        recent = await qbo.query(
            "SELECT COUNT(*) FROM Invoice "
            "WHERE MetaData.LastUpdatedTime > '2020-01-01T00:00:00-08:00'"
        )
        assert recent["totalCount"] == 2
        by_customer = await qbo.query(
            f"SELECT * FROM Invoice WHERE CustomerRef = '{customer['Id']}'"
        )
        assert len(by_customer["Invoice"]) == 2

    async def test_orderby_desc(self, named: Company) -> None:
        found = await named.query("SELECT * FROM Customer ORDERBY DisplayName DESC")
        names = [c["DisplayName"] for c in found["Customer"]]
        assert names == sorted(names, key=str.casefold, reverse=True)

    async def test_empty_result_is_empty_queryresponse(self, qbo: Company) -> None:
        assert await qbo.query("SELECT * FROM Invoice") == {}

    @pytest.mark.parametrize(
        "text",
        [
            "SELECT * FROM Customer WHERE DisplayName = 'a' OR Id = '1'",
            "SELECT Id FROM Customer",
            "SELECT * FROM Nothing",
            "SELECT * FROM Customer WHERE DisplayName = 'open",
        ],
    )
    async def test_unsupported_syntax_is_a_parser_fault(self, qbo: Company, text: str) -> None:
        response = await qbo.get("query", query=text)
        assert response.status_code == 400
        assert fault(response)["code"] == "4000"


class TestQueryPaging:
    async def test_startposition_is_one_based_and_maxresults_limits(self, named: Company) -> None:
        page = await named.query("SELECT * FROM Customer ORDERBY Id STARTPOSITION 2 MAXRESULTS 3")
        assert [c["Id"] for c in page["Customer"]] == ["2", "3", "4"]
        assert page["startPosition"] == 2
        assert page["maxResults"] == 3

    async def test_count_returns_total_count_only(self, named: Company) -> None:
        assert await named.query("SELECT COUNT(*) FROM Customer") == {"totalCount": len(NAMES)}

    async def test_maxresults_is_capped_at_1000(self, qbo: Company) -> None:
        response = await qbo.client.post(
            f"{qbo.base}/batch",
            headers=qbo.headers,
            json={
                "BatchItemRequest": [
                    {"bId": str(i), "operation": "create", "Class": {"Name": f"Class {i}"}}
                    for i in range(30)
                ]
            },
        )
        assert response.status_code == 200
        page = await qbo.query("SELECT * FROM Class MAXRESULTS 5000")
        assert page["maxResults"] == 30
