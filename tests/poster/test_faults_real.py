"""Every QBO fault path of the poster leads to its outcome (issue 7, ERR-2, DOC-10, CUS-7)."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from qbsync_core.commands import (
    CustomerResolution,
    Entity,
    MatchStrategy,
    Operation,
    customer_number_note,
)
from qbsync_core.records import CONNECTION_FIELD, OperatorAction, OperatorActionType
from qbsync_poster import storage
from qbsync_poster.connections import Connections
from qbsync_qbo import TokenSet

from tests.poster.conftest import Poster
from tests.poster.helpers import (
    command,
    creates,
    customer_by_name,
    invoice,
    payment,
    tenant_id,
)

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


class TestStaleSyncToken:
    async def test_5010_rereads_and_applies_the_sparse_update(self, poster: Poster) -> None:
        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        inv = invoice(tenant, realm, "s-1", "101", customer_by_name(tenant, "Stale Co"))
        posted = (await poster.run([inv]))[inv.command_id].record
        # Someone edits the invoice in QBO: the ledger's SyncToken is now stale.
        await poster.admin(
            "POST",
            f"realms/{realm}/entities/Invoice/{posted['qbo_id']}/edit",
            {"CustomerMemo": {"value": "edited in QBO"}},
        )
        upd = command(
            tenant,
            realm,
            Operation.UPDATE,
            Entity.INVOICE,
            inv.upstream_ref,
            {"sparse": True, "DueDate": "2027-01-31"},
        )
        outcome = (await poster.run([upd]))[upd.command_id]
        assert outcome.kind == "posted", outcome.record
        (stored,) = (await poster.export(realm))["Invoice"]
        assert stored["DueDate"] == "2027-01-31"
        assert stored["CustomerMemo"] == {"value": "edited in QBO"}


class TestDuplicateDocNumber:
    async def test_6140_is_an_invoice_error_when_renumbering_is_off_doc10(
        self, poster: Poster
    ) -> None:
        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        cust = customer_by_name(tenant, "Dup Doc Co")
        first = invoice(tenant, realm, "d-1", "700", cust)
        second = invoice(tenant, realm, "d-2", "700", cust)
        outcomes = await poster.run([first, second])
        assert outcomes[first.command_id].kind == "posted"
        error = outcomes[second.command_id]
        assert error.kind == "error"
        assert error.record["category"] == "Invoice"
        assert error.record["qbo_fault"]["code"] == "6140"
        assert "DOC-10" in error.record["cause"]

    async def test_6140_renumbers_to_highest_plus_one_when_enabled_doc10(
        self, poster: Poster
    ) -> None:
        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        cust = customer_by_name(tenant, "Renumber Co")
        first = invoice(tenant, realm, "r-1", "800", cust)
        other = invoice(tenant, realm, "r-2", "812", cust)
        again = invoice(tenant, realm, "r-3", "800", cust, auto_renumber=True)
        outcomes = await poster.run([first, other, again])
        assert outcomes[again.command_id].kind == "posted", outcomes[again.command_id].record
        assert outcomes[again.command_id].record["doc_number"] == "813"
        numbers = sorted(str(i["DocNumber"]) for i in (await poster.export(realm))["Invoice"])
        assert numbers == ["800", "812", "813"]


class TestDuplicateName:
    async def test_6240_looks_the_customer_up_and_links_it(self, poster: Poster) -> None:
        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        qbo = await poster.direct(realm)
        existing = await qbo.create("Customer", {"DisplayName": "Linked Ltd"}, uuid.uuid4().hex)
        # Matched by e-mail (none has it), so the create collides on the name: 6240.
        cust = customer_by_name(tenant, "Linked Ltd", email="new@linked.example")
        inv = invoice(tenant, realm, "n-1", "901", cust)
        outcome = (await poster.run([inv]))[inv.command_id]
        assert outcome.kind == "posted", outcome.record
        state = await poster.export(realm)
        assert len(state["Customer"]) == 1
        assert state["Invoice"][0]["CustomerRef"]["value"] == existing.id

    async def test_6240_with_an_inactive_customer_is_an_account_error_cus7(
        self, poster: Poster
    ) -> None:
        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        qbo = await poster.direct(realm)
        gone = await qbo.create("Customer", {"DisplayName": "Gone Ltd"}, uuid.uuid4().hex)
        await poster.admin("POST", f"realms/{realm}/entities/Customer/{gone.id}/delete")
        inv = invoice(tenant, realm, "n-2", "902", customer_by_name(tenant, "Gone Ltd"))
        outcome = (await poster.run([inv]))[inv.command_id]
        assert outcome.kind == "error"
        assert outcome.record["category"] == "Account"
        assert "CUS-7" in outcome.record["cause"]


class TestDeletedInQbo:
    async def test_linked_customer_deleted_in_qbo_is_an_account_error_cus7(
        self, poster: Poster
    ) -> None:
        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        cust = customer_by_name(tenant, "Soon Gone")
        first = invoice(tenant, realm, "g-1", "1", cust)
        posted = (await poster.run([first]))[first.command_id]
        assert posted.kind == "posted"
        (customer,) = (await poster.export(realm))["Customer"]
        await poster.admin("POST", f"realms/{realm}/entities/Customer/{customer['Id']}/delete")
        second = invoice(tenant, realm, "g-2", "2", cust)
        outcome = (await poster.run([second]))[second.command_id]
        assert outcome.kind == "error"
        assert outcome.record["category"] == "Account"
        assert customer["Id"] in outcome.record["cause"]
        assert outcome.record["customer_ref"] == cust.upstream_ref
        assert outcome.record["qbo_fault"]["code"] in ("2500", "610")

    async def test_invoice_deleted_in_qbo_fails_its_payment_naming_it_err2(
        self, poster: Poster
    ) -> None:
        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        cust = customer_by_name(tenant, "Paying Co")
        inv = invoice(tenant, realm, "x-1", "11", cust)
        posted = (await poster.run([inv]))[inv.command_id].record
        await poster.admin("POST", f"realms/{realm}/entities/Invoice/{posted['qbo_id']}/delete")
        pay = payment(tenant, realm, "x-p", inv.upstream_ref, cust)
        outcome = (await poster.run([pay]))[pay.command_id]
        assert outcome.kind == "error"
        assert outcome.record["category"] == "Payment"
        assert (
            f"Invoice {posted['qbo_id']} ({inv.upstream_ref}) was deleted in QBO"
            in (outcome.record["cause"])
        )

    async def test_resync_after_deletion_in_qbo_posts_again_with_a_new_requestid(
        self, poster: Poster
    ) -> None:
        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        inv = invoice(tenant, realm, "y-1", "21", customer_by_name(tenant, "Again Co"))
        first = (await poster.run([inv]))[inv.command_id].record
        await poster.admin("POST", f"realms/{realm}/entities/Invoice/{first['qbo_id']}/delete")
        second = (await poster.run([inv]))[inv.command_id]
        assert second.kind == "posted"
        assert second.record["qbo_id"] != first["qbo_id"]
        assert len((await poster.export(realm))["Invoice"]) == 1


class TestConnection:
    async def test_not_connected_tenant_is_an_account_error_err2(self, poster: Poster) -> None:
        tenant = tenant_id()
        inv = invoice(tenant, "123", "c-1", "1", customer_by_name(tenant, "Nobody"))
        outcome = (await poster.run([inv]))[inv.command_id]
        assert outcome.kind == "error"
        assert outcome.record["category"] == "Account"
        assert outcome.record["reasons"][0]["field"] == CONNECTION_FIELD

    async def test_expired_access_token_is_refreshed_and_rotation_persisted(
        self, poster: Poster
    ) -> None:
        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        cust = customer_by_name(tenant, "Refresh Co")
        first = invoice(tenant, realm, "e-1", "1", cust)
        assert (await poster.run([first]))[first.command_id].kind == "posted"
        await poster.admin("POST", f"realms/{realm}/expire-tokens")
        second = invoice(tenant, realm, "e-2", "2", cust)
        assert (await poster.run([second]))[second.command_id].kind == "posted"
        connections = poster.resources.ready().connections
        stored = await connections.client_for(tenant)
        assert stored.realm_id == realm

    async def test_tokens_no_configured_key_opens_fail_that_tenant_only_err2(
        self, poster: Poster
    ) -> None:
        """A tenant stored under a key that was since removed: its commands are Account
        errors naming the key setting; the batch (and its other tenants) goes on."""
        locked_out, fine = tenant_id(), tenant_id()
        realm_a, realm_b = await poster.realm(), await poster.connected_realm(fine)
        old_key = SecretStr(Fernet.generate_key().decode())
        deps = poster.resources.ready()
        elsewhere = Connections(
            deps.pool, poster.qbo, poster.settings.model_copy(update={"token_keys": old_key})
        )
        tokens = await poster.admin("POST", f"realms/{realm_a}/tokens")
        await elsewhere.connect_with_tokens(
            locked_out,
            TokenSet(
                realm_id=realm_a,
                access_token=tokens["access_token"],
                refresh_token=tokens["refresh_token"],
                expires_at=datetime.now(UTC) + timedelta(hours=1),
            ),
        )
        bad = invoice(locked_out, realm_a, "k-1", "1", customer_by_name(locked_out, "Key Co"))
        good = invoice(fine, realm_b, "k-2", "2", customer_by_name(fine, "Fine Co"))
        outcomes = await poster.run([bad, good])
        assert outcomes[good.command_id].kind == "posted"
        failed = outcomes[bad.command_id]
        assert failed.kind == "error"
        assert failed.record["category"] == "Account"
        assert failed.record["reasons"][0]["field"] == CONNECTION_FIELD
        assert "QBSYNC_POSTER_TOKEN_KEYS" in failed.record["cause"]

    async def test_revoked_connection_is_one_account_error_per_command_not_retries_err2(
        self, poster: Poster
    ) -> None:
        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        cust = customer_by_name(tenant, "Revoked Co")
        first = invoice(tenant, realm, "v-1", "1", cust)
        assert (await poster.run([first]))[first.command_id].kind == "posted"
        # Revoke every token of the realm at Intuit, then force a refresh.
        await poster.revoke_at_intuit(realm)
        second = invoice(tenant, realm, "v-2", "2", cust)
        third = invoice(tenant, realm, "v-3", "3", cust)
        outcomes = await poster.run([second])
        outcomes.update(await poster.run([third]))
        for cid in (second.command_id, third.command_id):
            assert outcomes[cid].kind == "error"
            assert outcomes[cid].record["category"] == "Account"
            assert outcomes[cid].record["reasons"][0]["field"] == CONNECTION_FIELD
        assert "revoked" in outcomes[third.command_id].record["cause"]


class TestOtherFaults:
    async def test_other_fault_is_reported_with_code_element_and_detail_err2(
        self, poster: Poster
    ) -> None:
        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        inv = invoice(tenant, realm, "o-1", "1", customer_by_name(tenant, "Math Co"))
        line = inv.body["Line"][0]
        broken = {**line, "Amount": "99.00"}  # Amount != Qty x UnitPrice: 6070
        bad = inv.model_copy(update={"body": {**inv.body, "Line": [broken]}})
        outcome = (await poster.run([bad]))[bad.command_id]
        assert outcome.kind == "error"
        assert outcome.record["category"] == "Invoice"
        assert outcome.record["qbo_fault"]["code"] == "6070"
        assert outcome.record["qbo_fault"]["message"]
        assert "6070" in outcome.record["cause"]

    async def test_no_match_without_auto_create_is_an_account_error_cus6(
        self, poster: Poster
    ) -> None:
        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        cust = customer_by_name(tenant, "Unknown Co", auto_create=False)
        inv = invoice(tenant, realm, "u-1", "1", cust)
        outcome = (await poster.run([inv]))[inv.command_id]
        assert outcome.kind == "error"
        assert outcome.record["category"] == "Account"
        assert "CUS-6" in outcome.record["cause"]
        assert "Customer" not in await poster.export(realm)

    async def test_injected_429_5xx_and_timeouts_are_retried_to_one_entity_each(
        self, poster: Poster
    ) -> None:
        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        cust = customer_by_name(tenant, "Chaos Co")
        invoices = [invoice(tenant, realm, f"z-{i}", f"{i + 1}", cust) for i in range(20)]
        await poster.admin(
            "POST",
            "faults",
            {
                "share": 0.3,
                "kinds": ["429", "500", "503", "timeout", "drop"],
                "realm_id": realm,
                "timeout_s": 0.05,
                "seed": 7,
            },
        )
        try:
            outcomes = await poster.run(invoices, timeout=60)
        finally:
            await poster.admin("DELETE", "faults")
        assert {o.kind for o in outcomes.values()} == {"posted"}
        state = await poster.export(realm)
        assert sorted(int(i["DocNumber"]) for i in state["Invoice"]) == list(range(1, 21))
        assert len(state["Customer"]) == 1


class TestUnknownOutcome:
    async def test_lost_answer_after_the_write_leaves_one_entity(self, poster: Poster) -> None:
        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        lost_before = poster.chaos.lost
        poster.chaos.lose(creates("invoice"))
        inv = invoice(tenant, realm, "l-1", "31", customer_by_name(tenant, "Lost Co"))
        outcome = (await poster.run([inv]))[inv.command_id]
        assert poster.chaos.lost == lost_before + 1
        assert outcome.kind == "posted"
        assert len((await poster.export(realm))["Invoice"]) == 1

    async def test_pending_write_is_looked_up_by_docnumber_before_creating(
        self, poster: Poster
    ) -> None:
        from qbsync_poster import storage
        from qbsync_poster.execution import marker

        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        cust = customer_by_name(tenant, "Crash Co")
        inv = invoice(tenant, realm, "k-1", "41", cust)
        pay = payment(tenant, realm, "k-p", inv.upstream_ref, cust)
        # A crash after QBO wrote both, before the ledger knew, and a requestid QBO
        # no longer replays: only the ledger's pending rows and the markers remain.
        deps = poster.resources.ready()
        qbo = await poster.direct(realm)
        customer = await qbo.create("Customer", {"DisplayName": "Crash Co"}, uuid.uuid4().hex)
        item = (await qbo.query("SELECT * FROM Item WHERE Name = 'Services'")).entities[0]
        line = {
            "Amount": 100,
            "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {"ItemRef": {"value": item.id}, "Qty": 1, "UnitPrice": 100},
        }
        made = await qbo.create(
            "Invoice",
            {
                "DocNumber": "41",
                "CustomerRef": {"value": customer.id},
                "Line": [line],
                "PrivateNote": marker(inv),
            },
            uuid.uuid4().hex,
        )
        await qbo.create(
            "Payment",
            {
                "CustomerRef": {"value": customer.id},
                "TotalAmt": 100,
                "PrivateNote": f"Upstream payment k-p {marker(pay)}",
                "Line": [{"Amount": 100, "LinkedTxn": [{"TxnId": made.id, "TxnType": "Invoice"}]}],
            },
            uuid.uuid4().hex,
        )
        await storage.upsert_ledger(
            deps.pool,
            [
                storage.LedgerRow(
                    tenant, inv.upstream_ref, "Invoice", pending_command=inv.command_id
                ),
                storage.LedgerRow(
                    tenant, pay.upstream_ref, "Payment", pending_command=pay.command_id
                ),
            ],
        )
        outcomes = await poster.run([inv, pay])
        assert outcomes[inv.command_id].record["qbo_id"] == made.id
        assert outcomes[pay.command_id].kind == "posted"
        state = await poster.export(realm)
        assert len(state["Invoice"]) == 1
        assert len(state["Payment"]) == 1


class TestEnsure:
    async def test_ensure_item_creates_once_and_invoices_use_it_doc4(self, poster: Poster) -> None:
        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        accounts = await (await poster.direct(realm)).query(
            "SELECT * FROM Account WHERE AccountType = 'Income'"
        )
        body = {
            "Name": "Audit: Annual",
            "Type": "Service",
            "IncomeAccountRef": {"value": accounts.entities[0].id},
        }
        ensure = command(
            tenant,
            realm,
            Operation.ENSURE,
            Entity.ITEM,
            f"item:{tenant}:Audit: Annual",
            body,
            category=__import__(
                "qbsync_core.errors", fromlist=["ErrorCategory"]
            ).ErrorCategory.SERVICE,
        )
        inv = invoice(
            tenant, realm, "i-1", "51", customer_by_name(tenant, "Item Co"), item="Audit: Annual"
        )
        outcomes = await poster.run([ensure, inv, ensure])
        assert {o.kind for o in outcomes.values()} == {"posted"}
        items = [i for i in (await poster.export(realm))["Item"] if i["Name"] == "Audit: Annual"]
        assert len(items) == 1

    async def test_ensure_customer_by_email_links_the_existing_one_cus1_cus5(
        self, poster: Poster
    ) -> None:
        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        qbo = await poster.direct(realm)
        existing = await qbo.create(
            "Customer",
            {"DisplayName": "Mail Match", "PrimaryEmailAddr": {"Address": "ana@mail.example"}},
            uuid.uuid4().hex,
        )
        res = CustomerResolution(
            upstream_ref=f"customer:{tenant}:c-9:USD",
            strategy=MatchStrategy.EMAIL,
            lookup={"email": "ana@mail.example"},
            auto_create=True,
            create={"DisplayName": "Other Name"},
        )
        ensure = command(
            tenant,
            realm,
            Operation.ENSURE,
            Entity.CUSTOMER,
            res.upstream_ref,
            {},
            customer=res,
            category=__import__(
                "qbsync_core.errors", fromlist=["ErrorCategory"]
            ).ErrorCategory.ACCOUNT,
        )
        outcome = (await poster.run([ensure]))[ensure.command_id]
        assert outcome.record["qbo_id"] == existing.id
        assert len((await poster.export(realm))["Customer"]) == 1


class TestCustomerLink:
    async def test_a_linked_customer_is_not_searched_again_cus5(self, poster: Poster) -> None:
        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        qbo = await poster.direct(realm)
        mail = {"PrimaryEmailAddr": {"Address": "once@mail.example"}}
        existing = await qbo.create(
            "Customer", {"DisplayName": "Linked Once", **mail}, uuid.uuid4().hex
        )
        cust = customer_by_name(tenant, "Linked Once", email="once@mail.example", auto_create=False)
        first = invoice(tenant, realm, "k-1", "1", cust)
        assert (await poster.run([first]))[first.command_id].kind == "posted"
        # The e-mail changes in QBO: a search by it would find nobody, and with
        # auto-create off that would be an Account error (CUS-6).
        await qbo.update(
            "Customer",
            {
                "Id": existing.id,
                "SyncToken": existing.sync_token,
                "sparse": True,
                "PrimaryEmailAddr": {"Address": "changed@mail.example"},
            },
            uuid.uuid4().hex,
        )
        second = invoice(tenant, realm, "k-2", "2", cust)
        outcome = (await poster.run([second]))[second.command_id]
        assert outcome.kind == "posted", outcome.record
        invoices = (await poster.export(realm))["Invoice"]
        assert [i["CustomerRef"]["value"] for i in invoices] == [existing.id, existing.id]


def by_number(tenant: str, company: str, number: str, currency: str = "USD") -> CustomerResolution:
    """A resolution as the mapper builds it for the number + currency strategy (CUS-3)."""
    name = f"{company}/{currency}"
    return CustomerResolution(
        upstream_ref=f"customer:{tenant}:{number}:{currency}",
        strategy=MatchStrategy.NUMBER_CURRENCY,
        lookup={
            "display_name": name,
            "numbered_display_name": f"{company} ({number})/{currency}",
            "number": number,
            "currency": currency,
        },
        auto_create=True,
        create={"DisplayName": name, "Notes": customer_number_note(number)},
    )


class TestNumberAndCurrency:
    async def test_two_customers_of_one_name_stay_two_in_qbo_cus3(self, poster: Poster) -> None:
        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        first = invoice(tenant, realm, "m-1", "1", by_number(tenant, "Acme Ltd", "C-1"))
        other = invoice(tenant, realm, "m-2", "2", by_number(tenant, "Acme Ltd", "C-2"))
        assert (await poster.run([first]))[first.command_id].kind == "posted"
        assert (await poster.run([other]))[other.command_id].kind == "posted"
        again = invoice(tenant, realm, "m-3", "3", by_number(tenant, "Acme Ltd", "C-2"))
        await poster.resources.ready().pool.execute(  # forget the link: search again
            "DELETE FROM entities WHERE tenant_id = $1 AND entity = 'Customer'", tenant
        )
        assert (await poster.run([again]))[again.command_id].kind == "posted"

        exported = await poster.export(realm)
        ids = {c["DisplayName"]: c["Id"] for c in exported["Customer"]}
        assert set(ids) == {"Acme Ltd/USD", "Acme Ltd (C-2)/USD"}
        by_doc = {i["DocNumber"]: i["CustomerRef"]["value"] for i in exported["Invoice"]}
        assert by_doc == {
            "1": ids["Acme Ltd/USD"],
            "2": ids["Acme Ltd (C-2)/USD"],
            "3": ids["Acme Ltd (C-2)/USD"],
        }

    async def test_a_customer_made_by_hand_without_a_number_is_matched_cus3(
        self, poster: Poster
    ) -> None:
        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        qbo = await poster.direct(realm)
        hand = await qbo.create("Customer", {"DisplayName": "Hand Made/EUR"}, uuid.uuid4().hex)
        inv = invoice(tenant, realm, "m-4", "4", by_number(tenant, "Hand Made", "H-9", "EUR"))
        assert (await poster.run([inv]))[inv.command_id].kind == "posted"
        exported = await poster.export(realm)
        assert [c["Id"] for c in exported["Customer"]] == [hand.id]
        assert exported["Invoice"][0]["CustomerRef"]["value"] == hand.id


class TestOperatorActions:
    async def test_link_customer_action_then_resync_posts_to_the_linked_customer_err4(
        self, poster: Poster
    ) -> None:
        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        qbo = await poster.direct(realm)
        chosen = await qbo.create("Customer", {"DisplayName": "Chosen Ltd"}, uuid.uuid4().hex)
        cust = customer_by_name(tenant, "Not In QBO", auto_create=False)
        inv = invoice(tenant, realm, "a-1", "1", cust)
        assert (await poster.run([inv]))[inv.command_id].kind == "error"
        action = OperatorAction(
            action=OperatorActionType.LINK_CUSTOMER,
            tenant_id=tenant,
            customer_ref=cust.upstream_ref,
            qbo_customer_id=chosen.id,
            actor="test",
        )
        await poster.send_raw(tenant, action.model_dump_json().encode(), action.kind)
        outcome = (await poster.run([inv]))[inv.command_id]  # the resync
        assert outcome.kind == "posted", outcome.record
        (posted,) = (await poster.export(realm))["Invoice"]
        assert posted["CustomerRef"]["value"] == chosen.id

    async def _create_new(
        self, poster: Poster, tenant: str, customer_ref: str, record_id: str | None = None
    ) -> None:
        action = OperatorAction(
            action=OperatorActionType.CREATE_CUSTOMER,
            tenant_id=tenant,
            customer_ref=customer_ref,
            record_id=record_id,
            actor="test",
        )
        await poster.send_raw(tenant, action.model_dump_json().encode(), action.kind)

    async def test_create_customer_action_creates_one_although_auto_create_is_off_err4(
        self, poster: Poster
    ) -> None:
        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        cust = customer_by_name(tenant, "New For Sure", auto_create=False)
        inv = invoice(tenant, realm, "n-1", "1", cust)
        failed = (await poster.run([inv]))[inv.command_id]
        assert failed.kind == "error"
        assert "auto-create is off" in failed.record["cause"]

        await self._create_new(poster, tenant, cust.upstream_ref)
        outcome = (await poster.run([inv]))[inv.command_id]  # the resync
        assert outcome.kind == "posted", outcome.record
        exported = await poster.export(realm)
        (created,) = exported["Customer"]
        assert created["DisplayName"] == "New For Sure"
        assert exported["Invoice"][0]["CustomerRef"]["value"] == created["Id"]
        # Linked from now on (CUS-5): the next invoice neither searches nor creates.
        later = invoice(tenant, realm, "n-2", "2", cust)
        assert (await poster.run([later]))[later.command_id].kind == "posted"
        assert len((await poster.export(realm))["Customer"]) == 1

    async def test_create_customer_action_does_not_take_an_ambiguous_match_err4(
        self, poster: Poster
    ) -> None:
        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        qbo = await poster.direct(realm)
        shared = {"PrimaryEmailAddr": {"Address": "desk@example.com"}}
        for name in ("Desk One", "Desk Two"):
            await qbo.create("Customer", {"DisplayName": name, **shared}, uuid.uuid4().hex)
        cust = customer_by_name(tenant, "Desk Three", email="desk@example.com")
        inv = invoice(tenant, realm, "n-3", "3", cust)
        failed = (await poster.run([inv]))[inv.command_id]
        assert "several QBO customers" in failed.record["cause"]

        await self._create_new(poster, tenant, cust.upstream_ref)
        outcome = (await poster.run([inv]))[inv.command_id]
        assert outcome.kind == "posted", outcome.record
        by_name = {c["DisplayName"]: c["Id"] for c in (await poster.export(realm))["Customer"]}
        assert set(by_name) == {"Desk One", "Desk Two", "Desk Three"}
        (posted,) = (await poster.export(realm))["Invoice"]
        assert posted["CustomerRef"]["value"] == by_name["Desk Three"]

    async def test_create_customer_action_on_a_name_held_by_a_deleted_one_says_what_to_do(
        self, poster: Poster
    ) -> None:
        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        cust = customer_by_name(tenant, "Gone Co")
        first = invoice(tenant, realm, "n-4", "4", cust)
        assert (await poster.run([first]))[first.command_id].kind == "posted"
        (old,) = (await poster.export(realm))["Customer"]
        await poster.admin("POST", f"realms/{realm}/entities/Customer/{old['Id']}/delete")
        second = invoice(tenant, realm, "n-5", "5", cust)
        assert (await poster.run([second]))[second.command_id].kind == "error"  # CUS-7

        # QBO keeps a deleted customer's name: a new one under it is refused (6240).
        await self._create_new(poster, tenant, cust.upstream_ref)
        outcome = (await poster.run([second]))[second.command_id]
        assert outcome.kind == "error"
        assert outcome.record["category"] == "Account"
        assert f"id {old['Id']}" in outcome.record["cause"]
        assert "reactivate or rename it in QBO" in outcome.record["cause"]
        assert outcome.record["customer_ref"] == cust.upstream_ref
        assert len((await poster.export(realm))["Customer"]) == 1

    async def test_create_customer_action_takes_its_own_number_s_name_cus3_err4(
        self, poster: Poster
    ) -> None:
        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        first = invoice(tenant, realm, "n-6", "6", by_number(tenant, "Acme Ltd", "C-1"))
        assert (await poster.run([first]))[first.command_id].kind == "posted"
        other = by_number(tenant, "Acme Ltd", "C-2").model_copy(update={"auto_create": False})
        second = invoice(tenant, realm, "n-7", "7", other)
        assert (await poster.run([second]))[second.command_id].kind == "error"  # CUS-6

        await self._create_new(poster, tenant, other.upstream_ref)
        outcome = (await poster.run([second]))[second.command_id]
        assert outcome.kind == "posted", outcome.record
        exported = await poster.export(realm)
        ids = {c["DisplayName"]: c["Id"] for c in exported["Customer"]}
        assert set(ids) == {"Acme Ltd/USD", "Acme Ltd (C-2)/USD"}
        by_doc = {i["DocNumber"]: i["CustomerRef"]["value"] for i in exported["Invoice"]}
        assert by_doc == {"6": ids["Acme Ltd/USD"], "7": ids["Acme Ltd (C-2)/USD"]}

    async def test_a_create_customer_action_handled_twice_is_applied_once(
        self, poster: Poster
    ) -> None:
        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        cust = customer_by_name(tenant, "Once Only", auto_create=False)
        inv = invoice(tenant, realm, "n-8", "8", cust)
        assert (await poster.run([inv]))[inv.command_id].kind == "error"
        await self._create_new(poster, tenant, cust.upstream_ref, record_id="rec-1")
        assert (await poster.run([inv]))[inv.command_id].kind == "posted"
        pool = poster.resources.ready().pool
        linked = await storage.ledger_row(pool, tenant, cust.upstream_ref)
        assert linked is not None
        assert linked.state == "posted"

        # The same action again (its batch handled a second time): the link stays.
        await self._create_new(poster, tenant, cust.upstream_ref, record_id="rec-1")
        later = invoice(tenant, realm, "n-9", "9", cust)
        assert (await poster.run([later]))[later.command_id].kind == "posted"
        again = await storage.ledger_row(pool, tenant, cust.upstream_ref)
        assert again is not None
        assert (again.state, again.qbo_id, again.generation) == (
            "posted",
            linked.qbo_id,
            linked.generation,
        )

    async def test_customer_qbo_refuses_to_create_is_an_account_error(self, poster: Poster) -> None:
        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        inv = invoice(tenant, realm, "a-2", "1", customer_by_name(tenant, "Colon: Name"))
        outcome = (await poster.run([inv]))[inv.command_id]
        assert outcome.kind == "error"
        assert outcome.record["category"] == "Account"
        assert outcome.record["qbo_fault"]["element"] == "DisplayName"
