"""Tenant isolation on every HTTP route of every service (issue 10).

The routes come from each app's route table (`fastapi.routing.iter_route_contexts`,
which includes the page routes the OpenAPI leaves out); each must be listed in
`tests/security/routes.py` with its protection, or the coverage test fails.
"""

import json
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from qbsync_errors.pages import COOKIE

from tests.fixtures.apps import MAPPER_ADMIN_TOKEN, bearer
from tests.fixtures.events import make_invoice_issued
from tests.security import routes
from tests.security.conftest import Stack
from tests.security.world import Tenant, World, build_world, snapshot

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


@pytest.fixture(scope="module")
async def world(stack: Stack) -> World:
    return await build_world(stack)


def _routes(app: FastAPI) -> set[routes.Route]:
    found = set()
    for context in iter_route_contexts(app.routes):
        for method in context.methods or ():
            if method != "HEAD":  # Starlette adds HEAD to every GET
                found.add((method, str(context.path)))
    return found


def _tables(stack: Stack) -> list[tuple[str, httpx.AsyncClient, dict[routes.Route, Any]]]:
    return [
        ("ingest", stack.ingest.http, routes.INGEST),
        ("errors", stack.errors.http, routes.ERRORS),
        ("mapper", stack.mapper.http, routes.MAPPER),
        ("poster", stack.poster.http, routes.POSTER),
    ]


async def test_every_route_of_every_service_has_a_protection_and_a_test(stack: Stack) -> None:
    apps = {"ingest": stack.ingest, "errors": stack.errors, "mapper": stack.mapper}
    apps["poster"] = stack.poster
    for name, _, table in _tables(stack):
        actual = _routes(apps[name].app)
        assert actual - set(table) == set(), f"{name}: routes without a security test"
        assert set(table) - actual == set(), f"{name}: the table lists routes that are gone"


def _headers(probe: routes.Scoped, tenant: Tenant | None) -> dict[str, str]:
    if tenant is None:
        return {}
    if probe.key == "cookie":
        return {"Cookie": f"{COOKIE}={tenant.errors_key}"}
    return bearer(tenant.errors_key if probe.key == "errors" else tenant.poster_key)


async def _call(
    http: httpx.AsyncClient,
    method: str,
    path: str,
    probe: routes.Scoped,
    target: Tenant,
    caller: Tenant | None,
) -> httpx.Response:
    ids = {**target.ids(), "record_id": target.records[probe.target], "action": probe.action}
    params = {k: v.format(**ids) for k, v in probe.params.items()}
    headers = _headers(probe, caller)
    if probe.form:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        content = "&".join(f"{k}={v}" for k, v in probe.form.items()).encode()
        return await http.request(
            method, path.format(**ids), params=params, headers=headers, content=content
        )
    return await http.request(
        method, path.format(**ids), params=params, headers=headers, json=probe.json
    )


def _scoped(stack: Stack) -> list[tuple[str, httpx.AsyncClient, str, str, routes.Scoped]]:
    return [
        (name, http, method, path, probe)
        for name, http, table in _tables(stack)
        for (method, path), protections in table.items()
        for probe in protections
        if isinstance(probe, routes.Scoped)
    ]


async def test_a_key_of_tenant_b_never_reads_or_acts_on_tenant_a(
    stack: Stack, world: World
) -> None:
    before = await snapshot(stack, world, world.a)
    failures = []
    for name, http, method, path, probe in _scoped(stack):
        label = f"{name} {method} {path} {probe.action}".strip()
        anonymous = await _call(http, method, path, probe, world.a, None)
        expected_anonymous = (303,) if probe.key == "cookie" else (401,)
        if anonymous.status_code not in expected_anonymous:
            failures.append(f"{label}: without a key {anonymous.status_code}")
        if probe.key == "cookie" and anonymous.status_code == 303:
            assert anonymous.headers["location"] == "/ui/login"
        intruder = await _call(http, method, path, probe, world.a, world.b)
        if intruder.status_code != probe.denied:
            failures.append(f"{label}: B on A {intruder.status_code} {intruder.text[:200]}")
        # A 404 may repeat the id the caller sent; it must not show what A's error says.
        if f"probe of {world.a.id}" in intruder.text:
            failures.append(f"{label}: B's answer shows A's data")
        own = await _call(http, method, path, probe, world.b, world.b)
        if own.status_code not in probe.allowed:
            failures.append(f"{label}: B on B {own.status_code} {own.text[:200]}")
    assert failures == []
    assert await snapshot(stack, world, world.a) == before, "tenant A's data changed"


def _a_ids(world: World) -> list[str]:
    return [*world.a.records.values(), world.a.webhook_id]


