"""The ``/_admin`` API (no auth): realms, tokens, chaos, limits, behind-the-back edits, reports."""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from qbsync_sandbox import ledger, service
from qbsync_sandbox.catalog import KINDS, kind_for
from qbsync_sandbox.clock import loads, today
from qbsync_sandbox.limits import FAULT_KINDS, FaultPlan
from qbsync_sandbox.responses import QboJSONResponse
from qbsync_sandbox.state import SandboxState
from qbsync_sandbox.store import Json, Realm

LIST_ENTITIES = frozenset(k.name for k in KINDS.values() if not k.transaction)


def _bad(detail: str, status: int = 400) -> Response:
    return QboJSONResponse({"error": detail}, status)


async def _body(request: Request) -> Json:
    raw = await request.body()
    if not raw.strip():
        return {}
    value = loads(raw)
    if not isinstance(value, dict):
        raise TypeError("the body must be a JSON object")
    return value


def routes(state: SandboxState) -> list[Route]:
    """Build the admin routes bound to one emulator state."""

    def realm_of(request: Request) -> Realm | None:
        return state.store.realms.get(request.path_params["realm"])

    async def create_realm(request: Request) -> Response:
        body = await _body(request)
        realm = state.create_realm(
            body.get("name"),
            str(body.get("home_currency", "USD")),
            multicurrency=bool(body.get("multicurrency", False)),
        )
        return QboJSONResponse({"realm_id": realm.realm_id, "name": realm.name}, 201)

    async def tokens(request: Request) -> Response:
        realm = realm_of(request)
        if realm is None:
            return _bad("unknown realm", 404)
        return QboJSONResponse({"realm_id": realm.realm_id, **state.issue_tokens(realm.realm_id)})

    async def expire_tokens(request: Request) -> Response:
        realm = realm_of(request)
        if realm is None:
            return _bad("unknown realm", 404)
        state.expire_realm(realm.realm_id)
        return QboJSONResponse({"expired": True})

    async def set_faults(request: Request) -> Response:
        body = await _body(request)
        kinds = tuple(str(k) for k in body.get("kinds", FAULT_KINDS))
        unknown = set(kinds) - set(FAULT_KINDS)
        share = float(body.get("share", 0))
        if unknown or not kinds or not 0 <= share <= 1:
            return _bad(f"share must be in [0, 1] and kinds within {', '.join(FAULT_KINDS)}")
        state.chaos.plan = FaultPlan(
            share=share,
            kinds=kinds,
            realm_id=body.get("realm_id"),
            timeout_s=float(body.get("timeout_s", 30)),
            retry_after_s=float(body.get("retry_after_s", 60)),
        )
        if body.get("seed") is not None:
            state.chaos.random.seed(body["seed"])
        return QboJSONResponse(
            {"share": share, "kinds": list(kinds), "realm_id": state.chaos.plan.realm_id}
        )

    async def clear_faults(request: Request) -> Response:
        del request
        state.chaos.plan = FaultPlan()
        return QboJSONResponse({"share": 0})

    async def latency(request: Request) -> Response:
        body = await _body(request)
        chaos = state.chaos
        if "fixed_ms" in body:
            chaos.fixed_ms = chaos.min_ms = chaos.max_ms = float(body["fixed_ms"])
        elif "min_ms" in body and "max_ms" in body:
            chaos.min_ms, chaos.max_ms = float(body["min_ms"]), float(body["max_ms"])
            chaos.fixed_ms = chaos.min_ms
            if chaos.max_ms < chaos.min_ms:
                return _bad("max_ms must not be below min_ms")
        else:
            return _bad("give fixed_ms, or min_ms and max_ms")
        return QboJSONResponse(
            {"fixed_ms": chaos.fixed_ms, "min_ms": chaos.min_ms, "max_ms": chaos.max_ms}
        )

    async def limits(request: Request) -> Response:
        body = await _body(request)
        limiter = state.limiter
        if "enabled" in body:
            limiter.enabled = bool(body["enabled"])
        for key in (
            "requests_per_minute",
            "requests_per_second",
            "max_concurrent",
            "batch_requests_per_minute",
        ):
            if key in body:
                setattr(limiter, key, int(body[key]))
        if "batch_max_items" in body:
            state.settings.batch_max_items = int(body["batch_max_items"])
        if body.get("reset_windows"):
            limiter.reset()
        return QboJSONResponse(
            {
                "enabled": limiter.enabled,
                "requests_per_minute": limiter.requests_per_minute,
                "requests_per_second": limiter.requests_per_second,
                "max_concurrent": limiter.max_concurrent,
                "batch_requests_per_minute": limiter.batch_requests_per_minute,
                "batch_max_items": state.settings.batch_max_items,
            }
        )

    def target(request: Request) -> tuple[Realm, str, Json] | Response:
        realm = realm_of(request)
        kind = kind_for(request.path_params["entity"])
        if realm is None or kind is None:
            return _bad("unknown realm or entity", 404)
        doc = realm.get(kind.name, request.path_params["id"])
        if doc is None:
            return _bad("unknown entity id", 404)
        return realm, kind.name, doc

    async def delete_entity(request: Request) -> Response:
        found = target(request)
        if isinstance(found, Response):
            return found
        realm, entity, doc = found
        if entity in LIST_ENTITIES:
            # Deleting a list entity in the QBO UI makes it inactive.
            doc["Active"] = False
            realm.bump(doc)
            return QboJSONResponse({entity: doc})
        # Behind the integration's back QBO also unlinks payments before deleting.
        if entity in ("Invoice", "CreditMemo"):
            ledger.remove_application_to(realm, entity, str(doc["Id"]))
        if entity == "Payment":
            realm.deposited.pop(str(doc["Id"]), None)
        service.remove(realm, entity, doc)
        return QboJSONResponse({entity: {"status": "Deleted", "Id": doc["Id"]}})

    async def edit_entity(request: Request) -> Response:
        found = target(request)
        if isinstance(found, Response):
            return found
        realm, entity, doc = found
        patch = await _body(request)
        for key, value in patch.items():
            if key not in ("Id", "SyncToken", "MetaData"):
                doc[key] = value
        realm.bump(doc)
        return QboJSONResponse({entity: doc})

    async def export(request: Request) -> Response:
        realm = realm_of(request)
        if realm is None:
            return _bad("unknown realm", 404)
        entities = {
            name: ledger.present(realm, name, realm.all(name))
            for name in sorted(realm.entities)
            if realm.entities[name]
        }
        return QboJSONResponse(
            {
                "realm_id": realm.realm_id,
                "name": realm.name,
                "home_currency": realm.home_currency,
                "entities": entities,
                "deleted": [
                    {"entity": t.entity, "Id": t.entity_id, "deleted_at": t.deleted_at}
                    for t in realm.tombstones
                ],
            }
        )

    async def reset(request: Request) -> Response:
        del request
        state.store.reset()
        state.limiter.reset()
        state.chaos.plan = FaultPlan()
        state.stats.realms.clear()
        return QboJSONResponse({"reset": True})

    async def trial_balance(request: Request) -> Response:
        realm = realm_of(request)
        if realm is None:
            return _bad("unknown realm", 404)
        return QboJSONResponse(ledger.trial_balance(realm))

    async def ar_aging(request: Request) -> Response:
        realm = realm_of(request)
        if realm is None:
            return _bad("unknown realm", 404)
        try:
            as_of = date.fromisoformat(request.query_params.get("as_of") or today())
        except ValueError:
            return _bad("as_of must be YYYY-MM-DD")
        return QboJSONResponse(ledger.ar_aging(realm, as_of))

    async def stats(request: Request) -> Response:
        del request
        return QboJSONResponse(state.stats.as_json())

    async def health(request: Request) -> Response:
        del request
        return QboJSONResponse({"status": "ok", "realms": len(state.store.realms)})

    def guarded(handler: Any) -> Any:
        async def run(request: Request) -> Response:
            try:
                response: Response = await handler(request)
            except (ValueError, TypeError) as exc:
                return _bad(str(exc))
            return response

        return run

    base = "/_admin/realms/{realm}"
    entity = base + "/entities/{entity}/{id}"
    table: list[tuple[str, Any, str]] = [
        ("/_admin/realms", create_realm, "POST"),
        (base + "/tokens", tokens, "POST"),
        (base + "/expire-tokens", expire_tokens, "POST"),
        ("/_admin/faults", set_faults, "POST"),
        ("/_admin/faults", clear_faults, "DELETE"),
        ("/_admin/latency", latency, "POST"),
        ("/_admin/limits", limits, "POST"),
        (entity + "/delete", delete_entity, "POST"),
        (entity + "/edit", edit_entity, "POST"),
        (base + "/export", export, "GET"),
        ("/_admin/reset", reset, "POST"),
        (base + "/trial-balance", trial_balance, "GET"),
        (base + "/ar-aging", ar_aging, "GET"),
        ("/_admin/stats", stats, "GET"),
        ("/_admin/health", health, "GET"),
    ]
    return [Route(path, guarded(handler), methods=[method]) for path, handler, method in table]
