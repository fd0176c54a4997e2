"""Which destinations outbound requests may reach (security.md NET-2, NET-4, NET-5).

The policy is pure: it judges parsed URLs and IP addresses and never opens a socket or resolves a
name. ``outbound.py`` calls ``check_url`` before every hop and ``is_address_allowed`` for every
address a name resolves to, inside the connect step.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# NET-4's table. CPython's is_global/is_private flags changed between releases (CVE-2024-4032),
# so this explicit list decides; is_global is only an extra requirement on top of it.
_BLOCKED_V4: tuple[ipaddress.IPv4Network, ...] = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
    )
)
_BLOCKED_V6: tuple[ipaddress.IPv6Network, ...] = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "::/128",
        "::1/128",
        "100::/64",
        "2001::/32",
        "2001:db8::/32",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
)

# IPv6 forms that carry an IPv4 address; they are judged by that address, because a translator
# or the kernel may deliver them to it (::ffff:127.0.0.1 is loopback on a dual-stack socket).
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")  # SIIT, RFC 2765
_COMPATIBLE = ipaddress.IPv6Network("::/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
_LOW32 = 0xFFFFFFFF

# A host whose last label is numeric is an IPv4 spelling for the system resolver (inet_aton reads
# 2130706433, 0x7f.1, 0177.0.0.1 and 127.1 as 127.0.0.1), so only canonical dotted quads pass.
_NUMERIC_LABEL = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)", re.IGNORECASE)
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_CANONICAL_V4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
_HOST_NAME = re.compile(r"[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?")
_URL_SHOWN_CHARS = 200


class OutboundError(Exception):
    """An outbound request failed; ``message`` is the Deluge runtime error text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class OutboundRefused(OutboundError):
    """The destination or URL is refused by the address policy (nothing was sent)."""


def shown_url(text: str) -> str:
    """A URL as it may appear in an error message: user-info masked, length capped."""
    m = re.match(r"([a-zA-Z][a-zA-Z0-9+.-]*://)([^/?#@]*@)", text)
    if m:
        text = m.group(1) + "***@" + text[m.end() :]
    if len(text) > _URL_SHOWN_CHARS:
        text = text[:_URL_SHOWN_CHARS] + "..."
    return text


def unsupported(text: str) -> OutboundRefused:
    return OutboundRefused(f"invokeurl: unsupported URL '{shown_url(text)}'")


def not_allowed(destination: str) -> OutboundRefused:
    return OutboundRefused(f"invokeurl: destination {destination} is not allowed")


def parse_url(text: str) -> httpx.URL:
    """Parse a URL once (NET-2); unparseable text is an unsupported URL."""
    try:
        return httpx.URL(text)
    except (httpx.InvalidURL, ValueError, TypeError, UnicodeError) as exc:
        raise unsupported(text) from exc


def url_host(url: httpx.URL) -> str:
    """The host as sent on the wire (IDNA-encoded, lower case, IPv6 without brackets)."""
    return url.raw_host.decode("ascii").lower()


def url_port(url: httpx.URL) -> int:
    if url.port is not None:
        return url.port
    return 443 if url.scheme == "https" else 80


def ip_literal(host: str) -> IPAddress | None:
    """The address a host names literally, or None for a name."""
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.replace("%25", "%"))
        except ValueError:
            return None
    if _CANONICAL_V4.fullmatch(host):
        return ipaddress.IPv4Address(host)
    return None


def is_numeric_spelling(host: str) -> bool:
    """True for hosts the system resolver would read as a non-canonical IPv4 number."""
    if ":" in host:
        return False
    # "127.0.0.1." (trailing dot) is a number to inet_aton too, and is not canonical.
    last = host.rstrip(".").rsplit(".", 1)[-1]
    return bool(_NUMERIC_LABEL.fullmatch(last)) and not _CANONICAL_V4.fullmatch(host)


_REFUSE_EMBEDDED = ipaddress.IPv4Address("0.0.0.0")  # noqa: S104  (a refused stand-in, never bound)


