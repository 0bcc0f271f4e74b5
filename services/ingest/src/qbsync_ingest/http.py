"""HTTP intake: POST /v1/events, the QBO webhook receiver, health and metrics."""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse
from opentelemetry import trace
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from qbsync_core.errors import INFRASTRUCTURE_ERRORS, ErrorCategory
from qbsync_core.operations import readiness_problem
from qbsync_core.records import ErrorRecord, Reason, Stage, encode_payload, record_id_for

from qbsync_ingest.intake import Outcome, Status, Submitted, intake
from qbsync_ingest.resources import NotReady, Resources
from qbsync_ingest.rules import kept_payload, split_json_array
from qbsync_ingest.storage import tenant_for_api_key
from qbsync_ingest.webhooks import payment_notices, signature_is_valid

T = TypeVar("T")
_UNAVAILABLE: tuple[type[Exception], ...] = (*INFRASTRUCTURE_ERRORS, NotReady)


class ItemResult(BaseModel):
    """The outcome of one event of the submitted array."""

    index: int
    event_id: str | None = None
    status: Status
    reasons: list[Reason] = Field(default_factory=list)
    error_record_id: str | None = None


class BatchResult(BaseModel):
    """207 body: one result per submitted event, in order, and the counts."""

    results: list[ItemResult]
    accepted: int
    duplicate: int
    rejected: int


class Problem(BaseModel):
    """Body of a refused request."""

    error: str
    error_record_id: str | None = None


def _trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def _result(outcomes: list[Outcome]) -> BatchResult:
    results = [
        ItemResult(
            index=i,
            event_id=o.event_id,
            status=o.status,
            reasons=list(o.reasons),
            error_record_id=o.record_id,
        )
        for i, o in enumerate(outcomes)
    ]
    counts = {s: sum(1 for o in outcomes if o.status is s) for s in Status}
    return BatchResult(
        results=results,
        accepted=counts[Status.ACCEPTED],
        duplicate=counts[Status.DUPLICATE],
        rejected=counts[Status.REJECTED],
    )


# The handlers read the raw bytes (each event's exact bytes are kept), so FastAPI does
# not see the bodies; documented here for clients and for schema-driven tests. The
# events schema is the contract's, published as docs/schema/event-v1.schema.json.
_EVENTS_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "array",
                    "maxItems": 1000,
                    "items": {"type": "object", "description": "A v1 event."},
                }
            }
        },
    }
}
_WEBHOOK_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "description": "Intuit's legacy eventNotifications object or CloudEvents array."
                }
            }
        },
    }
}


def build_router(deps: Resources) -> APIRouter:
    """All HTTP routes of ingest, bound to `deps`."""
    router = APIRouter()

    async def api_key_tenant(authorization: Annotated[str | None, Header()] = None) -> str:
        pool, _ = deps.ready()
        token = (authorization or "").removeprefix("Bearer ").strip()
        tenant = await tenant_for_api_key(pool, token) if token else None
        if tenant is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "a valid API key is required",
                {"WWW-Authenticate": "Bearer"},
            )
        return tenant

    async def record_refusal(raw: bytes, tenant: str | None, message: str) -> str:
        _, forwarder = deps.ready()
        record = ErrorRecord(
            record_id=record_id_for(Stage.INGEST, tenant or "", raw),
            tenant_id=tenant,
            category=ErrorCategory.VALIDATION,
            stage=Stage.INGEST,
            cause=message,
            reasons=[Reason(field="", message=message)],
            payload_b64=encode_payload(kept_payload(raw)),
            trace_id=_trace_id(),
        )
        await _guard(lambda: forwarder.errors([record]))
        return record.record_id

    @router.post(
        "/v1/events",
        status_code=status.HTTP_207_MULTI_STATUS,
        response_model=BatchResult,
        responses={
            400: {"model": Problem},
            401: {"model": Problem},
            413: {"model": Problem},
            503: {"model": Problem},
        },
        summary="Submit up to 1,000 v1 events (a JSON array); one result per event.",
        openapi_extra=_EVENTS_BODY,
    )
    async def post_events(request: Request, tenant: Annotated[str, Depends(api_key_tenant)]) -> Any:
        body = await request.body()
        if len(body) > deps.settings.max_body_bytes:
            return _problem(413, f"body larger than {deps.settings.max_body_bytes} bytes")
        try:
            items = split_json_array(body)
        except (ValueError, RecursionError) as exc:
            message = f"body is not a JSON array of events: {exc}"
            return _problem(400, message, await record_refusal(body, tenant, message))
        if len(items) > deps.settings.max_batch_events:
            return _problem(
                413, f"{len(items)} events; at most {deps.settings.max_batch_events} per request"
            )
        pool, forwarder = deps.ready()
        submitted = [Submitted(raw, decoded, parsed=True) for raw, decoded in items]
        outcomes = await _guard(
            lambda: intake(
                pool,
                forwarder,
                submitted,
                path="http",
                key_tenant=tenant,
                trace_id=_trace_id(),
                metrics=deps.metrics,
            )
        )
        return _result(outcomes)

    @router.post(
        "/v1/qbo/webhooks",
        responses={401: {"model": Problem}, 400: {"model": Problem}},
        summary="Intuit webhook receiver (payment back-sync, SET-7).",
        openapi_extra=_WEBHOOK_BODY,
    )
    async def qbo_webhook(
        request: Request, intuit_signature: Annotated[str | None, Header()] = None
    ) -> Any:
        body = await request.body()
        token = deps.settings.qbo_webhook_verifier_token
        if token is None or not signature_is_valid(
            body, intuit_signature, token.get_secret_value()
        ):
            return _problem(401, "intuit-signature does not match this body")
        try:
            notices = payment_notices(body)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            message = f"signed webhook with an unreadable body: {exc}"
            return _problem(400, message, await record_refusal(body, None, message))
        _, forwarder = deps.ready()
        await _guard(lambda: forwarder.payment_notices(notices))
        return {"queued": len(notices)}

    @router.get("/healthz", summary="Liveness.")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Readiness: database and broker answer.",
        responses={503: {"model": Problem}},
    )
    async def readyz() -> Any:
        pool, _ = deps.ready()
        problem = await readiness_problem(pool, deps.broker)
        if problem is not None:
            return _problem(503, problem)
        return {"status": "ready"}

    @router.get("/metrics", summary="Prometheus metrics.", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(deps.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router


def _problem(code: int, message: str, record_id: str | None = None) -> JSONResponse:
    headers = {"Retry-After": "5"} if code == status.HTTP_503_SERVICE_UNAVAILABLE else None
    return JSONResponse(
        Problem(error=message, error_record_id=record_id).model_dump(), code, headers
    )


async def _guard(call: Callable[[], Awaitable[T]]) -> T:
    try:
        return await call()
    except _UNAVAILABLE as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, str(exc), {"Retry-After": "5"}
        ) from exc
