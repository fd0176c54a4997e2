"""Project-wide test fixtures: the network rule of security.md §3.1.

Tests talk only to loopback. For every test, ``socket.getaddrinfo`` is replaced by a resolver that
knows ``localhost``, IP literals and names a test registers (loopback addresses only), and any
``connect`` to a non-loopback address is refused and fails the test at teardown, even when the code
under test swallowed the error.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest

_real_getaddrinfo = socket.getaddrinfo
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


class NetworkRule:
    """The fake resolver's names and the violations seen during one test."""

    def __init__(self) -> None:
        self.names: dict[str, list[str]] = {"localhost": ["127.0.0.1", "::1"]}
        self.violations: list[str] = []
        self.lookups: list[str] = []

    def register(self, name: str, *ips: str) -> None:
        """Make ``name`` resolve to the given loopback addresses (default 127.0.0.1)."""
        addresses = list(ips) or ["127.0.0.1"]
        for ip in addresses:
            if not _is_loopback(ip):
                raise ValueError(f"network rule: {name} may only resolve to loopback, not {ip}")
        self.names[name.lower().rstrip(".")] = addresses

    def getaddrinfo(
        self,
        host: Any,
        port: Any,
        family: int = 0,
        type: int = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> list[Any]:
        if host is None:
            return _real_getaddrinfo(host, port, family, type, proto, flags)
        name = host.decode() if isinstance(host, bytes) else str(host)
        self.lookups.append(name)
        # Numeric forms are parsed locally (AI_NUMERICHOST), exactly as the system resolver
        # would read them (2130706433 -> 127.0.0.1), so policy tests see the real danger.
        targets = self.names.get(name.lower().rstrip("."), [name])
        results: list[Any] = []
        for target in targets:
            try:
                results += _real_getaddrinfo(
                    target, port, family, type, proto, flags | socket.AI_NUMERICHOST
                )
            except socket.gaierror:
                continue
        if not results:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return results

    def check(self, sock: socket.socket, address: Any) -> None:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return
        host = address[0] if isinstance(address, tuple) else address
        host = host.decode() if isinstance(host, bytes) else str(host)
        # A name here would be resolved by the C library, bypassing the fake resolver, so only
        # "localhost" is accepted by name.
        if host.lower().rstrip(".") == "localhost" or _is_loopback(host):
            return
        message = f"network rule: connect to non-loopback address {host!r}"
        self.violations.append(message)
        raise OSError(101, message)  # ENETUNREACH: nothing leaves the machine


def _is_loopback(host: str) -> bool:
    try:
        addr = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_loopback


@pytest.fixture(autouse=True)
def network_rule(monkeypatch: pytest.MonkeyPatch) -> Iterator[NetworkRule]:
    rule = NetworkRule()

    def connect(self: socket.socket, address: Any) -> None:
        rule.check(self, address)
        return _real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        rule.check(self, address)
        return _real_connect_ex(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", rule.getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    yield rule
    if rule.violations:
        pytest.fail("; ".join(rule.violations), pytrace=False)
