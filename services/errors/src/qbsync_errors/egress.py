"""Where webhook deliveries may go: public addresses only, checked at connect time.

A webhook URL is checked when it is registered, but a host name can resolve to an
internal address later (or on the next lookup: DNS rebinding). So the delivery client
resolves the host itself, refuses internal addresses, and connects to the address it
checked; TLS still verifies the certificate against the URL's host name.
"""

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable

import httpcore
import httpx

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]


NAT64 = ipaddress.ip_network("64:ff9b::/96")
"""IPv6 addresses a NAT64 gateway turns into the IPv4 address in their last 32 bits."""
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address reaches through a translation, if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64 or (address in IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_internal(address: Address) -> bool:
    """Whether `address` is one a webhook must not reach (our own or a private network)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_internal(embedded)
    # Not global covers private, loopback, link-local, reserved, unspecified and shared
    # (carrier-grade NAT) space; multicast groups count as global but are no web server.
    return address.is_multicast or not address.is_global


async def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, as the system resolver answers."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class PublicOnlyBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that connects only to public addresses.

    Args:
        resolver: Host name to addresses (the system resolver unless a test gives one).
    """

    def __init__(self, resolver: Resolver = resolve) -> None:
        self._resolve = resolver
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Connect to an address of `host`, if none of its addresses is internal."""
        try:
            # Within the connect timeout, as the resolution inside a plain connect is.
            addresses = await asyncio.wait_for(self._resolve(host, port), timeout)
        except (OSError, TimeoutError) as exc:
            raise httpcore.ConnectError(f"cannot resolve webhook host {host}: {exc!r}") from exc
        internal = [a for a in addresses if is_internal(ipaddress.ip_address(a))]
        if internal or not addresses:
            # One internal answer refuses the host: a name that mixes public and internal
            # addresses is how rebinding is usually tried.
            raise httpcore.ConnectError(
                f"webhook host {host} resolves to a non-public address "
                f"({', '.join(internal) or 'none'}); refused"
            )
        failure: Exception | None = None
        for address in addresses:  # each checked one in turn, as a plain connect tries all
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise httpcore.ConnectError(f"cannot connect to webhook host {host}: {failure}")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Refused: a webhook is a URL on the network."""
        raise httpcore.ConnectError("webhooks are not delivered over unix sockets")

    async def sleep(self, seconds: float) -> None:
        """As the inner backend sleeps (httpcore's retries use it)."""
        await self._inner.sleep(seconds)


def webhook_client(*, allow_private: bool, resolver: Resolver = resolve) -> httpx.AsyncClient:
    """The client deliveries go out on: guarded unless internal addresses are allowed.

    The guarded client ignores proxy settings from the environment: through a proxy the
    guard would see only the proxy's address. An operator who must deliver through an
    egress proxy allows private addresses and lets the proxy do the filtering.
    """
    if allow_private:
        return httpx.AsyncClient(follow_redirects=False)
    transport = httpx.AsyncHTTPTransport(trust_env=False)
    # httpx takes no network backend, so its connection pool is replaced by one that has
    # the guard; the pool is what the transport sends through.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        max_connections=100,
        max_keepalive_connections=20,
        keepalive_expiry=5.0,
        network_backend=PublicOnlyBackend(resolver),
    )
    return httpx.AsyncClient(transport=transport, follow_redirects=False, trust_env=False)
