"""The client against the QBO emulator in process: CRUD, query, batch, refresh, throttling."""

import asyncio
from typing import Any

import pytest
from qbsync_qbo import (
    BatchOp,
    LimitSettings,
    OAuthTokens,
    QboAuthError,
    QboDuplicateDocNumber,
    QboDuplicateName,
    QboNotFound,
    QboStaleObject,
    RetryPolicy,
    TokenSet,
    WriteOp,
    select,
)

from .sandbox import (
    CLIENT_ID,
    CLIENT_SECRET,
    TOKEN_URL,
    invoice,
    sandbox,
    service_item,
    unique,
)


class TestWrites:
    async def test_create_read_sparse_update_stale_void_delete(self) -> None:
        async with sandbox(limits_enabled=False) as box:
            client = box.client()
            customer = await client.create("Customer", {"DisplayName": unique("Cust")}, unique("c"))
            item = await service_item(client)
            doc = unique("D")[:21]
            inv = await client.create("Invoice", invoice(customer, item, doc), unique("i"))
            assert inv.sync_token == "0"
            assert (await client.read("Invoice", inv.id))["DocNumber"] == doc

            upd = await client.update(
                "Invoice",
                {"Id": inv.id, "SyncToken": inv.sync_token, "PrivateNote": "sparse"},
                unique("u"),
            )
            assert upd.sync_token == "1"
            assert upd["DocNumber"] == doc  # untouched by the sparse update
            assert upd["PrivateNote"] == "sparse"

            with pytest.raises(QboStaleObject) as stale:
                await client.update("Invoice", {"Id": inv.id, "SyncToken": "0"}, unique("u"))
            assert stale.value.has_code("5010")

            voided = await client.void("Invoice", inv.id, "1", unique("v"))
            assert float(voided["TotalAmt"]) == 0
            assert str(voided["PrivateNote"]).startswith("Voided")

            deleted = await client.delete("Invoice", inv.id, str(voided.sync_token), unique("d"))
            assert deleted.status == "Deleted"
            with pytest.raises(QboNotFound):
                await client.read("Invoice", inv.id)

    async def test_repeated_requestid_replays_and_creates_nothing(self) -> None:
        async with sandbox(limits_enabled=False) as box:
            client = box.client()
            rid = unique("same")
            first = await client.create("Customer", {"DisplayName": unique("Once")}, rid)
            again = await client.create("Customer", {"DisplayName": unique("Twice")}, rid)
            assert again.id == first.id
            assert again["DisplayName"] == first["DisplayName"]

    async def test_duplicate_docnumber_and_name_faults(self) -> None:
        async with sandbox(limits_enabled=False) as box:
            client = box.client()
            name = unique("Dup")
            customer = await client.create("Customer", {"DisplayName": name}, unique("c"))
            with pytest.raises(QboDuplicateName) as dup_name:
                await client.create("Customer", {"DisplayName": name}, unique("c"))
            assert dup_name.value.has_code("6240")
            assert dup_name.value.intuit_tid
            item = await service_item(client)
            doc = unique("N")[:21]
            await client.create("Invoice", invoice(customer, item, doc), unique("i"))
            with pytest.raises(QboDuplicateDocNumber) as dup_doc:
                await client.create("Invoice", invoice(customer, item, doc), unique("i"))
            assert dup_doc.value.code == "6140"

    async def test_send_invoice(self) -> None:
        async with sandbox(limits_enabled=False) as box:
            client = box.client()
            customer = await client.create("Customer", {"DisplayName": unique("S")}, unique("c"))
            item = await service_item(client)
            inv = await client.create("Invoice", invoice(customer, item, unique("S")), unique("i"))
            sent = await client.send_invoice(inv.id, "ap@example.com", requestid=unique("s"))
            assert sent["EmailStatus"] == "EmailSent"


NAMES = [
    "O'Brien",
    "O\\Brien",
    "O\\'Brien",
    "Trailing\\",
    "Joe\u2019s Diner",
    "Joe's Diner",
    "Müller Straße 東京",
    "50% Club",
    "50_ Club",
]


