"""Separate "hosts" on this machine: network namespaces on a private bridge, created and removed here.

Every address lives inside this sandbox (10.231.0.0/24 on bridge archon-br0): traffic only flows
between our namespaces and the host side of the bridge, where Postgres and the docs server listen.
"""

from __future__ import annotations

import subprocess

NET = "10.231.0"
BRIDGE = "archon-br0"
HOST_IP = f"{NET}.1"


def _ip(*args: str, check: bool = True) -> None:
    subprocess.run(["ip", *args], check=check, capture_output=True)


def ns_name(i: int) -> str:
    return f"archon-w{i}"


def ns_ip(i: int) -> str:
    return f"{NET}.{10 + i}"


def setup(count: int) -> None:
    """The bridge (host address HOST_IP) and `count` namespaces, each with its own address on it."""
    teardown(count)
    _ip("link", "add", BRIDGE, "type", "bridge")
    _ip("addr", "add", f"{HOST_IP}/24", "dev", BRIDGE)
    _ip("link", "set", BRIDGE, "up")
    for i in range(1, count + 1):
        ns, host_end, ns_end = ns_name(i), f"archon-v{i}", f"archon-v{i}p"
        _ip("netns", "add", ns)
        _ip("link", "add", host_end, "type", "veth", "peer", "name", ns_end)
        _ip("link", "set", ns_end, "netns", ns)
        _ip("link", "set", host_end, "master", BRIDGE)
        _ip("link", "set", host_end, "up")
        _ip("-n", ns, "addr", "add", f"{ns_ip(i)}/24", "dev", ns_end)
        _ip("-n", ns, "link", "set", ns_end, "up")
        _ip("-n", ns, "link", "set", "lo", "up")


def teardown(count: int) -> None:
    """Remove the namespaces (their veth pairs go with them) and the bridge; quiet when absent."""
    for i in range(1, count + 1):
        _ip("netns", "del", ns_name(i), check=False)
    _ip("link", "del", BRIDGE, check=False)


def exec_prefix(i: int) -> list[str]:
    """Command prefix that runs a program inside namespace `i` (`ip netns exec` execs it: same pid)."""
    return ["ip", "netns", "exec", ns_name(i)]
