"""The SSRF guard: which URLs the crawler may fetch and which addresses it may connect to.

Two layers. `EgressPolicy.check_url` is a static check (scheme, credentials, literal addresses in
every spelling, internal names) run before anything is queued; `EgressPolicy.resolve` runs at
connect time inside the HTTP client's network backend, so the address that is validated is the
address that is dialled (no DNS-rebinding window between check and connect).
"""

from __future__ import annotations

import asyncio
import fnmatch
import ipaddress
import re
import socket
import unicodedata
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from archon.errors import Invalid

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = frozenset({"http", "https"})
# Names that reach this machine, a container host or a cloud metadata service whatever DNS says.
BLOCKED_NAMES = ("localhost", "*.localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback",
                 "metadata", "metadata.google.internal", "*.internal", "host.docker.internal",
                 "gateway.docker.internal", "instance-data", "instance-data.ec2.internal")
# Ranges Python's `is_global` does not exclude (or that we want to name explicitly).
EXTRA_BLOCKED_NETS = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15", "224.0.0.0/4",
    "240.0.0.0/4", "::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8", "fec0::/10",
))
NAT64_NETS = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}$", re.IGNORECASE)


class BlockedURL(Invalid):
    """A URL the crawler refuses to fetch; `message` says why (it is shown in job logs and 422s)."""

    error = "blocked_url"


@dataclass(frozen=True)
class Target:
    """A URL reduced to what the guard decides on."""

    scheme: str
    host: str  # lower-case ASCII, no brackets, no trailing dot
    port: int
    ip: IPAddress | None  # set when the host is an address literal (in any spelling)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address hidden in a mapped, 6to4, Teredo or NAT64 IPv6 address, if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if any(ip in net for net in NAT64_NETS):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_blocked_ip(ip: IPAddress) -> bool:
    """True for loopback, private, link-local, CGNAT, multicast, reserved and metadata addresses."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        if inner is not None and is_blocked_ip(inner):
            return True
        if ip.scope_id:
            return True
    if not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified or ip.is_loopback:
        return True
    return any(ip.version == net.version and ip in net for net in EXTRA_BLOCKED_NETS)


def parse_ip_literal(host: str) -> IPAddress | None:
    """An address from an IPv6 literal or any IPv4 spelling getaddrinfo accepts (127.1, 0x7f000001, 2130706433)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC_HOST.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def normalise_host(raw: str) -> str:
    """Lower-case ASCII host: NFKC (full-width digits), IDNA for Unicode names, no trailing dot."""
    host = unicodedata.normalize("NFKC", raw).strip().lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise BlockedURL(f"invalid host name {raw!r}") from exc
    return host


def parse_target(url: str) -> Target:
    """Split and validate the parts of `url` the guard needs; raise BlockedURL when it is unusable."""
    if any(ch in url for ch in "\x00\r\n\t") or "\\" in url.split("?", 1)[0]:
        raise BlockedURL("URL contains control characters or backslashes")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise BlockedURL(f"malformed URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise BlockedURL(f"scheme {scheme or '(none)'!r} is not allowed; only http and https")
    if "@" in parts.netloc:
        raise BlockedURL("credentials in URLs are not allowed")
    if not parts.hostname:
        raise BlockedURL("URL has no host")
    host = normalise_host(parts.hostname)
    if "%" in host:
        raise BlockedURL("percent-encoded or scoped hosts are not allowed")
    return Target(scheme=scheme, host=host, port=port or (443 if scheme == "https" else 80),
                  ip=parse_ip_literal(host))


Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """getaddrinfo through the event loop, de-duplicated, scope ids dropped."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if ip not in addresses:
            addresses.append(ip)
    return addresses


class EgressPolicy:
    """Decides what the crawler may fetch; `allowed_hosts` are `host` or `host:port` glob patterns."""

    def __init__(self, allowed_hosts: Iterable[str] = (), *, resolve_timeout: float = 5.0,
                 resolver: Resolver | None = None) -> None:
        self.allowed = [p.strip().lower() for p in allowed_hosts if p.strip()]
        self.resolve_timeout = resolve_timeout
        self.resolver = resolver or system_resolver

    def is_allowed_host(self, host: str, port: int) -> bool:
        """True when `host[:port]` matches an ARCHON_CRAWL_ALLOWED_HOSTS pattern."""
        shown = f"[{host}]" if ":" in host else host
        for pattern in self.allowed:
            # `[` opens a character class in fnmatch; IPv6 literals need it taken literally.
            literal = pattern.replace("[", "[[]") if pattern.startswith("[") else pattern
            if fnmatch.fnmatchcase(host, pattern.strip("[]")) or fnmatch.fnmatchcase(f"{shown}:{port}", literal) \
                    or fnmatch.fnmatchcase(f"{host}:{port}", literal):
                return True
        return False

    def check_url(self, url: str) -> Target:
        """Static check, no network I/O: raise BlockedURL for anything that must never be fetched."""
        target = parse_target(url)
        if self.is_allowed_host(target.host, target.port):
            return target
        if target.ip is not None:
            if is_blocked_ip(target.ip):
                raise BlockedURL(f"address {target.ip} is internal (loopback, private, link-local or reserved)")
            return target
        if any(fnmatch.fnmatchcase(target.host, name) for name in BLOCKED_NAMES):
            raise BlockedURL(f"host {target.host!r} is an internal name")
        if "." not in target.host:
            raise BlockedURL(f"host {target.host!r} is a single-label (internal) name")
        return target

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Resolve `host` and validate every answer; the caller must connect to one of the returned addresses."""
        host = normalise_host(host)
        literal = parse_ip_literal(host)
        allowed = self.is_allowed_host(host, port)
        if literal is not None:
            addresses: list[IPAddress] = [literal]
        else:
            try:
                addresses = await asyncio.wait_for(self.resolver(host, port), self.resolve_timeout)
            except (OSError, TimeoutError) as exc:
                raise BlockedURL(f"cannot resolve host {host!r}") from exc
        if not addresses:
            raise BlockedURL(f"host {host!r} has no addresses")
        if allowed:
            return addresses
        for ip in addresses:
            # One internal answer is enough to refuse: a name that mixes public and internal
            # answers is how rebinding attacks pick the internal one.
            if is_blocked_ip(ip) and not self.is_allowed_host(str(ip), port):
                raise BlockedURL(f"host {host!r} resolves to internal address {ip}")
        return addresses

    async def check_url_resolved(self, url: str) -> Target:
        """Static check plus DNS validation (used for a seed URL, to refuse it at once)."""
        target = self.check_url(url)
        await self.resolve(target.host, target.port)
        return target
