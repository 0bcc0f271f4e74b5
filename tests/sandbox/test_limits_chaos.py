"""Intuit's throttles (429 XML), switching them off, fault injection, latency, statistics."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from qbsync_sandbox.api import ConnectionDroppedError
from qbsync_sandbox.settings import SandboxSettings

from tests.sandbox.conftest import Company, SandboxFactory, new_company


def is_throttle(response: httpx.Response) -> bool:
    return (
        response.status_code == 429
        and response.headers["content-type"].startswith("application/xml")
        and 'code="3001"' in response.text
        and "ThrottleExceeded" in response.text
    )


class TestLimits:
    async def test_requests_per_minute_per_realm_gives_429_xml(
        self, sandbox_factory: SandboxFactory
    ) -> None:
        async with sandbox_factory(SandboxSettings(requests_per_minute=5)) as client:
            qbo = await new_company(client)
            other = await new_company(client)
            answers = [await qbo.get("preferences") for _ in range(6)]
            assert [r.status_code for r in answers[:5]] == [200] * 5
            assert is_throttle(answers[5])
            assert int(answers[5].headers["Retry-After"]) >= 1
            assert (await other.get("preferences")).status_code == 200
            stats = (await client.get("/_admin/stats")).json()["realms"][qbo.realm_id]
            assert stats["throttled"] == 1
            assert stats["by_status"] == {"200": 5, "429": 1}

    async def test_concurrent_requests_over_limit_get_429(
        self, sandbox_factory: SandboxFactory
    ) -> None:
        async with sandbox_factory(SandboxSettings(max_concurrent=2, latency_ms=150)) as client:
            qbo = await new_company(client)
            answers = await asyncio.gather(*(qbo.get("preferences") for _ in range(4)))
            codes = sorted(r.status_code for r in answers)
            assert codes == [200, 200, 429, 429]

    async def test_batch_requests_per_minute(self, sandbox_factory: SandboxFactory) -> None:
        async with sandbox_factory(SandboxSettings(batch_requests_per_minute=2)) as client:
            qbo = await new_company(client)
            body = {"BatchItemRequest": [{"bId": "1", "Query": "SELECT * FROM Item"}]}
            answers = [await qbo.post("batch", body) for _ in range(3)]
            assert [r.status_code for r in answers] == [200, 200, 429]
            assert (await qbo.get("preferences")).status_code == 200

    async def test_limits_can_be_switched_off(self, sandbox_factory: SandboxFactory) -> None:
        async with sandbox_factory(SandboxSettings(requests_per_minute=2)) as client:
            qbo = await new_company(client)
            await client.post("/_admin/limits", json={"enabled": False})
            answers = [await qbo.get("preferences") for _ in range(5)]
            assert all(r.status_code == 200 for r in answers)
            await client.post("/_admin/limits", json={"enabled": True})
            assert (await qbo.get("preferences")).status_code == 429

    async def test_limits_disabled_by_settings(self, sandbox_factory: SandboxFactory) -> None:
        settings = SandboxSettings(limits_enabled=False, requests_per_minute=1)
        async with sandbox_factory(settings) as client:
            qbo = await new_company(client)
            answers = [await qbo.get("preferences") for _ in range(3)]
            assert all(r.status_code == 200 for r in answers)

    def test_defaults_are_intuits_published_limits(self) -> None:
        settings = SandboxSettings()
        assert (
            settings.requests_per_minute,
            settings.max_concurrent,
            settings.batch_max_items,
            settings.batch_requests_per_minute,
        ) == (500, 10, 30, 40)

    def test_settings_read_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("QBSYNC_SANDBOX_REQUESTS_PER_MINUTE", "7")
        assert SandboxSettings().requests_per_minute == 7


class TestFaultInjection:
    @pytest.mark.parametrize(("kind", "status"), [("429", 429), ("500", 500), ("503", 503)])
    async def test_each_kind_is_injected(self, qbo: Company, kind: str, status: int) -> None:
        await qbo.client.post("/_admin/faults", json={"share": 1.0, "kinds": [kind]})
        response = await qbo.get("preferences")
        assert response.status_code == status
        await qbo.client.delete("/_admin/faults")
        assert (await qbo.get("preferences")).status_code == 200

    async def test_share_is_respected_roughly(self, qbo: Company) -> None:
        await qbo.client.post("/_admin/faults", json={"share": 0.3, "kinds": ["500"], "seed": 7})
        answers = [await qbo.get("preferences") for _ in range(200)]
        failed = sum(r.status_code == 500 for r in answers)
        assert 35 <= failed <= 85
        stats = (await qbo.client.get("/_admin/stats")).json()["realms"][qbo.realm_id]
        assert stats["injected"] == failed
        assert stats["throttled"] == 0

    async def test_faults_can_target_one_realm(self, qbo: Company) -> None:
        other = await new_company(qbo.client)
        await qbo.client.post(
            "/_admin/faults", json={"share": 1.0, "kinds": ["503"], "realm_id": other.realm_id}
        )
        assert (await qbo.get("preferences")).status_code == 200
        assert (await other.get("preferences")).status_code == 503

    async def test_timeout_hangs_until_client_gives_up(self, qbo: Company) -> None:
        await qbo.client.post(
            "/_admin/faults", json={"share": 1.0, "kinds": ["timeout"], "timeout_s": 5}
        )
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await qbo.get("preferences")

    async def test_drop_cuts_the_connection(self, qbo: Company) -> None:
        await qbo.client.post("/_admin/faults", json={"share": 1.0, "kinds": ["drop"]})
        with pytest.raises(ConnectionDroppedError):
            await qbo.get("preferences")

    async def test_bad_fault_request_is_400(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/_admin/faults", json={"share": 2, "kinds": ["boom"]})
        assert response.status_code == 400


class TestLatency:
    async def test_fixed_latency_delays_answers(self, qbo: Company) -> None:
        await qbo.client.post("/_admin/latency", json={"fixed_ms": 120})
        started = time.perf_counter()
        await qbo.get("preferences")
        assert time.perf_counter() - started >= 0.11

    async def test_random_latency_within_bounds(self, qbo: Company) -> None:
        await qbo.client.post("/_admin/latency", json={"min_ms": 20, "max_ms": 60})
        started = time.perf_counter()
        for _ in range(3):
            await qbo.get("preferences")
        elapsed = time.perf_counter() - started
        assert 0.055 <= elapsed < 1.0
