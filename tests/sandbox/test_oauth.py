"""OAuth 2.0: authorization code flow, refresh rotation, revoke, 401 faults."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlparse

import httpx
from qbsync_sandbox.settings import SandboxSettings

from tests.sandbox.conftest import Company, SandboxFactory, new_company

REDIRECT = "https://app.example/callback"
BASIC = "Basic " + base64.b64encode(b"qbsync-dev:qbsync-dev-secret").decode()


async def authorize(client: httpx.AsyncClient, **extra: str) -> dict[str, str]:
    response = await client.get(
        "/oauth2/authorize",
        params={
            "client_id": "qbsync-dev",
            "response_type": "code",
            "scope": "com.intuit.quickbooks.accounting",
            "redirect_uri": REDIRECT,
            "state": "xyz",
            **extra,
        },
    )
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}


async def token(client: httpx.AsyncClient, **form: str) -> httpx.Response:
    return await client.post(
        "/oauth2/v1/tokens/bearer",
        data=form,
        headers={"Authorization": BASIC, "Accept": "application/json"},
    )


class TestOAuth:
    async def test_code_flow_issues_tokens_that_work_on_the_realm(
        self, client: httpx.AsyncClient
    ) -> None:
        params = await authorize(client)
        assert params["state"] == "xyz"
        issued = await token(
            client, grant_type="authorization_code", code=params["code"], redirect_uri=REDIRECT
        )
        body = issued.json()
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == 3600
        assert body["x_refresh_token_expires_in"] > 0
        qbo = Company(client, params["realmId"], body)
        assert (await qbo.get("preferences")).status_code == 200
        reused = await token(
            client, grant_type="authorization_code", code=params["code"], redirect_uri=REDIRECT
        )
        assert reused.json() == {"error": "invalid_grant"}

    async def test_authorize_can_connect_an_existing_realm(self, qbo: Company) -> None:
        params = await authorize(qbo.client, realm_id=qbo.realm_id)
        assert params["realmId"] == qbo.realm_id

    async def test_wrong_client_secret_is_rejected(self, client: httpx.AsyncClient) -> None:
        params = await authorize(client)
        bad = "Basic " + base64.b64encode(b"qbsync-dev:nope").decode()
        response = await client.post(
            "/oauth2/v1/tokens/bearer",
            headers={"Authorization": bad},
            data={
                "grant_type": "authorization_code",
                "code": params["code"],
                "redirect_uri": REDIRECT,
            },
        )
        assert response.status_code == 401

    async def test_refresh_rotates_and_old_refresh_token_is_invalid_grant(
        self, qbo: Company
    ) -> None:
        first = await token(
            qbo.client, grant_type="refresh_token", refresh_token=qbo.tokens["refresh_token"]
        )
        assert first.status_code == 200
        assert first.json()["refresh_token"] != qbo.tokens["refresh_token"]
        again = await token(
            qbo.client, grant_type="refresh_token", refresh_token=qbo.tokens["refresh_token"]
        )
        assert again.status_code == 400
        assert again.json() == {"error": "invalid_grant"}
        chained = await token(
            qbo.client, grant_type="refresh_token", refresh_token=first.json()["refresh_token"]
        )
        assert chained.status_code == 200

    async def test_revoke_invalidates_access_and_refresh_tokens(self, qbo: Company) -> None:
        response = await qbo.client.post(
            "/oauth2/v1/tokens/revoke",
            json={"token": qbo.tokens["refresh_token"]},
            headers={"Authorization": BASIC},
        )
        assert response.status_code == 200
        denied = await qbo.get("preferences")
        assert denied.status_code == 401
        refresh = await token(
            qbo.client, grant_type="refresh_token", refresh_token=qbo.tokens["refresh_token"]
        )
        assert refresh.json() == {"error": "invalid_grant"}

    async def test_expired_token_is_401_authentication_fault(self, qbo: Company) -> None:
        await qbo.client.post(f"/_admin/realms/{qbo.realm_id}/expire-tokens")
        response = await qbo.get("preferences")
        assert response.status_code == 401
        # Token problems are answered by Intuit's gateway in its lowercase envelope.
        body = response.json()
        assert "Fault" not in body
        assert body["fault"]["type"] == "AUTHENTICATION"
        error = body["fault"]["error"][0]
        assert error["code"] == "3200"
        assert error["message"] == "message=AuthenticationFailed; errorCode=003200; statusCode=401"
        assert isinstance(body["time"], int)
        refreshed = await token(
            qbo.client, grant_type="refresh_token", refresh_token=qbo.tokens["refresh_token"]
        )
        qbo.tokens = refreshed.json()
        assert (await qbo.get("preferences")).status_code == 200

    async def test_access_token_lifetime_follows_settings(
        self, sandbox_factory: SandboxFactory
    ) -> None:
        async with sandbox_factory(SandboxSettings(access_token_ttl_s=0)) as client:
            qbo = await new_company(client)
            assert (await qbo.get("preferences")).status_code == 401

    async def test_missing_or_unknown_token_is_401(self, qbo: Company) -> None:
        missing = await qbo.client.get(f"{qbo.base}/preferences")
        assert missing.status_code == 401
        unknown = await qbo.client.get(
            f"{qbo.base}/preferences", headers={"Authorization": "Bearer nonsense"}
        )
        assert unknown.json()["fault"]["error"][0]["code"] == "3200"