def embedded_ipv4(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 wrapper carries (NET-4), or None for plain IPv6."""
    value = int(addr)
    if addr in _MAPPED or addr in _TRANSLATED or addr in _COMPATIBLE or addr in _NAT64:
        return ipaddress.IPv4Address(value & _LOW32)
    if addr in _NAT64_LOCAL:
        # Only the /96 layout (64:ff9b:1::a.b.c.d) is judged by its last 32 bits; other layouts
        # of the local-use prefix place the IPv4 address elsewhere, so they are refused outright.
        if (value >> 32) & ((1 << 48) - 1):
            return _REFUSE_EMBEDDED
        return ipaddress.IPv4Address(value & _LOW32)
    if addr in _SIX_TO_FOUR:
        return ipaddress.IPv4Address((value >> 80) & _LOW32)
    return None


def is_public_address(addr: IPAddress) -> bool:
    """NET-4 without the allow-list: the table refuses, then the address must be global."""
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.scope_id:
            return False
        inner = embedded_ipv4(addr)
        if inner is not None:
            return is_public_address(inner)
        if any(addr in net for net in _BLOCKED_V6):
            return False
        return addr.is_global
    if any(addr in net for net in _BLOCKED_V4):
        return False
    return addr.is_global


@dataclass(frozen=True, slots=True)
class AllowEntry:
    """One FLOODWAY_INVOKEURL_ALLOW entry: a network, or a host name; optionally a port."""

    network: IPNetwork | None = None
    name: str | None = None
    port: int | None = None

    def matches(self, addr: IPAddress, port: int, host: str | None) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.network is not None:
            if addr.version == self.network.version and addr in self.network:
                return True
            if isinstance(addr, ipaddress.IPv6Address):
                inner = embedded_ipv4(addr)
                return (
                    inner is not None
                    and inner.version == self.network.version
                    and (inner in self.network)
                )
            return False
        return host is not None and _normal_name(host) == self.name


def _normal_name(host: str) -> str:
    return host.lower().rstrip(".")


def _parse_port(text: str, entry: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"invalid port in allow-list entry {entry!r}")
    return int(text)


def parse_allow_entry(entry: str) -> AllowEntry:
    """Parse ``host``, ``host:port``, ``1.2.3.4[:port]``, ``[::1][:port]`` or a CIDR."""
    text = entry.strip()
    if "/" in text:
        return AllowEntry(network=ipaddress.ip_network(text, strict=False))
    if text.startswith("["):
        inside, _, rest = text[1:].partition("]")
        port = None
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"invalid allow-list entry {entry!r}")
            port = _parse_port(rest[1:], entry)
        return AllowEntry(network=ipaddress.ip_network(inside), port=port)
    if text.count(":") > 1:
        return AllowEntry(network=ipaddress.ip_network(text))
    host, _, port_text = text.partition(":")
    port = _parse_port(port_text, entry) if port_text else None
    host = _normal_name(host)
    if _CANONICAL_V4.fullmatch(host):
        return AllowEntry(network=ipaddress.ip_network(host), port=port)
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError(f"invalid host in allow-list entry {entry!r}") from exc
    if not _HOST_NAME.fullmatch(host) or is_numeric_spelling(host):
        raise ValueError(f"invalid host in allow-list entry {entry!r}")
    return AllowEntry(name=host, port=port)


class AddressPolicy:
    """NET-2/NET-4/NET-5: URL rules, the refused-address table and the operator's allow-list.

    The allow-list is operator configuration (``FLOODWAY_INVOKEURL_ALLOW``); nothing a script,
    console or API call does can change it.
    """

    def __init__(self, allow: Iterable[str] = ()) -> None:
        self.allow: tuple[AllowEntry, ...] = tuple(parse_allow_entry(e) for e in allow if e.strip())

    @classmethod
    def from_setting(cls, value: str | None) -> AddressPolicy:
        """Build from the comma-separated ``FLOODWAY_INVOKEURL_ALLOW`` value."""
        return cls((value or "").split(","))

    def is_address_allowed(self, ip: str | IPAddress, port: int, host: str | None = None) -> bool:
        """Whether connecting to ``ip``:``port`` (reached via name ``host``) is allowed."""
        if isinstance(ip, str):
            try:
                addr: IPAddress = ipaddress.ip_address(ip)
            except ValueError:
                return False
        else:
            addr = ip
        if any(entry.matches(addr, port, host) for entry in self.allow):
            return True
        return is_public_address(addr)

    def check_url(self, url: httpx.URL, text: str | None = None) -> None:
        """NET-2 for one hop; IP-literal hosts are also judged now (NET-4) before any socket.

        ``text`` is the URL as the script or the Location header wrote it, used in messages.
        """
        shown = text if text is not None else str(url)
        if url.scheme not in ("http", "https"):
            raise unsupported(shown)
        if url.userinfo:
            raise unsupported(shown)
        host = url_host(url)
        if not host:
            raise unsupported(shown)
        port = url_port(url)
        if is_numeric_spelling(host):
            raise not_allowed(host)
        if ":" in host:
            literal = ip_literal(host)
            if literal is None:
                raise unsupported(shown)
            if not self.is_address_allowed(literal, port, None):
                raise not_allowed(host.replace("%25", "%"))
        elif _CANONICAL_V4.fullmatch(host):
            if not self.is_address_allowed(host, port, None):
                raise not_allowed(host)
        elif not _HOST_NAME.fullmatch(host.rstrip(".")):
            raise unsupported(shown)