async def test_lists_counts_and_bulk_actions_leave_other_tenants_out(
    stack: Stack, world: World
) -> None:
    http, a, b = stack.errors.http, world.a, world.b
    key = bearer(b.errors_key)
    before = await snapshot(stack, world, a)
    answers = {
        "list": await http.get("/v1/errors", params={"tenant": a.id}, headers=key),
        "list-all": await http.get("/v1/errors", params={"limit": 500}, headers=key),
        "counts": await http.get("/v1/errors/counts", params={"tenant": a.id}, headers=key),
        "bulk-resync": await http.post("/v1/errors/resync", json={"tenant": a.id}, headers=key),
        "audit": await http.get("/v1/audit", params={"tenant": a.id}, headers=key),
        "audit-all": await http.get("/v1/audit", params={"limit": 500}, headers=key),
    }
    for name, answer in answers.items():
        assert answer.status_code == 200, (name, answer.text)
        assert not any(i in answer.text for i in _a_ids(world)), name
    assert answers["list"].json()["total"] == 0
    assert answers["counts"].json()["open_total"] == 0
    assert a.id not in answers["counts"].json()["paused_tenants"]
    assert answers["bulk-resync"].json()["resynced"] == 0
    assert answers["audit"].json() == []
    own = await http.get("/v1/errors", params={"tenant": b.id}, headers=key)
    assert own.json()["total"] > 0, "the control: B sees its own errors"
    assert await snapshot(stack, world, a) == before


async def test_the_operator_page_leaves_other_tenants_out(stack: Stack, world: World) -> None:
    http, a, b = stack.errors.http, world.a, world.b
    cookie = {"Cookie": f"{COOKIE}={b.errors_key}"}
    form = {**cookie, "Content-Type": "application/x-www-form-urlencoded"}
    before = await snapshot(stack, world, a)
    page = await http.get("/ui", params={"tenant": a.id}, headers=cookie)
    assert page.status_code == 200
    assert not any(i in page.text for i in _a_ids(world))
    resync = await http.post("/ui/resync-filter", content=f"tenant={a.id}", headers=form)
    assert resync.status_code == 303
    assert "Resynced 0 errors" in unquote(resync.headers["location"].replace("+", " "))
    resume = await http.post(f"/ui/tenants/{a.id}/resume", headers=form)
    assert resume.status_code == 303
    assert "problem=" in resume.headers["location"]
    own = await http.get("/ui", params={"tenant": b.id}, headers=cookie)
    assert b.records["account"] in own.text, "the control: B sees its own errors"
    assert await snapshot(stack, world, a) == before


async def test_an_ingest_key_submits_only_its_own_tenants_events(
    stack: Stack, world: World
) -> None:
    a, b = world.a, world.b
    event = make_invoice_issued(tenant_id=a.id)
    resp = await stack.ingest.http.post(
        "/v1/events", content=json.dumps([event]), headers=bearer(b.ingest_key)
    )
    assert resp.status_code == 207
    [result] = resp.json()["results"]
    assert result["status"] == "rejected"
    assert result["reasons"][0]["field"] == "tenant_id"
    # The rejection is recorded under the key's tenant, never written into A's error list.
    [record] = await stack.error_records.wait_for(
        lambda r: result["error_record_id"].encode() in (r.value or b""), 1
    )
    assert json.loads(record.value or b"{}")["tenant_id"] == b.id
    assert stack.accepted.matching(lambda r: event["event_id"].encode() in (r.value or b"")) == []
    anonymous = await stack.ingest.http.post("/v1/events", content=json.dumps([event]))
    assert anonymous.status_code == 401
    own = make_invoice_issued(tenant_id=b.id)
    mine = await stack.ingest.http.post(
        "/v1/events", content=json.dumps([own]), headers=bearer(b.ingest_key)
    )
    assert mine.json()["results"][0]["status"] == "accepted"


async def test_the_mapper_admin_api_opens_for_its_admin_token_only(
    stack: Stack, world: World
) -> None:
    b = world.b
    foreign = [b.ingest_key, b.errors_key, b.poster_key, world.errors_operator]
    bodies: dict[str, Any] = {
        "settings": {"content": b"tenant_id: x"},
        "export": {"json": {}},
        "dry-run": {"json": {"from": "2026-11-01", "to": "2026-11-02"}},
    }
    for (method, path), protections in routes.MAPPER.items():
        if not any(isinstance(p, routes.AdminOnly) for p in protections):
            continue
        url = path.format(tenant_id=world.a.id)
        extra = bodies.get(path.rsplit("/", 1)[-1], {}) if method != "GET" else {}
        for token in [None, *foreign, "wrong"]:
            headers = bearer(token) if token else {}
            resp = await stack.mapper.http.request(method, url, headers=headers, **extra)
            assert resp.status_code == 401, (method, path, resp.status_code)
        admin = await stack.mapper.http.request(
            method, url, headers=bearer(MAPPER_ADMIN_TOKEN), **extra
        )
        assert admin.status_code != 401, (method, path, "the control: the admin token opens it")
    stored = await stack.mapper.http.get(
        f"/v1/tenants/{world.a.id}/settings", headers=bearer(MAPPER_ADMIN_TOKEN)
    )
    assert stored.status_code == 404, "nothing was stored for A by anyone"


async def test_public_routes_answer_without_a_key_and_show_no_tenant_data(
    stack: Stack, world: World
) -> None:
    for name, http, table in _tables(stack):
        for (method, path), protections in table.items():
            for probe in protections:
                if not isinstance(probe, routes.Public):
                    continue
                resp = await http.request(method, path)
                assert resp.status_code in probe.expect, (name, method, path, resp.status_code)
                for secret in (world.a.id, *world.a.records.values(), world.a.errors_key):
                    assert secret not in resp.text, (name, path)
