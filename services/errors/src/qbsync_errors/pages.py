"""The operator page: server-rendered HTML, plain forms, no JavaScript.

Signing in stores the API key in an HttpOnly, SameSite=Strict cookie: forms on
other sites cannot post with it (no CSRF token needed), and scripts cannot read it.
"""

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Cookie, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import ValidationError
from qbsync_core.errors import ErrorCategory

from qbsync_errors import storage
from qbsync_errors.actions import Conflict, NotFound
from qbsync_errors.keys import ApiKey, key_for_token
from qbsync_errors.models import ErrorFilter, Status
from qbsync_errors.resources import Resources

COOKIE = "qbsync_errors_key"
PAGE_SIZE = 50
_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    auto_reload=False,
)


def _render(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(_templates.get_template(name).render(**context), status_code)


def _see(url: str, **query: str) -> RedirectResponse:
    target = f"{url}?{urlencode(query)}" if query else url
    return RedirectResponse(target, status_code=303)


async def _form(request: Request) -> dict[str, str]:
    # Forms are urlencoded and tiny; parsing them here spares python-multipart.
    fields = parse_qs((await request.body()).decode("utf-8", "replace"))
    return {name: values[-1] for name, values in fields.items()}


def _filter(values: dict[str, str]) -> ErrorFilter:
    return ErrorFilter.model_validate(
        {k: v for k, v in values.items() if v and k in {"tenant", "category", "status", "text"}}
    )


def build_router(deps: Resources) -> APIRouter:
    """The page's routes, bound to `deps`."""
    router = APIRouter(include_in_schema=False)

    async def current_key(token: str | None) -> ApiKey | None:
        pool, _ = deps.ready()
        return await key_for_token(pool, token) if token else None

    @router.get("/")
    async def root() -> Response:
        return _see("/ui")

    @router.get("/ui/login")
    async def login_form(problem: str | None = None) -> Response:
        return _render("login.html", problem=problem, key=None)

    @router.post("/ui/login")
    async def login(request: Request) -> Response:
        token = (await _form(request)).get("token", "").strip()
        if await current_key(token) is None:
            return _render("login.html", 401, problem="That API key is not valid.", key=None)
        response = _see("/ui")
        response.set_cookie(
            COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    @router.post("/ui/logout")
    async def logout() -> Response:
        response = _see("/ui/login")
        response.delete_cookie(COOKIE)
        return response

    @router.get("/ui")
    async def errors_page(
        request: Request, qbsync_errors_key: Annotated[str | None, Cookie()] = None
    ) -> Response:
        key = await current_key(qbsync_errors_key)
        if key is None:
            return _see("/ui/login")
        pool, _ = deps.ready()
        values = dict(request.query_params)
        try:
            flt = _filter(values)
            offset = max(0, int(values.get("offset", "0")))
        except (ValidationError, ValueError):
            return _see("/ui", problem="unknown filter value")
        page = await storage.list_errors(pool, key.scope, flt, PAGE_SIZE, offset)
        counts = await storage.count_open(pool, key.scope, flt.tenant)
        fields = [(k, v) for k, v in flt.model_dump(mode="json").items() if v]
        return _render(
            "list.html",
            key=key,
            page=page,
            counts=counts,
            flt=flt,
            categories=list(ErrorCategory),
            statuses=list(Status),
            filter_fields=[(k, v) for k, v in fields if k != "status"],
            flash=values.get("flash"),
            problem=values.get("problem"),
            prev_url=f"/ui?{urlencode([*fields, ('offset', max(0, offset - PAGE_SIZE))])}"
            if offset
            else None,
            next_url=f"/ui?{urlencode([*fields, ('offset', offset + PAGE_SIZE)])}"
            if offset + PAGE_SIZE < page.total
            else None,
        )

    @router.get("/ui/errors/{record_id}")
    async def error_page(
        record_id: str,
        flash: str | None = None,
        problem: str | None = None,
        qbsync_errors_key: Annotated[str | None, Cookie()] = None,
    ) -> Response:
        key = await current_key(qbsync_errors_key)
        if key is None:
            return _see("/ui/login")
        pool, _ = deps.ready()
        error = await storage.get_error(pool, key.scope, record_id)
        if error is None:
            return _render("base.html", 404, key=key, problem=f"No error {record_id}.")
        audit = await storage.list_audit(
            pool, key.scope, tenant=None, record_id=record_id, limit=20, before_id=None
        )
        return _render("detail.html", key=key, e=error, audit=audit, flash=flash, problem=problem)

    @router.post("/ui/errors/{record_id}/{action}")
    async def act(
        request: Request,
        record_id: str,
        action: str,
        qbsync_errors_key: Annotated[str | None, Cookie()] = None,
    ) -> Response:
        key = await current_key(qbsync_errors_key)
        if key is None:
            return _see("/ui/login")
        _, actions = deps.ready()
        form = await _form(request)
        here = f"/ui/errors/{record_id}"
        try:
            if action == "resync":
                await actions.resync(key, record_id)
                done = "Resynced: replayed from the failing stage."
            elif action == "skip":
                await actions.skip(key, record_id)
                done = "Skipped: no more retries or notifications."
            elif action == "delete":
                await actions.delete(key, record_id)
                return _see("/ui", flash="Service error deleted.")
            elif action == "link":
                qbo_id = form.get("qbo_customer_id", "").strip()
                if not qbo_id:
                    return _see(here, problem="Enter the QuickBooks customer id to link.")
                await actions.link_customer(key, record_id, qbo_id)
                done = f"Linked to QuickBooks customer {qbo_id}."
            elif action == "create-customer":
                await actions.create_customer(key, record_id)
                done = "A new QuickBooks customer will be created."
            elif action == "stop-syncing":
                skipped = await actions.stop_syncing(key, record_id)
                done = f"Customer no longer synced; {skipped} open errors skipped."
            else:
                return _see(here, problem=f"Unknown action {action}.")
        except NotFound:
            return _render("base.html", 404, key=key, problem=f"No error {record_id}.")
        except Conflict as exc:
            return _see(here, problem=str(exc))
        return _see(here, flash=done)

    @router.post("/ui/resync-filter")
    async def resync_filter(
        request: Request, qbsync_errors_key: Annotated[str | None, Cookie()] = None
    ) -> Response:
        key = await current_key(qbsync_errors_key)
        if key is None:
            return _see("/ui/login")
        _, actions = deps.ready()
        try:
            flt = _filter(await _form(request))
        except ValidationError:
            return _see("/ui", problem="unknown filter value")
        ids = await actions.bulk_resync(key, flt)
        return _see("/ui", flash=f"Resynced {len(ids)} errors.")

    @router.post("/ui/tenants/{tenant}/resume")
    async def resume(
        tenant: str, qbsync_errors_key: Annotated[str | None, Cookie()] = None
    ) -> Response:
        key = await current_key(qbsync_errors_key)
        if key is None:
            return _see("/ui/login")
        _, actions = deps.ready()
        try:
            replayed = await actions.resume_tenant(key, tenant)
        except NotFound:
            return _see("/ui", problem=f"Tenant {tenant} is not paused.")
        sent = f"{replayed} failed command{'' if replayed == 1 else 's'} sent again"
        return _see("/ui", flash=f"Tenant {tenant} resumed; {sent}.")

    return router
