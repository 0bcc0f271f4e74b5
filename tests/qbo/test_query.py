from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from qbsync_qbo import Cond, count, quote_literal, select


class TestQuoteLiteral:
    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            ("Acme", "'Acme'"),
            ("O'Brien", r"'O\'Brien'"),
            ("back\\slash", r"'back\\slash'"),
            ("trailing\\", r"'trailing\\'"),
            ("\\'", r"'\\\''"),
            ("Joe\u2019s Diner", "'Joe\u2019s Diner'"),
            ("Parent:Child", "'Parent:Child'"),
            ("Müller & Søn 東京", "'Müller & Søn 東京'"),
            ("50% off", "'50% off'"),
            ("", "''"),
        ],
    )
    def test_escapes_backslash_and_quote_only(self, name: str, expected: str) -> None:
        assert quote_literal(name) == expected


class TestSelect:
    def test_equality_on_display_name(self) -> None:
        stmt = select("Customer", where={"DisplayName": "O'Brien"})
        assert str(stmt) == r"SELECT * FROM Customer WHERE DisplayName = 'O\'Brien'"

    def test_conditions_are_joined_with_and_and_paged(self) -> None:
        stmt = select(
            "Invoice",
            where={
                "CustomerRef": "12",
                "TxnDate": Cond(">=", date(2026, 1, 31)),
                "Id": Cond("IN", ["1", "2"]),
                "DocNumber": Cond("LIKE", "INV-%"),
                "TotalAmt": Cond(">", Decimal("10.50")),
            },
            order_by="Id DESC",
        )
        assert stmt.render(1001, 1000) == (
            "SELECT * FROM Invoice WHERE CustomerRef = '12' AND TxnDate >= '2026-01-31'"
            " AND Id IN ('1', '2') AND DocNumber LIKE 'INV-%' AND TotalAmt > 10.50"
            " ORDERBY Id DESC STARTPOSITION 1001 MAXRESULTS 1000"
        )

    def test_booleans_and_aware_datetimes(self) -> None:
        when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
        stmt = select(
            "Customer", where={"Active": False, "MetaData.LastUpdatedTime": Cond(">", when)}
        )
        assert str(stmt) == (
            "SELECT * FROM Customer WHERE Active = false"
            " AND MetaData.LastUpdatedTime > '2026-01-02T03:04:05+00:00'"
        )

    def test_count(self) -> None:
        assert str(count("Invoice")) == "SELECT COUNT(*) FROM Invoice"

    @pytest.mark.parametrize(
        "bad",
        [
            lambda: str(select("Customer; DROP", where={})),
            lambda: str(select("Customer", where={"Name' OR 1=1": "x"})),
            lambda: str(select("Customer", where={"Id": Cond("OR", "1")})),
            lambda: str(select("Customer", where={"Id": Cond("IN", [])})),
            lambda: str(select("Customer", where={"T": datetime(2026, 1, 1)})),  # noqa: DTZ001
            lambda: str(select("Customer", order_by="Id SIDEWAYS")),
        ],
    )
    def test_rejects_what_qbo_cannot_express(self, bad: object) -> None:
        assert callable(bad)
        with pytest.raises(ValueError):  # noqa: PT011
            bad()
