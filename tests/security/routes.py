"""Every HTTP route of every service, and how each one is protected.

`tests/security/test_tenant_isolation.py` fails when an app has a route missing
here, so a new endpoint cannot ship without saying who may call it (and a test).

Kinds:
- `Scoped`: acts on one tenant's thing named in the path or query. Tenant B's key
  aimed at tenant A's thing is refused with `denied` (404 in errors and the poster:
  "as if it did not exist"); aimed at B's own thing it answers one of `allowed`.
- `Filtered`: a list or bulk action whose tenant is a filter: B's key asking for A
  gets an answer without any of A's data (checked by the test per route).
- `Public`: operations and docs; no key, and no tenant data in the answer.
- `Signed`, `StateProtected`, `AdminOnly`: checked by their own tests.
"""

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Scoped:
    """B's key on A's thing: `denied`; on B's own: one of `allowed`."""

    key: str
    """Which key: "errors", "poster", or "cookie" (the errors page's signed-in cookie)."""
    allowed: tuple[int, ...] = (200,)
    denied: int = 404
    target: str = "account"
    """Which of the tenant's error records `{record_id}` names."""
    json: Any = None
    params: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] = field(default_factory=dict)
    action: str = ""
    """The `{action}` of the page's action route."""


@dataclass(frozen=True)
class Filtered:
    """A list or bulk route whose tenant is a filter (checked by name in the test)."""

    name: str


@dataclass(frozen=True)
class Public:
    """Answers without a key and shows no tenant's data."""

    expect: tuple[int, ...] = (200,)


@dataclass(frozen=True)
class Signed:
    """Refuses a body whose signature does not match (forged webhooks)."""


@dataclass(frozen=True)
class StateProtected:
    """OAuth callback: only a state handed out by an authorized connect is accepted."""


@dataclass(frozen=True)
class AdminOnly:
    """Only the service's admin token: no tenant key of any service opens it."""


Protection = Scoped | Filtered | Public | Signed | StateProtected | AdminOnly
Route = tuple[str, str]

DOCS: dict[Route, list[Protection]] = {
    ("GET", "/openapi.json"): [Public()],
    ("GET", "/docs"): [Public()],
    ("GET", "/docs/oauth2-redirect"): [Public()],
    ("GET", "/redoc"): [Public()],
}

INGEST: dict[Route, list[Protection]] = {
    **DOCS,
    ("POST", "/v1/events"): [Filtered("events")],
    ("POST", "/v1/qbo/webhooks"): [Signed()],
    ("GET", "/healthz"): [Public()],
    ("GET", "/readyz"): [Public()],
    ("GET", "/metrics"): [Public()],
}

_UI_ACTIONS = [
    Scoped("cookie", (303,), action=a, target=t, form=f)
    for a, t, f in (
        ("resync", "mapping", {}),
        ("skip", "mapping", {}),
        ("delete", "connection", {}),
        ("link", "account", {"qbo_customer_id": "1"}),
        ("create-customer", "account", {}),
        ("stop-syncing", "account", {}),
    )
]

ERRORS: dict[Route, list[Protection]] = {
    **DOCS,
    ("GET", "/v1/errors"): [Filtered("list")],
    ("GET", "/v1/errors/counts"): [Filtered("counts")],
    ("POST", "/v1/errors/resync"): [Filtered("bulk-resync")],
    ("GET", "/v1/errors/{record_id}"): [Scoped("errors")],
    ("POST", "/v1/errors/{record_id}/resync"): [Scoped("errors", target="mapping")],
    ("POST", "/v1/errors/{record_id}/skip"): [Scoped("errors", target="mapping")],
    ("DELETE", "/v1/errors/{record_id}"): [Scoped("errors", (204,), target="service")],
    ("POST", "/v1/errors/{record_id}/account/link"): [
        Scoped("errors", json={"qbo_customer_id": "1"})
    ],
    ("POST", "/v1/errors/{record_id}/account/create-customer"): [Scoped("errors")],
    ("POST", "/v1/errors/{record_id}/account/stop-syncing"): [Scoped("errors")],
    ("GET", "/v1/tenants/{tenant}/customers/stopped"): [Scoped("errors")],
    ("POST", "/v1/tenants/{tenant}/customers/{customer_ref}/resume-syncing"): [
        Scoped("errors", (204,))
    ],
    ("POST", "/v1/tenants/{tenant}/resume"): [Scoped("errors", (204,))],
    ("GET", "/v1/tenants/{tenant}/webhooks"): [Scoped("errors")],
    ("POST", "/v1/tenants/{tenant}/webhooks"): [
        Scoped("errors", (201,), json={"url": "http://127.0.0.1:9/other"})
    ],
    ("DELETE", "/v1/tenants/{tenant}/webhooks/{webhook_id}"): [Scoped("errors", (204,))],
    ("GET", "/v1/tenants/{tenant}/deliveries"): [Scoped("errors")],
    ("GET", "/v1/audit"): [Filtered("audit")],
    ("GET", "/healthz"): [Public()],
    ("GET", "/readyz"): [Public()],
    ("GET", "/metrics"): [Public()],
    ("GET", "/"): [Public((303,))],
    ("GET", "/ui/login"): [Public()],
    ("POST", "/ui/login"): [Public((401,))],
    ("POST", "/ui/logout"): [Public((303,))],
    ("GET", "/ui"): [Filtered("page-list")],
    ("GET", "/ui/errors/{record_id}"): [Scoped("cookie")],
    ("POST", "/ui/errors/{record_id}/{action}"): list(_UI_ACTIONS),
    ("POST", "/ui/resync-filter"): [Filtered("page-resync-filter")],
    ("POST", "/ui/tenants/{tenant}/resume"): [Filtered("page-resume")],
}

OPERATIONS: dict[Route, list[Protection]] = {
    ("GET", "/healthz"): [Public()],
    ("GET", "/readyz"): [Public()],
    ("GET", "/metrics"): [Public()],
}

MAPPER: dict[Route, list[Protection]] = {
    **DOCS,
    **OPERATIONS,
    ("GET", "/health"): [Public()],
    ("PUT", "/v1/tenants/{tenant_id}/settings"): [AdminOnly()],
    ("GET", "/v1/tenants/{tenant_id}/settings"): [AdminOnly()],
    ("POST", "/v1/tenants/{tenant_id}/export"): [AdminOnly()],
    ("POST", "/v1/tenants/{tenant_id}/dry-run"): [AdminOnly()],
}

_READS = ("customers", "accounts", "items", "classes", "taxcodes", "paymentmethods")
POSTER: dict[Route, list[Protection]] = {
    **DOCS,
    **OPERATIONS,
    ("GET", "/health"): [Public()],
    ("GET", "/connect/qbo"): [Scoped("poster", (307,), params={"tenant": "{tenant}"})],
    ("GET", "/callback"): [StateProtected()],
    ("GET", "/v1/tenants/{tenant_id}/backsync"): [Scoped("poster")],
    ("PUT", "/v1/tenants/{tenant_id}/backsync"): [Scoped("poster", json={"enabled": False})],
    **{("GET", f"/v1/tenants/{{tenant_id}}/qbo/{r}"): [Scoped("poster")] for r in _READS},
}
