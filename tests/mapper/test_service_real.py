"""The mapper on the real broker and database: settings API, holds, traces, redelivery."""

import asyncio
import json
from typing import Any

import pytest
import yaml
from qbsync_core.records import OPERATOR_ACTION_KIND, OperatorAction, OperatorActionType
from qbsync_core.topics import COMMANDS
from typer.testing import CliRunner

from tests.fixtures.events import make_envelope, make_invoice_issued, make_payment_received
from tests.mapper.conftest import Mapper
from tests.mapper.helpers import settings_document

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


async def wait_commands(mapper: Mapper, tenant: str, count: int, timeout: float = 20) -> list[Any]:
    await mapper.commands.wait_for(lambda r: r.key == tenant.encode(), count, timeout)
    return mapper.commands_of(tenant)


async def put_settings(mapper: Mapper, tenant: str, **overrides: Any) -> Any:
    doc = settings_document(tenant_id=tenant, **overrides)
    return await mapper.http.put(
        f"/v1/tenants/{tenant}/settings",
        content=yaml.safe_dump(doc),
        headers={"content-type": "application/yaml"},
    )


def for_tenant(tenant: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {**payload, "tenant_id": tenant}


class TestSettingsApi:
    async def test_put_then_get_gives_the_newest_version_SET_1(
        self, mapper: Mapper, tenant: str
    ) -> None:
        first = await put_settings(mapper, tenant)
        second = await put_settings(mapper, tenant, auto_renumber=True)
        assert (first.status_code, second.status_code) == (200, 200)
        assert (first.json()["version"], second.json()["version"]) == (1, 2)
        shown = (await mapper.http.get(f"/v1/tenants/{tenant}/settings")).json()
        assert shown["version"] == 2
        assert shown["settings"]["auto_renumber"] is True

    async def test_bad_document_lists_every_problem_and_never_replaces_the_good_one_SET_4(
        self, mapper: Mapper, tenant: str
    ) -> None:
        await put_settings(mapper, tenant)
        bad = settings_document(tenant_id=tenant, home_currency="usd")
        del bad["tax"]
        response = await mapper.http.put(f"/v1/tenants/{tenant}/settings", content=json.dumps(bad))
        assert response.status_code == 422
        assert {p["field"] for p in response.json()["problems"]} == {"home_currency", "tax"}
        shown = (await mapper.http.get(f"/v1/tenants/{tenant}/settings")).json()
        assert (shown["version"], shown["settings"]["home_currency"]) == (1, "USD")

    async def test_unknown_tenant_is_404(self, mapper: Mapper, tenant: str) -> None:
        assert (await mapper.http.get(f"/v1/tenants/{tenant}/settings")).status_code == 404


class TestMappingOnTheBroker:
    async def test_events_without_settings_are_held_then_released_in_order_with_trace(
        self, mapper: Mapper, tenant: str
    ) -> None:
        payment = for_tenant(tenant, make_payment_received())
        invoice = for_tenant(tenant, make_invoice_issued())
        await mapper.publish([payment, invoice], traceparent=TRACEPARENT)
        await asyncio.sleep(1.0)
        assert mapper.commands_of(tenant) == []
        assert mapper.errors_of(tenant) == []
        assert (await put_settings(mapper, tenant)).status_code == 200
        commands = await wait_commands(mapper, tenant, 2)
        assert [(c["entity"], c["event_id"]) for c in commands] == [
            ("Invoice", invoice["event_id"]),
            ("Payment", payment["event_id"]),
        ]
        # The command continues the upstream trace: same trace id, new span.
        assert all(c["traceparent"].split("-")[1] == TRACE_ID for c in commands)
        record = mapper.commands.keyed(tenant)[0]
        headers = dict(record.headers)
        assert headers["traceparent"].decode() == commands[0]["traceparent"]
        assert headers["qbsync-command-id"].decode() == commands[0]["command_id"]

    async def test_redelivered_event_gives_no_new_commands(
        self, mapper: Mapper, tenant: str
    ) -> None:
        await put_settings(mapper, tenant)
        invoice = for_tenant(tenant, make_invoice_issued())
        await mapper.publish([invoice])
        await wait_commands(mapper, tenant, 1)
        customer = for_tenant(
            tenant, make_envelope("customer.upserted", {"customer": invoice["data"]["customer"]})
        )
        await mapper.publish([invoice, customer])
        commands = await wait_commands(mapper, tenant, 2)
        assert [c["entity"] for c in commands] == ["Invoice", "Customer"]

    async def test_rule_failure_becomes_an_error_record_and_the_batch_moves_on_SET_4(
        self, mapper: Mapper, tenant: str
    ) -> None:
        await put_settings(mapper, tenant)
        voided = for_tenant(tenant, make_envelope("credit_note.voided", {"ref": "c-1"}))
        after = for_tenant(tenant, make_invoice_issued())
        await mapper.publish([voided, after])
        await wait_commands(mapper, tenant, 1)
        await mapper.errors.wait_for(lambda r: r.key == tenant.encode(), 1)
        (error,) = mapper.errors_of(tenant)
        assert (error["stage"], error["category"], error["event_id"]) == (
            "mapper",
            "Invoice",
            voided["event_id"],
        )

    async def test_do_not_sync_customer_is_released_when_turned_back_on_CUS_8(
        self, mapper: Mapper, tenant: str
    ) -> None:
        await put_settings(mapper, tenant, customers={"do_not_sync": ["guest-17"]})
        await mapper.publish([for_tenant(tenant, make_invoice_issued())])
        await asyncio.sleep(1.0)
        assert mapper.commands_of(tenant) == []
        await put_settings(mapper, tenant, customers={"do_not_sync": []})
        (command,) = await wait_commands(mapper, tenant, 1)
        assert command["entity"] == "Invoice"


class TestCli:
    def test_tenant_apply_and_show_SET_1(
        self, mapper: Mapper, tenant: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from qbsync_mapper.cli import app

        monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", mapper.settings.kafka_bootstrap_servers)
        monkeypatch.setenv("DATABASE_URL", mapper.settings.database_url)
        good = tmp_path / "good.yaml"
        good.write_text(yaml.safe_dump(settings_document(tenant_id=tenant)))
        bad = tmp_path / "bad.yaml"
        bad.write_text(
            yaml.safe_dump(settings_document(tenant_id=tenant, realm_id="", fee_account=[]))
        )
        runner = CliRunner()
        applied = runner.invoke(app, ["apply", str(good)])
        assert applied.exit_code == 0, applied.output
        assert "version 1" in applied.output
        refused = runner.invoke(app, ["apply", str(bad)])
        assert refused.exit_code == 1
        assert "realm_id" in refused.output
        assert "fee_account" in refused.output
        shown = runner.invoke(app, ["show", tenant])
        assert shown.exit_code == 0
        assert json.loads(shown.output)["version"] == 1


PAYOUT_SETTINGS: dict[str, Any] = {
    "payouts": {"deposit_account": "35", "default_account": "400"},
    "schedule": "manual",
}


def payout_event(ref: str) -> dict[str, Any]:
    lines = [{"revenue_category": "Class packs", "amount": "20.00"}]
    data = {"ref": ref, "arrival_date": "2026-01-10", "lines": lines, "fees": "1", "net": "19.00"}
    return make_envelope(
        "payout.settled", {"processor": "stripe", "currency": "USD", **data}, source="momence"
    )


async def wait_outbox(mapper: Mapper, tenant: str, count: int) -> None:
    for _ in range(200):
        shown = (await mapper.http.get(f"/v1/tenants/{tenant}/settings")).json()
        if shown["outbox"] >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the outbox never filled")


class TestExportApi:
    async def test_manual_tenant_exports_on_request_from_a_start_date_SET_3(
        self, mapper: Mapper, tenant: str
    ) -> None:
        assert (await put_settings(mapper, tenant, **PAYOUT_SETTINGS)).status_code == 200
        await mapper.publish([for_tenant(tenant, payout_event("po-1"))])
        await wait_outbox(mapper, tenant, 1)
        assert mapper.commands_of(tenant) == []
        skipped = await mapper.http.post(
            f"/v1/tenants/{tenant}/export", json={"from": "2026-02-01"}
        )
        assert skipped.json()["skipped_before_start"] == 1
        # Not dropped silently: the command left out is an error record (SET-3).
        (record_id,) = skipped.json()["not_sent_error_records"]
        await mapper.errors.wait_for(lambda r: r.key == tenant.encode(), 1, 20)
        assert [e["record_id"] for e in mapper.errors_of(tenant)] == [record_id]
        await mapper.publish([for_tenant(tenant, payout_event("po-2"))])
        await wait_outbox(mapper, tenant, 1)
        response = await mapper.http.post(f"/v1/tenants/{tenant}/export")
        assert response.json()["commands"] == 1
        (command,) = await wait_commands(mapper, tenant, 1)
        assert command["upstream_ref"] == f"payout:{tenant}:po-2"

    async def test_dry_run_answers_what_would_be_posted_and_posts_nothing_SET_5(
        self, mapper: Mapper, tenant: str
    ) -> None:
        assert (
            await put_settings(mapper, tenant, payouts=PAYOUT_SETTINGS["payouts"])
        ).status_code == 200
        response = await mapper.http.post(
            f"/v1/tenants/{tenant}/dry-run",
            json={"from": "2026-01-01", "to": "2026-01-31", "events": [payout_event("po-t")]},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert [(c["entity"], c["body"]["Line"][-1]["Amount"]) for c in body["commands"]] == [
            ("Deposit", "-1.00")
        ]
        assert body["errors"] == []
        await asyncio.sleep(0.5)
        assert mapper.commands_of(tenant) == []

    async def test_dry_run_keeps_json_numbers_exact_never_float_SET_5_CUR_2(
        self, mapper: Mapper, tenant: str
    ) -> None:
        assert (await put_settings(mapper, tenant)).status_code == 200
        invoice = make_invoice_issued(
            data={
                "currency": "EUR",
                "exchange_rate": "RATE",
                "customer": {"currency": "EUR"},
            }
        )
        rate = "1.0825000000000000001"  # a float would make it 1.0825
        body = json.dumps({"from": "2026-11-01", "to": "2026-11-30", "events": [invoice]})
        response = await mapper.http.post(
            f"/v1/tenants/{tenant}/dry-run",
            content=body.replace('"RATE"', rate),
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 200, response.text
        (command,) = response.json()["commands"]
        assert command["body"]["ExchangeRate"] == rate
        bad = await mapper.http.post(
            f"/v1/tenants/{tenant}/dry-run", content=b'{"from": "2026-11-01", "to": NaN}'
        )
        assert bad.status_code == 422

    async def test_export_of_a_tenant_without_settings_is_404(
        self, mapper: Mapper, tenant: str
    ) -> None:
        assert (await mapper.http.post(f"/v1/tenants/{tenant}/export")).status_code == 404


class TestCliExport:
    async def test_cli_export_request_is_run_by_the_service_loop_SET_3(
        self, mapper: Mapper, tenant: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from qbsync_mapper.cli import export_app

        monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", mapper.settings.kafka_bootstrap_servers)
        monkeypatch.setenv("DATABASE_URL", mapper.settings.database_url)
        runner = CliRunner()
        unknown = await asyncio.to_thread(runner.invoke, export_app, [tenant])
        assert unknown.exit_code == 1
        assert "no settings" in unknown.output
        assert (await put_settings(mapper, tenant, **PAYOUT_SETTINGS)).status_code == 200
        await mapper.publish([for_tenant(tenant, payout_event("po-1"))])
        await wait_outbox(mapper, tenant, 1)
        result = await asyncio.to_thread(
            runner.invoke, export_app, [tenant, "--from", "2026-01-01"]
        )
        assert result.exit_code == 0, result.output
        assert "from 2026-01-01 requested" in result.output
        (command,) = await wait_commands(mapper, tenant, 1)
        assert command["entity"] == "Deposit"


def action(tenant: str, kind: OperatorActionType, customer_ref: str) -> OperatorAction:
    return OperatorAction(
        action=kind, tenant_id=tenant, record_id="r-1", customer_ref=customer_ref, actor="key-1"
    )


def invoice_of(customer: str, ref: str) -> dict[str, Any]:
    return make_invoice_issued(data={"ref": ref, "number": ref, "customer": {"ref": customer}})


async def wait_stopped(mapper: Mapper, tenant: str, expected: list[str]) -> None:
    for _ in range(600):
        shown = (await mapper.http.get(f"/v1/tenants/{tenant}/settings")).json()
        if shown["stopped_customers"] == expected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"stopped customers never became {expected}")


async def publish_action(mapper: Mapper, operator_action: OperatorAction) -> None:
    """As the errors service does (qbsync_errors.publish.Publisher.action)."""
    await mapper.producer.send_and_wait(
        COMMANDS.name,
        operator_action.model_dump_json().encode(),
        key=operator_action.tenant_id.encode(),
        headers=[("qbsync-kind", OPERATOR_ACTION_KIND.encode())],
    )


async def wait_posted(mapper: Mapper, tenant: str, count: int) -> list[Any]:
    """The tenant's posting commands (the topic also carries the operator actions)."""
    kind = ("qbsync-kind", b"posting-command")
    records = await mapper.commands.wait_for(
        lambda r: r.key == tenant.encode() and kind in r.headers, count
    )
    return [json.loads(r.value or b"{}") for r in records]


class TestCustomerActionsOnTheBroker:
    async def test_stop_and_resume_syncing_from_the_errors_service_CUS_8(
        self, mapper: Mapper, tenant: str
    ) -> None:
        assert (await put_settings(mapper, tenant)).status_code == 200
        stopped = "guest-stop"
        await publish_action(
            mapper,
            action(tenant, OperatorActionType.STOP_SYNCING, f"customer:{tenant}:{stopped}:USD"),
        )
        await wait_stopped(mapper, tenant, [stopped])

        # The stopped customer's invoice first, another customer's after it on the same
        # partition: once the second is posted, the first was mapped too.
        await mapper.publish(
            [
                for_tenant(tenant, invoice_of(stopped, "f-stop")),
                for_tenant(tenant, invoice_of("guest-other", "f-other")),
            ]
        )
        (posted,) = await wait_posted(mapper, tenant, 1)
        assert posted["upstream_ref"] == f"invoice:{tenant}:f-other"
        shown = (await mapper.http.get(f"/v1/tenants/{tenant}/settings")).json()
        assert shown["held"] == {"do_not_sync": 1}, "recorded as not synced"
        assert mapper.errors_of(tenant) == [], "not reported as an error"

        await publish_action(mapper, action(tenant, OperatorActionType.RESUME_SYNCING, stopped))
        commands = await wait_posted(mapper, tenant, 2)
        assert [c["upstream_ref"] for c in commands] == [
            f"invoice:{tenant}:f-other",
            f"invoice:{tenant}:f-stop",
        ]
        await wait_stopped(mapper, tenant, [])
        assert mapper.errors_of(tenant) == []
