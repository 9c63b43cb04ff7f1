"""Where webhooks may go: https to public addresses only, checked after DNS resolution.

A target is checked when a subscription is made and again on every connection. The
connection itself goes to the address that was resolved and checked (a custom network
backend under httpx), so a DNS answer that changes between the check and the connect
(a "rebind") cannot reach a private address. TLS still verifies the certificate against
the host name, since only the TCP connection is pinned.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import httpcore
import httpx

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]
RESOLVE_TIMEOUT = 5.0
# A DNS name as resolvers take it: at most 253 characters of labels of 1 to 63 letters,
# digits and hyphens (underscores too, which DNS allows and some hosts use), no hyphen
# at either end of a label. Anything else cannot be resolved, or fails in the resolver.
MAX_HOST_NAME = 253
LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)", re.IGNORECASE)
# Prefixes that carry an IPv4 address in their last 32 bits (RFC 6052 NAT64), and
# NAT64 for local use (RFC 8215), which is not globally reachable.
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")


class UnsafeTarget(Exception):
    """A target URL or address that webhooks must not reach; the message says why."""


@dataclass(frozen=True, slots=True)
class Policy:
    allow_private: bool  # BYLINE_WEBHOOK_ALLOW_PRIVATE_TARGETS: also allows plain http


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address the host name resolves to (numeric forms resolve to themselves)."""
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT
        )
    except (OSError, TimeoutError, UnicodeError) as exc:
        # UnicodeError: a name the IDNA codec refuses (check_url keeps those out).
        raise UnsafeTarget(f"the host {host!r} does not resolve") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def forbidden_reason(address: Address) -> str | None:
    """Why an address is not a public one, or None if it is.

    An IPv6 address that carries an IPv4 one (mapped, 6to4, Teredo, NAT64) reaches that
    IPv4 address: it is refused if the IPv4 address would be.
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return forbidden_reason(address.ipv4_mapped)
        if address in NAT64_LOCAL:
            return "private"
        for inner in embedded_ipv4(address):
            if (reason := forbidden_reason(inner)) is not None:
                return reason
    checks = (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("unspecified", address.is_unspecified),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("not globally routable", not address.is_global),
    )
    return next((name for name, hit in checks if hit), None)


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses a 6to4, Teredo (server and client) or NAT64 address leads to."""
    if address.sixtofour is not None:
        return [address.sixtofour]
    if address.teredo is not None:
        return list(address.teredo)
    if address in NAT64:
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    return []


def check_addresses(host: str, addresses: Iterable[str], policy: Policy) -> list[str]:
    """The addresses, if every one may be reached; a single bad one refuses them all."""
    found = list(addresses)
    if not found:
        raise UnsafeTarget(f"the host {host!r} does not resolve")
    if policy.allow_private:
        return found
    for text in found:
        reason = forbidden_reason(ipaddress.ip_address(text.split("%", 1)[0]))
        if reason is not None:
            raise UnsafeTarget(f"the host {host!r} resolves to a {reason} address ({text})")
    return found


def check_url(url: str, policy: Policy) -> httpx.URL:
    """The URL's own shape: scheme, host, port, no credentials. Raises UnsafeTarget."""
    try:
        parsed = httpx.URL(url)
        host = parsed.host  # decodes xn-- labels: IDNA raises a ValueError for a malformed one
    except (httpx.InvalidURL, ValueError) as exc:
        raise UnsafeTarget(f"not a valid URL ({exc})") from None
    allowed = ("https", "http") if policy.allow_private else ("https",)
    if parsed.scheme not in allowed:
        raise UnsafeTarget(f"the scheme must be {' or '.join(allowed)}")
    if not host:
        raise UnsafeTarget("the URL has no host")
    check_host(host_of(parsed))
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        raise UnsafeTarget(f"the port must be between 1 and 65535, not {parsed.port}")
    if parsed.userinfo:
        raise UnsafeTarget("the URL must not carry a user name or password")
    if parsed.fragment:
        raise UnsafeTarget("the URL must not have a #fragment")
    return parsed


def host_of(parsed: httpx.URL) -> str:
    """The host as it is resolved and connected to: an IP address, or the ASCII (xn--) name."""
    return parsed.raw_host.decode("ascii", errors="replace")


def check_host(host: str) -> None:
    """An IP address, or a name a resolver can take; anything else raises UnsafeTarget."""
    try:
        ipaddress.ip_address(host)
        return
    except ValueError:
        pass
    name = host.removesuffix(".")  # a fully qualified name may end with a dot
    if len(name) > MAX_HOST_NAME or not all(LABEL.fullmatch(part) for part in name.split(".")):
        raise UnsafeTarget(f"the host {host!r} is not a valid host name")


async def check_target(url: str, policy: Policy, resolve: Resolver = system_resolver) -> str:
    """Check a subscription's URL now (shape, then every resolved address); the URL back."""
    parsed = check_url(url, policy)
    if not policy.allow_private:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        host = host_of(parsed)
        check_addresses(host, await resolve(host, port), policy)
    return str(parsed)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks, then connects to the checked address itself (never re-resolving)."""

    def __init__(self, policy: Policy, resolve: Resolver = system_resolver) -> None:
        self.policy = policy
        self.resolve = resolve
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = check_addresses(host, await self.resolve(host, port), self.policy)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address,
                    socket_options=socket_options,
                )  # fmt: skip
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise UnsafeTarget("webhooks are never sent to a unix socket")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport (pooling, TLS, errors) over a GuardedBackend; never a proxy."""

    def __init__(self, policy: Policy, limits: httpx.Limits, resolve: Resolver = system_resolver):
        super().__init__(limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(policy, resolve),
        )


def guarded_client(
    policy: Policy, *, connections: int, timeout: float, resolve: Resolver = system_resolver
) -> httpx.AsyncClient:
    """The worker's HTTP client: pinned, checked connections; no redirects; no env proxies."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(
        transport=GuardedTransport(policy, limits, resolve),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
    )
