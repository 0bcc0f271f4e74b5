"""The ASGI application of the QBO sandbox emulator."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware

from qbsync_sandbox import admin, oauth
from qbsync_sandbox.api import V3Middleware
from qbsync_sandbox.settings import SandboxSettings
from qbsync_sandbox.state import SandboxState


def create_app(settings: SandboxSettings | None = None) -> Starlette:
    """Build an emulator app with its own, empty state.

    Args:
        settings: Limits, OAuth client and latency; from the environment when omitted.

    Returns:
        A Starlette app; ``app.state.sandbox`` holds the emulator state.
    """
    state = SandboxState(settings or SandboxSettings())
    app = Starlette(
        routes=[*oauth.routes(state), *admin.routes(state)],
        middleware=[Middleware(V3Middleware, state=state)],
    )
    app.state.sandbox = state
    return app
