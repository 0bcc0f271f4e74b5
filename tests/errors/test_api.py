"""The REST API: auth and tenant scoping, filters, counts, actions and their audit."""

import json
import uuid

import pytest
from qbsync_core.errors import ErrorCategory
from qbsync_core.records import OperatorAction, OperatorActionType, Stage

from tests.errors.conftest import Errors, auth, make_record

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def _actions(errors: Errors, tenant: str) -> list[OperatorAction]:
    return [
        OperatorAction.model_validate_json(r.value)
        for r in errors.commands.keyed(tenant)
        if ("qbsync-kind", b"qbsync.operator-action") in r.headers
    ]


class TestAuth:
    async def test_no_key_or_a_wrong_key_is_401(self, errors: Errors) -> None:
        assert (await errors.http.get("/v1/errors")).status_code == 401
        response = await errors.http.get("/v1/errors", headers=auth("qbs_nope_nope"))
        assert response.status_code == 401
        assert response.json() == {"error": "a valid API key is required"}

    async def test_another_tenants_key_gets_404_for_every_error_route(
        self, errors: Errors, tenant: str
    ) -> None:
        mine = await errors.key(tenant)
        other = await errors.key(f"{tenant}-b")
        record = make_record(
            tenant, stage=Stage.POSTER, category=ErrorCategory.ACCOUNT, customer_ref="customer:x:1"
        )
        await errors.publish(record)
        await errors.wait_error(mine, record.record_id)
        rid = record.record_id
        calls = [
            ("GET", f"/v1/errors/{rid}", None),
            ("POST", f"/v1/errors/{rid}/resync", None),
            ("POST", f"/v1/errors/{rid}/skip", None),
            ("DELETE", f"/v1/errors/{rid}", None),
            ("POST", f"/v1/errors/{rid}/account/link", {"qbo_customer_id": "58"}),
            ("POST", f"/v1/errors/{rid}/account/create-customer", None),
            ("POST", f"/v1/errors/{rid}/account/stop-syncing", None),
            ("GET", f"/v1/tenants/{tenant}/webhooks", None),
            ("GET", f"/v1/tenants/{tenant}/customers/stopped", None),
        ]
        for method, path, body in calls:
            response = await errors.http.request(method, path, json=body, headers=auth(other))
            assert response.status_code == 404, (method, path, response.text)
        listed = await errors.http.get(f"/v1/errors?tenant={tenant}", headers=auth(other))
        assert listed.json()["total"] == 0
        counts = await errors.http.get(f"/v1/errors/counts?tenant={tenant}", headers=auth(other))
        assert counts.json()["open_total"] == 0
        audit = await errors.http.get(f"/v1/audit?record_id={rid}", headers=auth(other))
        assert audit.json() == []
        # Nothing happened to it.
        stored = await errors.wait_error(mine, rid)
        assert stored["status"] == "open"
        assert stored["resyncs"] == 0

    async def test_an_operator_key_sees_every_tenant_and_tenantless_errors(
        self, errors: Errors, tenant: str
    ) -> None:
        operator = await errors.key(None)
        a = make_record(tenant)
        b = make_record(None, stage=Stage.INGEST, category=ErrorCategory.VALIDATION)
        await errors.publish(a, b)
        await errors.wait_error(operator, a.record_id)
        stored = await errors.wait_error(operator, b.record_id)
        assert stored["tenant_id"] is None
        mine = await errors.key(tenant)
        assert (
            await errors.http.get(f"/v1/errors/{b.record_id}", headers=auth(mine))
        ).status_code == 404


