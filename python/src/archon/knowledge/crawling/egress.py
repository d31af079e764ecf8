"""An httpx client whose every TCP connection goes through the SSRF guard at connect time."""

from __future__ import annotations

import logging
import typing

import httpcore
import httpx
from httpcore._backends.auto import AutoBackend

from archon.knowledge.crawling.ssrf import EgressPolicy

log = logging.getLogger(__name__)

USER_AGENT = "ArchonCrawler/0.1 (+https://github.com/coleam00/Archon)"


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves the host itself, validates every answer, then dials the validated address.

    TLS still uses the URL's host name (httpcore passes it to start_tls separately), so
    certificates are verified against the name while the socket goes to the checked IP.
    """

    def __init__(self, policy: EgressPolicy) -> None:
        self.policy = policy
        self._inner = AutoBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: typing.Iterable[typing.Any] | None = None) -> httpcore.AsyncNetworkStream:
        addresses = await self.policy.resolve(host, port)
        last: Exception | None = None
        for ip in addresses:
            try:
                return await self._inner.connect_tcp(str(ip), port, timeout=timeout, local_address=local_address,
                                                     socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: typing.Iterable[typing.Any] | None = None
                                  ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not allowed for crawling")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with the guarded network backend and no environment proxies."""

    def __init__(self, policy: EgressPolicy, *, max_connections: int = 20) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=30.0,
            network_backend=GuardedBackend(policy),
        )


def guarded_client(policy: EgressPolicy, *, timeout: float = 30.0, max_connections: int = 20) -> httpx.AsyncClient:
    """A client for crawling: guarded connections, redirects left to the caller (each hop is re-checked)."""
    return httpx.AsyncClient(
        transport=GuardedTransport(policy, max_connections=max_connections),
        follow_redirects=False,
        timeout=httpx.Timeout(timeout, connect=10.0),
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate",
                 "Accept": "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.5"},
        trust_env=False,
    )