class TestQuery:
    async def test_names_with_quotes_backslashes_and_unicode_match_exactly(self) -> None:
        async with sandbox(limits_enabled=False) as box:
            client = box.client()
            ids: dict[str, str] = {}
            for name in NAMES:
                created = await client.create("Customer", {"DisplayName": name}, unique("q"))
                ids[name] = created.id
            for name in NAMES:
                page = await client.query(select("Customer", where={"DisplayName": name}))
                assert [e.id for e in page.entities] == [ids[name]], name
                assert page.entities[0]["DisplayName"] == name

    async def test_colon_in_a_literal_passes_through(self) -> None:
        # QBO forbids ':' in DisplayName (it separates sub-customers), not in CompanyName.
        async with sandbox(limits_enabled=False) as box:
            client = box.client()
            body = {"DisplayName": unique("Ratio"), "CompanyName": "Ratio 1:2 Ltd"}
            created = await client.create("Customer", body, unique("q"))
            await client.create(
                "Customer", {"DisplayName": unique("R"), "CompanyName": "Ratio 1"}, unique("q")
            )
            page = await client.query(select("Customer", where={"CompanyName": "Ratio 1:2 Ltd"}))
            assert [e.id for e in page.entities] == [created.id]

    async def test_query_all_pages_and_count(self) -> None:
        async with sandbox(limits_enabled=False) as box:
            client = box.client()
            before = await client.count("Customer")
            ops = [
                WriteOp("create", "Customer", {"DisplayName": f"Pg {n:04d}"}, unique("p"))
                for n in range(45)
            ]
            assert all(r.error is None for r in await client.write_many(ops))
            assert await client.count("Customer") == before + 45
            rows = await client.query_all(select("Customer", order_by="Id"), page_size=20)
            assert len(rows) == before + 45
            assert len({r.id for r in rows}) == len(rows)


class TestBatch:
    async def test_batch_chunks_and_reports_faults_per_item(self) -> None:
        async with sandbox(limits_enabled=False) as box:
            client = box.client()
            customer = await client.create("Customer", {"DisplayName": unique("B")}, unique("c"))
            item = await service_item(client)
            tag = unique("b")[-6:]
            items = [
                BatchOp(
                    bid=f"i{n}",
                    entity_type="Invoice",
                    operation="create",
                    body=invoice(customer, item, f"{tag}-{n if n != 33 else 0}"),
                )
                for n in range(35)
            ]
            items.append(BatchOp(bid="q", query="SELECT COUNT(*) FROM Customer"))
            results = await client.batch(items, unique("batch"))
            assert [r.bid for r in results] == [i.bid for i in items]
            failed = [r for r in results if not r.ok]
            assert len(failed) == 1
            assert failed[0].fault is not None
            assert failed[0].fault.codes == ("6140",)
            assert results[-1].query is not None
            assert results[-1].query.total_count is not None
            assert await client.count("Invoice", {"DocNumber": f"{tag}-0"}) == 1

    async def test_void_and_delete_in_batch(self) -> None:
        async with sandbox(limits_enabled=False) as box:
            client = box.client()
            customer = await client.create("Customer", {"DisplayName": unique("V")}, unique("c"))
            item = await service_item(client)
            a = await client.create("Invoice", invoice(customer, item, unique("A")), unique("i"))
            b = await client.create("Invoice", invoice(customer, item, unique("B")), unique("i"))
            ops = [
                WriteOp("void", "Invoice", {"Id": a.id, "SyncToken": a.sync_token}, unique("v")),
                WriteOp("delete", "Invoice", {"Id": b.id, "SyncToken": b.sync_token}, unique("d")),
            ]
            results = await client.write_many(ops, single_workers=0)
            assert [r.error for r in results] == [None, None]
            assert results[0].entity is not None
            assert float(results[0].entity["TotalAmt"]) == 0
            with pytest.raises(QboNotFound):
                await client.read("Invoice", b.id)


class MemoryStore:
    def __init__(self) -> None:
        self.saved: list[TokenSet] = []

    async def save(self, tokens: TokenSet) -> None:
        self.saved.append(tokens)