class TestListAndCounts:
    async def test_filters_paging_and_counts_per_category_err6_err5_banner(
        self, errors: Errors, tenant: str
    ) -> None:
        key = await errors.key(tenant)
        records = [
            make_record(tenant, category=ErrorCategory.MAPPING),
            make_record(tenant, category=ErrorCategory.MAPPING),
            make_record(tenant, stage=Stage.POSTER, category=ErrorCategory.PAYMENT),
            make_record(tenant, stage=Stage.INGEST, category=ErrorCategory.VALIDATION),
        ]
        await errors.publish(*records)
        for r in records:
            await errors.wait_error(key, r.record_id)
        await errors.http.post(f"/v1/errors/{records[1].record_id}/skip", headers=auth(key))

        async def ids(query: str) -> list[str]:
            response = await errors.http.get(f"/v1/errors?{query}", headers=auth(key))
            assert response.status_code == 200, response.text
            return sorted(e["record_id"] for e in response.json()["items"])

        assert await ids("category=Mapping") == sorted(r.record_id for r in records[:2])
        assert await ids("category=Mapping&status=open") == [records[0].record_id]
        assert await ids("status=skipped") == [records[1].record_id]
        assert await ids(f"text={records[2].cause.upper()}") == [records[2].record_id]
        assert await ids("text=lines[0].item") == sorted(r.record_id for r in records)
        page = (await errors.http.get("/v1/errors?limit=3&offset=0", headers=auth(key))).json()
        rest = (await errors.http.get("/v1/errors?limit=3&offset=3", headers=auth(key))).json()
        assert page["total"] == 4
        assert len(page["items"]) == 3
        assert len(rest["items"]) == 1
        counts = (await errors.http.get("/v1/errors/counts", headers=auth(key))).json()
        assert counts["open_total"] == 3
        assert counts["by_category"] == {
            **{c.value: 0 for c in ErrorCategory},
            "Mapping": 1,
            "Payment": 1,
            "Validation": 1,
        }
        bad = await errors.http.get("/v1/errors?category=Nope", headers=auth(key))
        assert bad.status_code == 422

    async def test_openapi_documents_the_api(self, errors: Errors) -> None:
        spec = (await errors.http.get("/openapi.json")).json()
        for path in (
            "/v1/errors",
            "/v1/errors/counts",
            "/v1/errors/{record_id}/resync",
            "/v1/errors/{record_id}/account/link",
            "/v1/audit",
        ):
            assert path in spec["paths"]


class TestActions:
    async def test_delete_is_for_service_errors_only_err3(
        self, errors: Errors, tenant: str
    ) -> None:
        key = await errors.key(tenant)
        invoice = make_record(tenant, stage=Stage.POSTER, category=ErrorCategory.INVOICE)
        service = make_record(tenant, stage=Stage.POSTER, category=ErrorCategory.SERVICE)
        await errors.publish(invoice, service)
        await errors.wait_error(key, invoice.record_id)
        await errors.wait_error(key, service.record_id)
        refused = await errors.http.delete(f"/v1/errors/{invoice.record_id}", headers=auth(key))
        assert refused.status_code == 409
        assert "only for Service errors" in refused.json()["error"]
        deleted = await errors.http.delete(f"/v1/errors/{service.record_id}", headers=auth(key))
        assert deleted.status_code == 204
        gone = await errors.http.get(f"/v1/errors/{service.record_id}", headers=auth(key))
        assert gone.status_code == 404
        await errors.commands.wait_for(lambda r: r.key == tenant.encode(), 1)
        [action] = _actions(errors, tenant)
        assert action.action is OperatorActionType.DELETE_SERVICE
        assert action.record_id == service.record_id

    async def test_bulk_resync_replays_every_open_error_of_the_filter(
        self, errors: Errors, tenant: str
    ) -> None:
        key = await errors.key(tenant)
        mapping = [make_record(tenant) for _ in range(3)]
        other = make_record(tenant, stage=Stage.INGEST, category=ErrorCategory.VALIDATION)
        await errors.publish(*mapping, other)
        for r in [*mapping, other]:
            await errors.wait_error(key, r.record_id)
        response = await errors.http.post(
            "/v1/errors/resync", json={"category": "Mapping"}, headers=auth(key)
        )
        assert response.status_code == 200, response.text
        assert sorted(response.json()["record_ids"]) == sorted(r.record_id for r in mapping)
        replays = await errors.accepted.wait_for(lambda r: r.key == tenant.encode(), 3)
        assert sorted(r.value for r in replays) == sorted(r.payload for r in mapping)
        assert (await errors.wait_error(key, other.record_id))["status"] == "open"

    async def test_every_action_is_audited_with_who_and_what(
        self, errors: Errors, tenant: str
    ) -> None:
        key = await errors.key(tenant)
        key_id = key.split("_")[1]
        record = make_record(tenant)
        await errors.publish(record)
        await errors.wait_error(key, record.record_id)
        await errors.http.post(f"/v1/errors/{record.record_id}/resync", headers=auth(key))
        await errors.http.post(f"/v1/errors/{record.record_id}/skip", headers=auth(key))
        entries = (
            await errors.http.get(f"/v1/audit?record_id={record.record_id}", headers=auth(key))
        ).json()
        assert [e["action"] for e in entries] == ["skip", "resync"]
        assert {e["key_id"] for e in entries} == {key_id}
        assert all(e["tenant_id"] == tenant and e["at"] for e in entries)


