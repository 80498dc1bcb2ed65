"""A network namespace joined to this host by two veth links, so a test can cut one of them.

A worker started inside the namespace reaches the broker over one link and PostgreSQL over the
other; `cut("broker")` takes the host end of the broker link down (packets vanish, TCP connections
hang rather than close: a real partition, not a refused connection), `heal("broker")` brings it
back. Needs root and `ip netns`; `netns_unavailable()` says why not when it cannot run.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass

__all__ = ["Link", "NetworkNamespace", "netns_unavailable"]


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20, check=check)


def netns_unavailable() -> str | None:
    """Why network namespaces cannot be used here, or None when they can."""
    if os.getuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2 (`ip`) is not installed"
    probe = f"ftprobe{secrets.token_hex(3)}"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"cannot create a network namespace: {made.stderr.strip()}"
    _ip("netns", "del", probe, check=False)
    return None


@dataclass(frozen=True)
class Link:
    host_if: str
    ns_if: str
    host_ip: str
    ns_ip: str


class NetworkNamespace:
    def __init__(self) -> None:
        tag = secrets.token_hex(3)
        self.name = f"ftcut{tag}"
        used = _ip("-4", "-o", "addr").stdout
        for _ in range(50):
            octet = secrets.randbelow(250) + 2
            subnets = [ipaddress.ip_network(f"10.{231 + i}.{octet}.0/30") for i in range(2)]
            if not any(str(s.network_address)[:-1] in used for s in subnets):
                break
        self.links = {
            purpose: Link(
                host_if=f"ft{purpose[0]}{tag}h",
                ns_if=f"ft{purpose[0]}{tag}n",
                host_ip=str(subnet.network_address + 1),
                ns_ip=str(subnet.network_address + 2),
            )
            for purpose, subnet in zip(("broker", "database"), subnets, strict=True)
        }
        self._created = False

    def create(self) -> None:
        _ip("netns", "add", self.name)
        self._created = True
        _ip("-n", self.name, "link", "set", "lo", "up")
        for link in self.links.values():
            _ip("link", "add", link.host_if, "type", "veth", "peer", "name", link.ns_if)
            _ip("link", "set", link.ns_if, "netns", self.name)
            _ip("addr", "add", f"{link.host_ip}/30", "dev", link.host_if)
            _ip("link", "set", link.host_if, "up")
            _ip("-n", self.name, "addr", "add", f"{link.ns_ip}/30", "dev", link.ns_if)
            _ip("-n", self.name, "link", "set", link.ns_if, "up")

    def prefix(self) -> list[str]:
        """Prepend to a command to run it inside the namespace."""
        return ["ip", "netns", "exec", self.name]

    def cut(self, purpose: str) -> None:
        _ip("link", "set", self.links[purpose].host_if, "down")

    def heal(self, purpose: str) -> None:
        _ip("link", "set", self.links[purpose].host_if, "up")

    def destroy(self) -> None:
        if not self._created:
            return
        for link in self.links.values():
            _ip("link", "del", link.host_if, check=False)  # deleting one end deletes the pair
        _ip("netns", "del", self.name, check=False)
        self._created = False