class TestRefresh:
    async def test_expired_token_is_refreshed_on_401_and_rotation_stored(self) -> None:
        async with sandbox(limits_enabled=False) as box:
            store = MemoryStore()
            tokens = OAuthTokens(
                box.token_set(),
                store,
                box.http,
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
                token_url=TOKEN_URL,
            )
            client = box.client(tokens=tokens)
            await client.count("Customer")
            await box.admin("POST", f"realms/{box.realm}/expire-tokens")
            assert await client.count("Customer") >= 0
            assert len(store.saved) == 1
            assert store.saved[0].refresh_token != box.tokens["refresh_token"]
            assert tokens.tokens == store.saved[0]

    async def test_token_past_expiry_is_refreshed_before_the_request(self) -> None:
        async with sandbox(limits_enabled=False) as box:
            store = MemoryStore()
            tokens = OAuthTokens(
                box.token_set(expires_in=-5),
                store,
                box.http,
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
                token_url=TOKEN_URL,
            )
            await box.client(tokens=tokens).count("Customer")
            assert len(store.saved) == 1
            stats = await box.admin("GET", "stats")
            assert stats["realms"][box.realm]["by_status"].get("401", 0) == 0

    async def test_spent_refresh_token_is_invalid_grant(self) -> None:
        async with sandbox(limits_enabled=False) as box:
            kwargs: dict[str, Any] = {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "token_url": TOKEN_URL,
            }
            first = OAuthTokens(box.token_set(), MemoryStore(), box.http, **kwargs)
            await first.refresh()
            stale = OAuthTokens(box.token_set(), MemoryStore(), box.http, **kwargs)
            with pytest.raises(QboAuthError) as info:
                await stale.refresh()
            assert info.value.has_code("invalid_grant")


class TestThrottling:
    async def test_client_at_the_emulators_limits_sees_no_429(self) -> None:
        # Per-minute and concurrency limits only: with no safety margin, a burst that
        # fills the per-second window exactly is at the mercy of scheduling jitter on a
        # loaded machine (the per-second pacing is covered in test_limiter.py).
        async with sandbox(
            requests_per_minute=20, requests_per_second=0, max_concurrent=3, latency_ms=30
        ) as box:
            limits = LimitSettings(
                requests_per_minute=20,
                requests_per_second=0,
                max_concurrent=3,
                safety_margin=0.0,
                burst=12,
            )
            client = box.client(limits=limits)
            tasks = [asyncio.create_task(client.count("Customer")) for _ in range(25)]
            # The 13th token is 60/9 s away, so after 4 s exactly the burst has gone out.
            done, pending = await asyncio.wait(tasks, timeout=4)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            # The burst went out, 3 at a time; the rest wait for the next minute's tokens
            # in the client instead of being refused by the server.
            assert len(done) == 12
            assert all(t.exception() is None for t in done)
            assert await box.throttled() == 0

    async def test_client_limits_above_the_emulators_retry_429_and_succeed(self) -> None:
        async with sandbox(max_concurrent=2, latency_ms=100) as box:
            limits = LimitSettings(
                requests_per_minute=60_000,
                requests_per_second=0,
                max_concurrent=10,
                throttle_backoff_s=0.2,
            )
            retry = RetryPolicy(max_attempts=8, initial_s=0.05, max_s=0.5, jitter_s=0.1)
            client = box.client(limits=limits, retry=retry)
            results = await asyncio.gather(*(client.count("Customer") for _ in range(8)))
            assert len(results) == 8
            assert await box.throttled() > 0
            assert client.limiter.throttled_count > 0

    @pytest.mark.parametrize("kinds", [["500", "503"], ["drop"]])
    async def test_injected_failures_are_retried_without_duplicates(self, kinds: list[str]) -> None:
        async with sandbox(limits_enabled=False) as box:
            retry = RetryPolicy(max_attempts=10, initial_s=0.01, max_s=0.1, jitter_s=0.02)
            client = box.client(retry=retry)
            customer = await client.create("Customer", {"DisplayName": unique("F")}, unique("c"))
            item = await service_item(client)
            # 30 % of requests fail; 10 attempts make a give-up a 1-in-170,000 event.
            await box.admin("POST", "faults", json={"share": 0.3, "kinds": kinds})
            docs = [unique("F")[:21] for _ in range(6)]
            for doc in docs:
                await client.create("Invoice", invoice(customer, item, doc), f"inv-{doc}")
            await box.admin("POST", "faults", json={"share": 0.0, "kinds": kinds})
            for doc in docs:
                assert await client.count("Invoice", {"DocNumber": doc}) == 1