class TestAccountActions:
    async def _account_error(self, errors: Errors, tenant: str, key: str, ref: str) -> str:
        record = make_record(
            tenant,
            stage=Stage.POSTER,
            category=ErrorCategory.ACCOUNT,
            customer_ref=ref,
            payload=json.dumps({"command_id": str(uuid.uuid4())}).encode(),
        )
        await errors.publish(record)
        await errors.wait_error(key, record.record_id)
        return record.record_id

    async def test_link_publishes_the_action_then_replays_the_command(
        self, errors: Errors, tenant: str
    ) -> None:
        key = await errors.key(tenant)
        rid = await self._account_error(errors, tenant, key, "customer:acme")
        response = await errors.http.post(
            f"/v1/errors/{rid}/account/link", json={"qbo_customer_id": "58"}, headers=auth(key)
        )
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "resolved"
        assert response.json()["resolution"] == "link_customer"
        sent = await errors.commands.wait_for(lambda r: r.key == tenant.encode(), 2)
        action = OperatorAction.model_validate_json(sent[0].value)
        assert action.action is OperatorActionType.LINK_CUSTOMER
        assert (action.customer_ref, action.qbo_customer_id) == ("customer:acme", "58")
        assert action.actor == key.split("_")[1]
        assert ("qbsync-resync-of", rid.encode()) in sent[1].headers

    async def test_create_customer_publishes_its_action_err4(
        self, errors: Errors, tenant: str
    ) -> None:
        key = await errors.key(tenant)
        rid = await self._account_error(errors, tenant, key, "customer:new")
        response = await errors.http.post(
            f"/v1/errors/{rid}/account/create-customer", headers=auth(key)
        )
        assert response.status_code == 200
        await errors.commands.wait_for(lambda r: r.key == tenant.encode(), 2)
        assert _actions(errors, tenant)[0].action is OperatorActionType.CREATE_CUSTOMER

    async def test_account_actions_refuse_other_categories(
        self, errors: Errors, tenant: str
    ) -> None:
        key = await errors.key(tenant)
        record = make_record(tenant)
        await errors.publish(record)
        await errors.wait_error(key, record.record_id)
        response = await errors.http.post(
            f"/v1/errors/{record.record_id}/account/create-customer", headers=auth(key)
        )
        assert response.status_code == 409
        assert "only for Account errors" in response.json()["error"]

    async def test_stop_syncing_holds_the_customer_until_resumed(
        self, errors: Errors, tenant: str
    ) -> None:
        key = await errors.key(tenant)
        ref = "customer:quiet"
        first = await self._account_error(errors, tenant, key, ref)
        second = await self._account_error(errors, tenant, key, ref)
        response = await errors.http.post(
            f"/v1/errors/{first}/account/stop-syncing", headers=auth(key)
        )
        assert response.json() == {"skipped": 2}
        assert (await errors.wait_error(key, second))["status"] == "skipped"
        later = make_record(
            tenant, stage=Stage.POSTER, category=ErrorCategory.INVOICE, customer_ref=ref
        )
        await errors.publish(later)
        stored = await errors.wait_error(key, later.record_id)
        assert stored["status"] == "skipped"
        assert stored["resolution"] == "customer-not-synced"
        stopped = await errors.http.get(
            f"/v1/tenants/{tenant}/customers/stopped", headers=auth(key)
        )
        assert [c["customer_ref"] for c in stopped.json()] == [ref]

        resumed = await errors.http.post(
            f"/v1/tenants/{tenant}/customers/{ref}/resume-syncing", headers=auth(key)
        )
        assert resumed.status_code == 204
        assert (
            await errors.http.get(f"/v1/tenants/{tenant}/customers/stopped", headers=auth(key))
        ).json() == []
        kinds = [a.action for a in _actions(errors, tenant)]
        await errors.commands.wait_for(lambda r: r.key == tenant.encode(), 2)
        kinds = [a.action for a in _actions(errors, tenant)]
        assert kinds == [OperatorActionType.STOP_SYNCING, OperatorActionType.RESUME_SYNCING]
        again = later.model_copy(update={"occurred_at": later.occurred_at.replace(year=2100)})
        await errors.publish(again)
        reopened = await errors.wait_error(key, later.record_id, lambda e: e["attempts"] == 2)
        assert reopened["status"] == "open"
