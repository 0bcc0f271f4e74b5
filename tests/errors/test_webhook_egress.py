"""Deliveries reach only public addresses, whatever a webhook's host name resolves to.

Registration refuses internal IP literals (test_webhook_urls.py), but a host name is
resolved only when a delivery goes out, and may then point inside the network (DNS
rebinding). The delivery client checks every address at connect time and sends to the
one it checked. A real receiver on 127.0.0.1 stands for an internal service.
"""

import asyncio
import ipaddress
from collections.abc import AsyncIterator

import httpx
import pytest
from qbsync_errors.egress import Resolver, is_internal, webhook_client

from tests.errors.conftest import serve
from tests.errors.receiver import Receiver


@pytest.fixture
async def internal_service() -> AsyncIterator[tuple[Receiver, int]]:
    hooks = Receiver()
    async with serve(hooks) as base:
        yield hooks, httpx.URL(base).port or 80


def answering(*addresses: str) -> Resolver:
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


@pytest.mark.parametrize(
    ("address", "internal"),
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("172.16.0.9", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),  # cloud metadata
        ("100.64.0.1", True),  # carrier-grade NAT
        ("0.0.0.0", True),  # noqa: S104 (an address to judge, not to bind)
        ("224.0.0.1", True),  # multicast
        ("::1", True),
        ("fd00::1", True),
        ("fe80::1", True),
        ("::ffff:127.0.0.1", True),  # IPv4-mapped loopback
        ("64:ff9b::a00:1", True),  # NAT64 to 10.0.0.1
        ("2002:a00:1::", True),  # 6to4 of 10.0.0.1
        ("::a00:1", True),  # IPv4-compatible 10.0.0.1
        ("64:ff9b::5db8:d70e", False),  # NAT64 to a public address
        ("93.184.215.14", False),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", False),
    ],
)
def test_internal_addresses_are_recognised(address: str, internal: bool) -> None:
    assert is_internal(ipaddress.ip_address(address)) is internal


async def test_a_name_that_resolves_inside_the_network_is_refused_at_delivery(
    internal_service: tuple[Receiver, int],
) -> None:
    hooks, port = internal_service
    # The name passes registration; its DNS answer is the internal service's address.
    async with webhook_client(allow_private=False, resolver=answering("127.0.0.1")) as client:
        with pytest.raises(httpx.ConnectError, match=r"non-public address \(127\.0\.0\.1\)"):
            await client.post(f"http://hooks.example.com:{port}/hook", content=b"{}")
    assert hooks.requests == []


async def test_one_internal_answer_among_public_ones_refuses_the_host(
    internal_service: tuple[Receiver, int],
) -> None:
    hooks, port = internal_service
    resolver = answering("93.184.215.14", "127.0.0.1")
    async with webhook_client(allow_private=False, resolver=resolver) as client:
        with pytest.raises(httpx.ConnectError, match="refused"):
            await client.post(f"http://hooks.example.com:{port}/hook", content=b"{}")
    assert hooks.requests == []


async def test_the_system_resolver_is_checked_too(internal_service: tuple[Receiver, int]) -> None:
    hooks, port = internal_service
    async with webhook_client(allow_private=False) as client:
        with pytest.raises(httpx.ConnectError, match="non-public"):
            await client.post(f"http://localhost:{port}/hook", content=b"{}")
    assert hooks.requests == []


async def test_an_unresolvable_host_is_a_connect_error_naming_it() -> None:
    async def fails(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    async with webhook_client(allow_private=False, resolver=fails) as client:
        with pytest.raises(httpx.ConnectError, match="cannot resolve webhook host nowhere"):
            await client.post("http://nowhere.example.com/hook", content=b"{}")


async def test_allowing_private_addresses_delivers_to_them(
    internal_service: tuple[Receiver, int],
) -> None:
    hooks, port = internal_service
    async with webhook_client(allow_private=True) as client:
        response = await client.post(f"http://127.0.0.1:{port}/hook", content=b"{}")
    assert response.status_code == 204
    assert [r.path for r in hooks.requests] == ["/hook"]


async def test_a_resolver_that_hangs_is_cut_off_by_the_connect_timeout() -> None:
    async def hangs(host: str, port: int) -> list[str]:
        await asyncio.sleep(60)
        return []

    async with webhook_client(allow_private=False, resolver=hangs) as client:
        with pytest.raises(httpx.ConnectError, match="cannot resolve webhook host slow"):
            await client.post("http://slow.example.com/hook", content=b"{}", timeout=0.2)
