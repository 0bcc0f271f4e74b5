"""The ``/v3/company/{realmId}/...`` surface: authentication, limits, chaos, dispatch."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from qbsync_sandbox import service, xmlbody
from qbsync_sandbox.clock import loads, response_time
from qbsync_sandbox.faults import (
    QboFault,
    authentication_fault,
    authorization_fault,
    business,
    required,
    system_fault,
    throttle_xml,
    unsupported,
    unsupported_content_type,
)
from qbsync_sandbox.responses import QboJSONResponse
from qbsync_sandbox.state import SandboxState
from qbsync_sandbox.store import Realm

V3_PATH = re.compile(r"^/v3/company/(?P<realm>[^/]+)/?(?P<rest>.*)$")
MAX_REQUEST_ID = 50
MAX_BATCH_REQUEST_ID = 36
PDF_STUB = b"%PDF-1.4\n% qbsync sandbox stub\n%%EOF\n"


class ConnectionDroppedError(Exception):
    """Raised to cut a response short, simulating a dropped connection."""


class V3Middleware:
    """Pure ASGI middleware answering ``/v3/...`` before Starlette routing."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve /v3 requests; pass everything else on."""
        match = V3_PATH.match(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None:
            await self.app(scope, receive, send)
            return
        await self.serve(match["realm"], match["rest"].strip("/"), scope, receive, send)

    async def serve(
        self, realm_id: str, rest: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Gate one request through auth, limits, injected faults and latency."""
        state = self.state
        request = Request(scope, receive)
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        problem = state.check_access(token, realm_id)
        realm = state.store.realms.get(realm_id)
        if problem is None and realm is None:
            problem = "The company does not exist."
        if problem is not None or realm is None:
            state.stats.record(realm_id, 401)
            await QboJSONResponse(authentication_fault(problem or ""), 401)(scope, receive, send)
            return
        if state.lacks_scope(token):
            state.stats.record(realm_id, 403)
            body = authorization_fault("The access token was not granted the accounting scope.")
            await QboJSONResponse(body, 403)(scope, receive, send)
            return
        wait = state.limiter.try_acquire(realm_id, is_batch=rest == "batch")
        if wait is not None:
            state.stats.record(realm_id, 429)
            await _throttled(wait)(scope, receive, send)
            return
        try:
            fault = state.chaos.pick_fault(realm_id)
            delay = state.chaos.latency_s()
            if delay > 0:
                await asyncio.sleep(delay)
            if fault is not None:
                state.stats.record(realm_id, _injected_status(fault), injected=True)
                await self.inject(fault, scope, receive, send)
                return
            response = await self.dispatch(realm, rest, request)
        finally:
            state.limiter.release(realm_id)
        if response.media_type == "application/json" and not xmlbody.wants_json(
            request.headers.get("accept", "")
        ):
            response = Response(
                xmlbody.render(loads(bytes(response.body))),
                response.status_code,
                headers={"intuit_tid": response.headers.get("intuit_tid", "")},
                media_type="application/xml",
            )
        state.stats.record(realm_id, response.status_code)
        await response(scope, receive, send)

    async def inject(self, fault: str, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer with an injected failure."""
        if fault == "429":
            await _throttled(self.state.chaos.plan.retry_after_s)(scope, receive, send)
        elif fault == "500":
            await QboJSONResponse(system_fault(), 500)(scope, receive, send)
        elif fault == "503":
            await PlainTextResponse("Service Unavailable", 503)(scope, receive, send)
        elif fault == "timeout":
            await asyncio.sleep(self.state.chaos.plan.timeout_s)
            await PlainTextResponse("Gateway Timeout", 504)(scope, receive, send)
        else:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", b"4096"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b'{"Invoice":', "more_body": True})
            raise ConnectionDroppedError("connection dropped by fault injection")

    async def dispatch(self, realm: Realm, rest: str, request: Request) -> Response:
        """Route within the realm; QBO faults become Fault JSON answers."""
        params = request.query_params
        request_id = params.get("requestid") if request.method == "POST" else None
        try:
            if request_id is not None:
                _check_request_id(request_id, batch=rest == "batch")
            if request_id and request_id in realm.request_ids:
                status, cached = realm.request_ids[request_id]
                return QboJSONResponse.raw(cached, status)
            body = await self.route(realm, rest, request, request_id)
        except QboFault as fault:
            return QboJSONResponse(fault.body(), fault.status)
        if isinstance(body, bytes):
            return Response(body, media_type="application/pdf")
        response = QboJSONResponse(body)
        if request_id:
            realm.request_ids[request_id] = (200, bytes(response.body))
        return response

    async def route(
        self, realm: Realm, rest: str, request: Request, request_id: str | None = None
    ) -> dict[str, Any] | bytes:
        """Map the path and method to a service operation."""
        params = request.query_params
        parts = rest.split("/") if rest else []
        method = request.method
        if not parts:
            raise unsupported("on the company root")
        head = parts[0]
        if head != head.lower():
            # QBO's URIs are case sensitive and resource segments are lowercase.
            raise unsupported(f"on unknown resource {head}")
        media = _media_type(request)
        if head == "query":
            text = params.get("query")
            if text is None and method == "POST":
                if media != "application/text":
                    raise unsupported_content_type(media)
                text = (await request.body()).decode("utf-8")
            if not text:
                raise required("query")
            return {"QueryResponse": service.run_query(realm, text), "time": response_time()}
        if head == "cdc" and method == "GET":
            return service.cdc(realm, params.get("entities", ""), params.get("changedSince", ""))
        if head == "batch" and method == "POST":
            _need_json(media)
            return self.batch(realm, await _json_body(request), request_id)
        if method == "GET":
            if len(parts) == 3 and parts[2] == "pdf":
                service.read(realm, head, parts[1])
                return PDF_STUB
            return service.read(realm, head, parts[1] if len(parts) > 1 else None)
        if method != "POST":
            raise unsupported(f"{method} on {rest}")
        if len(parts) == 3 and parts[2] == "send":
            if media != "application/octet-stream":
                # A JSON content type makes QBO look for a delivery address in the body.
                raise required("DeliveryAddress.Address")
            return service.send(realm, head, parts[1], params.get("sendTo"))
        if len(parts) != 1:
            raise unsupported(f"POST on {rest}")
        _need_json(media)
        body = await _json_body(request)
        operation = (params.get("operation") or "").lower()
        include = {i.strip().lower() for i in (params.get("include") or "").split(",") if i}
        if operation == "delete":
            return service.delete(realm, head, body)
        if operation == "void":
            return service.void(realm, head, body, style="operation")
        if operation == "update" and "void" in include:
            return service.void(realm, head, body, style="include")
        return service.write(realm, head, body, frozenset(include))

    def batch(self, realm: Realm, body: Any, request_id: str | None = None) -> dict[str, Any]:
        """POST /batch: at most ``batch_max_items`` independent items."""
        items = body.get("BatchItemRequest") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise required("BatchItemRequest")
        limit = self.state.settings.batch_max_items
        if len(items) > limit:
            raise QboFault(
                "1040",
                "Batch size exceeds allowed limit",
                f"A batch may carry at most {limit} items; this one has {len(items)}.",
                element="BatchItemRequest",
            )
        responses = service.batch_items(realm, items, with_request_id=bool(request_id))
        return {"BatchItemResponse": responses, "time": response_time()}


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _need_json(media: str) -> None:
    if media != "application/json":
        raise unsupported_content_type(media)


def _check_request_id(request_id: str, *, batch: bool) -> None:
    """Intuit's requestid limits: 50 characters, 36 on a batch request."""
    limit = MAX_BATCH_REQUEST_ID if batch else MAX_REQUEST_ID
    if len(request_id) > limit:
        raise business(
            f"The requestid may have at most {limit} characters; this one has {len(request_id)}.",
            "requestid",
        )


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return loads(raw) if raw.strip() else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise QboFault(
            "2010",
            "Request has invalid or unsupported property",
            "The request body is not valid JSON.",
        ) from None


def _throttled(wait: float) -> Response:
    return Response(
        throttle_xml(),
        429,
        media_type="application/xml",
        headers={"Retry-After": str(max(1, round(wait)))},
    )


def _injected_status(fault: str) -> int:
    return {"429": 429, "500": 500, "503": 503, "timeout": 504}.get(fault, 0)
