"""Pure parts of the poster: symbols, chains, requestids, token encryption."""

import asyncio
from decimal import Decimal

import pytest
from cryptography.fernet import Fernet, InvalidToken
from qbsync_core.commands import Entity, Operation
from qbsync_poster.crypto import TokenCipher
from qbsync_poster.dispatch import Raw, chains, parse
from qbsync_poster.execution import marker, requestid
from qbsync_poster.symbols import Unresolved, substitute, symbols
from qbsync_poster.work import Work

from tests.poster.helpers import command, customer_by_name, invoice, payment


def test_symbols_become_qbo_ids_and_amounts_decimals() -> None:
    body = {
        "CustomerRef": {"$ref": "customer:t:c"},
        "EntityRef": {"$ref": "customer:t:c", "type": "Customer"},
        "TotalAmt": "291.50",
        "Line": [
            {"Amount": "10.10", "LinkedTxn": [{"TxnId": {"$ref": "invoice:t:1"}}]},
            {"SalesItemLineDetail": {"ItemRef": {"$item": "Room"}, "Qty": "2"}},
        ],
        "DocNumber": "0010",
    }
    assert symbols(body) == (frozenset({"customer:t:c", "invoice:t:1"}), frozenset({"Room"}))
    out = substitute(body, {"customer:t:c": "5", "invoice:t:1": "9"}, {"Room": "3"})
    assert out["CustomerRef"] == {"value": "5"}
    assert out["EntityRef"] == {"type": "Customer", "value": "5"}
    assert out["Line"][0]["LinkedTxn"][0]["TxnId"] == "9"
    assert out["Line"][1]["SalesItemLineDetail"] == {"ItemRef": {"value": "3"}, "Qty": Decimal(2)}
    assert out["TotalAmt"] == Decimal("291.50")
    assert out["DocNumber"] == "0010"


def test_unresolved_symbol_raises() -> None:
    with pytest.raises(Unresolved):
        substitute({"CustomerRef": {"$ref": "x"}}, {}, {})


def test_documents_of_one_customer_are_independent_chains_but_payments_follow_invoices() -> None:
    cust = customer_by_name("t", "A")
    inv1 = invoice("t", "r", "1", "1", cust)
    inv2 = invoice("t", "r", "2", "2", cust)
    pay1 = payment("t", "r", "p1", inv1.upstream_ref, cust)
    void1 = command("t", "r", Operation.VOID, Entity.INVOICE, inv1.upstream_ref, {})
    groups = chains([inv1, inv2, pay1, void1])
    ids = sorted([[c.command_id for c in g] for g in groups], key=len)
    assert ids == [
        [inv2.command_id],
        [inv1.command_id, pay1.command_id, void1.command_id],
    ]


def test_requestid_fits_qbo_limit_and_changes_with_generation() -> None:
    inv = invoice("t", "r", "1", "1", customer_by_name("t", "A"))
    assert len(requestid(inv, 12345)) <= 50
    assert requestid(inv, 0) != requestid(inv, 1)
    assert inv.command_id in marker(inv)


def test_message_kinds_are_told_apart_by_header() -> None:
    inv = invoice("t", "r", "1", "1", customer_by_name("t", "A"))
    parsed = parse(
        [
            Raw(inv.model_dump_json().encode(), {"qbsync-kind": "posting-command"}),
            Raw(
                b'{"realm_id": "1", "entity_id": "2", "operation": "Create"}',
                {"qbsync-kind": "qbo.payment.changed"},
            ),
            Raw(b"not json", {}),
            Raw(b"{}", {"qbsync-kind": "future.kind"}),
        ]
    )
    assert [c.command_id for c, _ in parsed.commands] == [inv.command_id]
    assert [n.entity_id for n in parsed.notices] == ["2"]
    assert len(parsed.errors) == 1
    assert parsed.errors[0].category == "Validation"


def test_token_keys_rotate_first_encrypts_all_decrypt() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed = TokenCipher(old).encrypt(b"secret")
    both = TokenCipher(f"{new},{old}")
    assert both.decrypt(sealed) == b"secret"
    with pytest.raises(InvalidToken):
        TokenCipher(new).decrypt(sealed)
    assert TokenCipher(new).decrypt(both.rotate(sealed)) == b"secret"


class TestItemLookups:
    """A batch shares one look-up per item name while it runs, and only then."""

    @staticmethod
    def work() -> Work:
        # Item look-ups touch no resource of Work: the rest stays unset.
        return Work(None, None, None, "t-1", "r-1", None)  # type: ignore[arg-type]

    async def test_chains_asking_at_once_share_one_look_up(self) -> None:
        work = self.work()
        gate = asyncio.Event()
        calls: list[str] = []

        async def look_up() -> str:
            calls.append("Services")
            await gate.wait()
            return "7"

        first = work.item_lookup("Services", look_up)
        second = work.item_lookup("Services", look_up)
        gate.set()
        assert list(await asyncio.gather(first, second)) == ["7", "7"]
        assert calls == ["Services"]

    async def test_a_failed_look_up_is_asked_again_by_a_later_chain(self) -> None:
        work = self.work()
        calls: list[int] = []

        async def look_up() -> str:
            calls.append(1)
            if len(calls) == 1:
                raise TimeoutError("QBO did not answer")
            return "7"

        with pytest.raises(TimeoutError):
            await work.item_lookup("Services", look_up)
        await asyncio.sleep(0)  # the finished look-up leaves the shared set
        assert await work.item_lookup("Services", look_up) == "7"

    async def test_look_ups_nobody_awaits_are_cancelled_at_the_end(self) -> None:
        work = self.work()
        never = asyncio.Event()

        async def look_up() -> str:
            await never.wait()
            return "7"

        pending = work.item_lookup("Services", look_up)
        await work.cancel_lookups()
        assert pending.cancelled()
