"""Server-side request forgery: addresses are checked after resolution, and connections pinned to them."""

from __future__ import annotations

import ipaddress

import pytest

from app.webhooks.ssrf import (
    Policy,
    UnsafeTarget,
    check_target,
    forbidden_reason,
    guarded_client,
)

STRICT = Policy(allow_private=False)
LAX = Policy(allow_private=True)


class Resolver:
    """A DNS that answers from a table (and records who asked), like a rebinding attacker's."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.answers:
            raise UnsafeTarget(f"the host {host!r} does not resolve")
        return self.answers[host]


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("93.184.216.34", None),
        ("2606:2800:220:1:248:1893:25c8:1946", None),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("fd12::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("::ffff:10.0.0.1", "private"),
        ("224.0.0.1", "multicast"),
        ("100.64.1.1", "not globally routable"),
        ("192.0.2.1", "private"),  # documentation range
    ],
)
def test_forbidden_reason(address, reason):
    assert forbidden_reason(ipaddress.ip_address(address)) == reason


class TestCheckTarget:
    async def test_a_public_host_passes(self):
        resolve = Resolver({"hooks.example.com": ["93.184.216.34"]})
        url = await check_target("https://hooks.example.com/in", STRICT, resolve)
        assert url == "https://hooks.example.com/in"
        assert resolve.asked == ["hooks.example.com"]

    async def test_one_private_answer_refuses_the_host(self):
        resolve = Resolver({"mixed.example.com": ["93.184.216.34", "10.0.0.5"]})
        with pytest.raises(UnsafeTarget, match="private address"):
            await check_target("https://mixed.example.com/in", STRICT, resolve)

    async def test_allowing_private_targets_allows_http_and_loopback(self):
        assert await check_target("http://127.0.0.1:8080/in", LAX) == "http://127.0.0.1:8080/in"
        with pytest.raises(UnsafeTarget, match="scheme"):
            await check_target("http://93.184.216.34/in", STRICT)


class TestConnections:
    async def test_a_rebound_name_is_refused_when_connecting(self, receiver):
        """The name was public when subscribed; it points at this machine when delivering."""
        receiver.expect("rebind", "whsec_AAAA")
        url = f"https://rebind.example.com:{receiver.port}/hook/rebind"
        assert await check_target(url, STRICT, Resolver({"rebind.example.com": ["93.184.216.34"]}))
        rebound = Resolver({"rebind.example.com": ["127.0.0.1"]})
        async with guarded_client(STRICT, connections=2, timeout=2, resolve=rebound) as client:
            with pytest.raises(UnsafeTarget, match="loopback"):
                await client.post(url, content=b"{}")
        assert receiver.on("rebind") == []

    async def test_the_connection_goes_to_the_checked_address(self, receiver):
        """`receiver.test` exists only in our resolver: reaching it proves the address is pinned."""
        receiver.expect("pinned", "whsec_AAAA")
        resolve = Resolver({"receiver.test": ["127.0.0.1"]})
        async with guarded_client(LAX, connections=2, timeout=2, resolve=resolve) as client:
            response = await client.post(f"http://receiver.test:{receiver.port}/hook/pinned")
        assert response.status_code == 200
        [got] = receiver.on("pinned")
        assert got.headers["host"] == f"receiver.test:{receiver.port}"

    async def test_proxies_from_the_environment_are_ignored(self, receiver, monkeypatch):
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
        monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        receiver.expect("direct", "whsec_AAAA")
        async with guarded_client(LAX, connections=2, timeout=2) as client:
            response = await client.post(f"{receiver.base_url}/hook/direct")
        assert response.status_code == 200

    async def test_redirects_are_not_followed(self, receiver):
        receiver.expect("after-redirect", "whsec_AAAA")
        async with guarded_client(LAX, connections=2, timeout=2) as client:
            response = await client.post(f"{receiver.base_url}/redirect/after-redirect")
        assert response.status_code == 307
        assert receiver.on("after-redirect") == []
