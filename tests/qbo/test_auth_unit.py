import asyncio
import base64
from urllib.parse import parse_qs

import httpx
import pytest
from qbsync_qbo import OAuthTokens, QboAuthError, TokenSet

from .helpers import INVOICE_BODY, Recorder, json_response, make_client, token_set

TOKEN_URL = "https://oauth.test/oauth2/v1/tokens/bearer"


class MemoryStore:
    def __init__(self, log: list[str]) -> None:
        self.saved: list[TokenSet] = []
        self.log = log

    async def save(self, tokens: TokenSet) -> None:
        await asyncio.sleep(0)
        self.log.append(f"save:{tokens.access_token}")
        self.saved.append(tokens)


def _oauth_and_api(log: list[str], *, api_rejects: set[str] | None = None) -> Recorder:
    counter = {"n": 1}
    rejects = api_rejects or set()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/tokens/bearer"):
            form = parse_qs(request.content.decode())
            if form["refresh_token"] != [f"rt-{counter['n']}"]:
                return json_response(400, {"error": "invalid_grant"})
            counter["n"] += 1
            n = counter["n"]
            log.append(f"refresh->at-{n}")
            return json_response(
                200,
                {
                    "token_type": "bearer",
                    "access_token": f"at-{n}",
                    "refresh_token": f"rt-{n}",
                    "expires_in": 3600,
                    "x_refresh_token_expires_in": 8_726_400,
                },
            )
        token = request.headers["authorization"].removeprefix("Bearer ")
        log.append(f"api:{token}")
        if token in rejects:
            return json_response(
                401,
                {
                    "fault": {
                        "error": [{"message": "AuthenticationFailed", "code": "3200"}],
                        "type": "AUTHENTICATION",
                    }
                },
            )
        return json_response(200, INVOICE_BODY)

    return Recorder(handler)


def _tokens(http: httpx.AsyncClient, store: MemoryStore, current: TokenSet) -> OAuthTokens:
    return OAuthTokens(
        current, store, http, client_id="cid", client_secret="sec", token_url=TOKEN_URL
    )


class TestRefresh:
    async def test_expired_token_is_refreshed_and_stored_before_use(self) -> None:
        log: list[str] = []
        store = MemoryStore(log)
        rec = _oauth_and_api(log)
        async with rec.http() as http:
            tokens = _tokens(http, store, token_set(expires_in=-10))
            await make_client(http, tokens).read("Invoice", "1")
        assert log == ["refresh->at-2", "save:at-2", "api:at-2"]
        saved = store.saved[0]
        assert saved.refresh_token == "rt-2"
        assert saved.refresh_expires_at is not None
        assert not saved.expires_within(3000)
        token_req = rec.requests[0]
        assert (
            token_req.headers["authorization"] == "Basic " + base64.b64encode(b"cid:sec").decode()
        )
        assert parse_qs(token_req.content.decode())["grant_type"] == ["refresh_token"]

    async def test_token_about_to_expire_is_refreshed(self) -> None:
        log: list[str] = []
        rec = _oauth_and_api(log)
        async with rec.http() as http:
            tokens = _tokens(http, MemoryStore(log), token_set(expires_in=60))
            assert await tokens.access_token() == "at-2"

    async def test_401_triggers_one_refresh_then_retry(self) -> None:
        log: list[str] = []
        rec = _oauth_and_api(log, api_rejects={"at-1"})
        async with rec.http() as http:
            tokens = _tokens(http, MemoryStore(log), token_set())
            await make_client(http, tokens).read("Invoice", "1")
        assert log == ["api:at-1", "refresh->at-2", "save:at-2", "api:at-2"]

    async def test_401_after_refresh_is_an_auth_error(self) -> None:
        log: list[str] = []
        rec = _oauth_and_api(log, api_rejects={"at-1", "at-2", "at-3"})
        async with rec.http() as http:
            tokens = _tokens(http, MemoryStore(log), token_set())
            with pytest.raises(QboAuthError) as info:
                await make_client(http, tokens).read("Invoice", "1")
        assert info.value.has_code("3200")
        assert [e for e in log if e.startswith("refresh")] == ["refresh->at-2", "refresh->at-3"]

    async def test_one_401_after_refresh_gets_another_refresh(self) -> None:
        log: list[str] = []
        rec = _oauth_and_api(log, api_rejects={"at-1", "at-2"})
        async with rec.http() as http:
            tokens = _tokens(http, MemoryStore(log), token_set())
            await make_client(http, tokens).read("Invoice", "1")
        assert log[-1] == "api:at-3"

    async def test_concurrent_requests_refresh_once(self) -> None:
        log: list[str] = []
        store = MemoryStore(log)
        rec = _oauth_and_api(log)
        async with rec.http() as http:
            tokens = _tokens(http, store, token_set(expires_in=-1))
            client = make_client(http, tokens)
            await asyncio.gather(*(client.read("Invoice", "1") for _ in range(10)))
        assert len(store.saved) == 1
        assert log.count("api:at-2") == 10

    async def test_invalid_grant_is_an_auth_error(self) -> None:
        log: list[str] = []
        store = MemoryStore(log)
        rec = _oauth_and_api(log)
        async with rec.http() as http:
            tokens = _tokens(http, store, token_set(refresh="rt-stale", expires_in=-1))
            with pytest.raises(QboAuthError) as info:
                await make_client(http, tokens).read("Invoice", "1")
        assert info.value.has_code("invalid_grant")
        assert not info.value.retriable
        assert store.saved == []

    async def test_store_failure_keeps_old_tokens(self) -> None:
        class FailingStore:
            async def save(self, tokens: TokenSet) -> None:
                raise RuntimeError("db down")

        log: list[str] = []
        rec = _oauth_and_api(log)
        async with rec.http() as http:
            tokens = OAuthTokens(
                token_set(expires_in=-1),
                FailingStore(),
                http,
                client_id="c",
                client_secret="s",
                token_url=TOKEN_URL,
            )
            with pytest.raises(RuntimeError):
                await tokens.access_token()
            assert tokens.tokens.access_token == "at-1"
        assert not any(entry.startswith("api:") for entry in log)
