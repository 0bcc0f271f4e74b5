"""OAuth 2.0 as Intuit runs it: authorize (auto-approved), token (code, refresh), revoke."""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from qbsync_sandbox.state import SandboxState
from qbsync_sandbox.store import AuthCode

CODE_TTL_S = 300


def _error(error: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error}, status)


def _client_ok(state: SandboxState, request: Request) -> bool:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return False
    try:
        decoded = base64.b64decode(header[6:].strip()).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    client_id, _, secret = decoded.partition(":")
    settings = state.settings
    return secrets.compare_digest(client_id, settings.client_id) and secrets.compare_digest(
        secret, settings.client_secret
    )


def routes(state: SandboxState) -> list[Route]:
    """Build the OAuth routes bound to one emulator state."""

    async def authorize(request: Request) -> Response:
        params = request.query_params
        if params.get("client_id") != state.settings.client_id:
            return _error("invalid_client")
        if params.get("response_type") != "code":
            return _error("unsupported_response_type")
        redirect_uri = params.get("redirect_uri")
        if not redirect_uri:
            return _error("invalid_request")
        scope = " ".join(params.get("scope", "").split())
        if not scope:
            return _error("invalid_scope")
        realm_id = params.get("realm_id")
        if realm_id is None:
            realm_id = state.create_realm().realm_id
        elif realm_id not in state.store.realms:
            return _error("invalid_request")
        code = "AB" + secrets.token_urlsafe(24)
        state.store.codes[code] = AuthCode(realm_id, redirect_uri, time.time() + CODE_TTL_S, scope)
        query = {"code": code, "realmId": realm_id}
        if params.get("state") is not None:
            query["state"] = params["state"]
        separator = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(redirect_uri + separator + urlencode(query), 302)

    async def token(request: Request) -> Response:
        if not _client_ok(state, request):
            return _error("invalid_client", 401)
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/x-www-form-urlencoded":
            # Intuit's token endpoint reads a form only; JSON bodies get 415.
            return Response(status_code=415)
        form = dict(parse_qsl((await request.body()).decode("utf-8")))
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            grant = state.store.codes.pop(form.get("code", ""), None)
            if grant is None or grant.expires_at <= time.time():
                return _error("invalid_grant")
            if form.get("redirect_uri") != grant.redirect_uri:
                return _error("invalid_grant")
            return JSONResponse(state.issue_tokens(grant.realm_id, grant.scope))
        if grant_type == "refresh_token":
            old = state.store.tokens.get(form.get("refresh_token", ""))
            if old is None or old.kind != "refresh" or old.revoked or old.expires_at <= time.time():
                return _error("invalid_grant")
            # Rotation: the refresh token just used is spent.
            old.revoked = True
            return JSONResponse(state.issue_tokens(old.realm_id, old.scope))
        return _error("unsupported_grant_type")

    async def revoke(request: Request) -> Response:
        if not _client_ok(state, request):
            return _error("invalid_client", 401)
        raw = await request.body()
        try:
            payload = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError:
            payload = dict(parse_qsl(raw.decode("utf-8")))
        grant = state.store.tokens.get(str(payload.get("token", "")))
        if grant is None:
            return _error("invalid_request")
        state.revoke_realm(grant.realm_id)
        return Response(status_code=200)

    return [
        Route("/oauth2/authorize", authorize, methods=["GET"]),
        Route("/connect/oauth2", authorize, methods=["GET"]),
        Route("/oauth2/v1/tokens/bearer", token, methods=["POST"]),
        Route("/oauth2/v1/tokens/revoke", revoke, methods=["POST"]),
        Route("/v2/oauth2/tokens/revoke", revoke, methods=["POST"]),
    ]
