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
    system_resolver,
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
        # IPv6 addresses that lead to an IPv4 one are judged by it
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("2002:a00:1::1", "private"),  # 6to4 of 10.0.0.1
        ("2002:a9fe:a9fe::", "link-local"),  # 6to4 of 169.254.169.254
        ("2001:0:5db8:d822::80ff:fffe", "loopback"),  # Teredo, client 127.0.0.1
        ("2001:0:7f00:1::a2ff:fffe", "loopback"),  # Teredo, server 127.0.0.1
        ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
        ("64:ff9b::c0a8:101", "private"),  # NAT64 of 192.168.1.1
        ("64:ff9b:1::5db8:d822", "private"),  # NAT64 for local use (RFC 8215)
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

    @pytest.mark.parametrize("address", ["2002:7f00:1::", "64:ff9b::a9fe:a9fe"])
    async def test_a_name_resolving_to_an_embedded_private_address_is_refused(self, address):
        resolve = Resolver({"tunnel.example.com": [address]})
        with pytest.raises(UnsafeTarget, match="(loopback|link-local) address"):
            await check_target("https://tunnel.example.com/in", STRICT, resolve)

    @pytest.mark.parametrize(
        ("url", "why"),
        [
            ("https://" + "a" * 64 + ".com/h", "not a valid host name"),  # label over 63
            ("https://aaa..com/h", "not a valid host name"),  # empty label
            ("https://.example/h", "not a valid host name"),
            ("https://-a.example/h", "not a valid host name"),
            ("https://a-.example/h", "not a valid host name"),
            ("https://exa$mple.com/h", "not a valid host name"),
            ("https://" + "a." * 127 + "com/h", "not a valid host name"),  # 257 characters
            ("https://xn--/h", "not a valid URL"),  # an A-label with nothing encoded
            ("https://xn--zz.example/h", "not a valid URL"),  # not Punycode
            ("https://1.1.1.1:99999/h", "port"),
            ("https://1.1.1.1:0/h", "port"),
            ("https://[::1]:65536/h", "port"),
        ],
    )
    @pytest.mark.parametrize("policy", [STRICT, LAX])
    async def test_malformed_hosts_and_ports_are_refused_in_both_modes(self, url, why, policy):
        resolve = Resolver({})  # never asked: the URL is refused by its shape
        with pytest.raises(UnsafeTarget, match=why):
            await check_target(url, policy, resolve)
        assert resolve.asked == []

    @pytest.mark.parametrize(
        ("url", "host"),
        [
            ("https://example.com./in", "example.com."),  # a fully qualified name
            ("https://" + "a" * 63 + ".example.com/in", "a" * 63 + ".example.com"),
            ("https://under_score.example.com/in", "under_score.example.com"),
            ("https://hooks.example.com:65535/in", "hooks.example.com"),
        ],
    )
    async def test_valid_hosts_and_ports_pass(self, url, host):
        resolve = Resolver({host: ["93.184.216.34"]})
        assert await check_target(url, STRICT, resolve) == url
        assert resolve.asked == [host]

    async def test_an_idn_host_is_resolved_by_its_ascii_name(self):
        resolve = Resolver({"xn--bcher-kva.example": ["93.184.216.34"]})
        assert await check_target("https://bücher.example/in", STRICT, resolve)
        assert resolve.asked == ["xn--bcher-kva.example"]

    async def test_the_system_resolver_refuses_what_idna_cannot_encode(self):
        with pytest.raises(UnsafeTarget, match="does not resolve"):
            await system_resolver("aaa..com", 443)

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

    async def test_a_name_rebound_to_6to4_loopback_is_refused_when_connecting(self, receiver):
        receiver.expect("sixtofour", "whsec_AAAA")
        url = f"https://tunnel.example.com:{receiver.port}/hook/sixtofour"
        rebound = Resolver({"tunnel.example.com": ["2002:7f00:1::"]})
        async with guarded_client(STRICT, connections=2, timeout=2, resolve=rebound) as client:
            with pytest.raises(UnsafeTarget, match="loopback"):
                await client.post(url, content=b"{}")
        assert receiver.on("sixtofour") == []

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
