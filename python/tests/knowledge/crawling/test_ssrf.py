"""The SSRF guard: static refusal of every T1 vector, and connect-time checks (redirects, DNS rebinding)."""

from __future__ import annotations

import ipaddress

import pytest

from archon.knowledge.crawling.fetcher import Fetcher
from archon.knowledge.crawling.ssrf import BlockedURL, EgressPolicy, IPAddress, is_blocked_ip
from tests.knowledge.crawling.site import Response, Site

BLOCKED_URLS = [
    "http://127.0.0.1:8181/internal/credentials/agents", "http://localhost:8051/mcp", "http://[::1]/",
    "http://2130706433/", "http://0x7f000001/", "http://017700000001/", "http://127.1/", "http://0.0.0.0:8181/",
    "http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/", "http://100.100.100.200/",
    "http://metadata.google.internal/", "http://10.0.0.1/", "http://192.168.1.1/", "http://172.16.5.4/",
    "http://host.docker.internal:54321/", "http://archon-mcp:8051/", "http://[::ffff:127.0.0.1]/",
    "http://[64:ff9b::7f00:1]/", "http://[2002:7f00:1::]/", "http://evil.example@127.0.0.1/",
    "http://127.0.0.1#@evil.example/", "http://127.0.0.1%2523@x/", "http://１２７.０.０.１/", "http://localhost./",  # noqa: RUF001
    "http://LOCALHOST/", "http://foo.localhost/", "http://[fe80::1%25eth0]/", "http://224.0.0.1/",
    "http://[::]/", "http://255.255.255.255/", "http://198.18.0.1/",
    "file:///etc/passwd", "raw:<html>x</html>", "view-source:http://example.com/", "data:text/html,hi",
    "ftp://example.com/", "gopher://example.com/", "chrome://settings", "javascript:alert(1)", "//example.com/x",
]


@pytest.mark.parametrize("url", BLOCKED_URLS)
def test_blocked_urls_are_refused_without_network(url: str) -> None:
    with pytest.raises(BlockedURL):
        EgressPolicy().check_url(url)


@pytest.mark.parametrize("url", ["https://docs.python.org/3/", "http://93.184.216.34/", "https://[2606:4700::1]/",
                                 "https://bücher.example/docs"])
def test_public_urls_pass_the_static_check(url: str) -> None:
    EgressPolicy().check_url(url)


def test_embedded_ipv4_in_ipv6_is_unwrapped() -> None:
    # Python calls these global; the v4 address inside is loopback.
    for text in ("64:ff9b::7f00:1", "2002:7f00:1::", "::ffff:7f00:1", "64:ff9b:1::7f00:1"):
        assert is_blocked_ip(ipaddress.ip_address(text)), text
    assert not is_blocked_ip(ipaddress.ip_address("2002:5db8:d822::"))  # 6to4 of a public address


def test_allowed_hosts_patterns() -> None:
    policy = EgressPolicy(["127.0.0.1:8000", "*.corp.example", "[::1]:9000"])
    policy.check_url("http://127.0.0.1:8000/docs")
    policy.check_url("http://wiki.corp.example/")
    policy.check_url("http://[::1]:9000/")
    with pytest.raises(BlockedURL):
        policy.check_url("http://127.0.0.1:8001/docs")  # another port of an allowed host stays blocked


async def test_hostname_resolving_to_loopback_is_refused_at_connect_time(canary: Site) -> None:
    async def resolver(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address("127.0.0.2")]

    policy = EgressPolicy(resolver=resolver)
    url = f"http://docs.attacker.example:{canary.port}/page"
    policy.check_url(url)  # the name itself looks harmless
    async with Fetcher(policy) as fetcher:
        with pytest.raises(BlockedURL, match=r"internal address 127\.0\.0\.2"):
            await fetcher.get(url)
    assert canary.hits == []


async def test_dns_rebinding_second_answer_is_checked(canary: Site) -> None:
    answers = iter(["93.184.216.34", "127.0.0.2"])

    async def rebinding(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address(next(answers))]  # public first (the pre-check), loopback at connect

    policy = EgressPolicy(resolver=rebinding)
    url = f"http://rebind.attacker.example:{canary.port}/secret"
    await policy.check_url_resolved(url)
    async with Fetcher(policy) as fetcher:
        with pytest.raises(BlockedURL):
            await fetcher.get(url)
    assert canary.hits == []


async def test_redirect_to_internal_address_is_not_followed(site: Site, canary: Site) -> None:
    site.set("/hop1", Response(b"", status=302, headers={"Location": "/hop2"}))
    site.set("/hop2", Response(b"", status=301, headers={"Location": canary.url("/canary")}))
    async with Fetcher(EgressPolicy([site.hostport])) as fetcher:
        with pytest.raises(BlockedURL):
            await fetcher.get(site.url("/hop1"))
    assert site.hits_for("/hop2") == 1
    assert canary.hits == []
