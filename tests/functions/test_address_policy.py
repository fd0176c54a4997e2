"""NET-2, NET-4, NET-5 on the policy functions alone: no socket is opened here."""

from __future__ import annotations

import ipaddress

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from floodway.functions.address_policy import (
    AddressPolicy,
    OutboundRefused,
    embedded_ipv4,
    is_numeric_spelling,
    parse_url,
    shown_url,
)

DEFAULT = AddressPolicy()

# (address, allowed under the default policy). Every NET-4 range at its edges, public neighbours,
# and each IPv6 wrapping of a refused and of a public IPv4 address.
ADDRESS_TABLE: list[tuple[str, bool]] = [
    ("0.0.0.0", False),
    ("0.255.255.255", False),
    ("10.0.0.0", False),
    ("10.0.0.5", False),
    ("10.255.255.255", False),
    ("11.0.0.1", True),
    ("100.64.0.1", False),
    ("100.127.255.255", False),
    ("100.128.0.1", True),
    ("127.0.0.1", False),
    ("127.255.255.254", False),
    ("169.254.169.254", False),
    ("169.254.0.1", False),
    ("172.16.0.1", False),
    ("172.31.255.255", False),
    ("172.32.0.1", True),
    ("172.15.255.255", True),
    ("192.0.0.9", False),
    ("192.0.0.170", False),
    ("192.0.2.1", False),
    ("192.88.99.1", False),
    ("192.168.1.1", False),
    ("198.18.0.1", False),
    ("198.19.255.255", False),
    ("198.51.100.7", False),
    ("203.0.113.9", False),
    ("224.0.0.1", False),
    ("239.255.255.250", False),
    ("240.0.0.1", False),
    ("255.255.255.255", False),
    ("8.8.8.8", True),
    ("1.1.1.1", True),
    ("93.184.216.34", True),
    # IPv6 table
    ("::", False),
    ("::1", False),
    ("100::1", False),
    ("2001::1", False),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),  # Teredo
    ("2001:db8::1", False),
    ("fc00::1", False),
    ("fd12:3456::1", False),
    ("fe80::1", False),
    ("fe80::1%eth0", False),
    ("fec0::1", False),
    ("ff02::1", False),
    ("2606:4700:4700::1111", True),
    ("2001:4860:4860::8888", True),
    # IPv4-mapped
    ("::ffff:127.0.0.1", False),
    ("::ffff:10.0.0.1", False),
    ("::ffff:169.254.169.254", False),
    ("::ffff:8.8.8.8", True),
    # SIIT-translated
    ("::ffff:0:7f00:1", False),
    ("::ffff:0:808:808", True),
    # IPv4-compatible
    ("::127.0.0.1", False),
    ("::10.0.0.1", False),
    ("::8.8.8.8", True),
    # NAT64 well-known prefix; CPython calls some of these global (CVE-2024-4032)
    ("64:ff9b::10.0.0.1", False),
    ("64:ff9b::127.0.0.1", False),
    ("64:ff9b::169.254.169.254", False),
    ("64:ff9b::8.8.8.8", True),
    # NAT64 local-use prefix
    ("64:ff9b:1::10.0.0.1", False),
    ("64:ff9b:1::8.8.8.8", True),
    ("64:ff9b:1:a00:1::", False),  # another layout: refused outright
    # 6to4
    ("2002:a00:1::1", False),
    ("2002:7f00:1::", False),
    ("2002:a9fe:a9fe::1", False),
    ("2002:808:808::1", True),
]


@pytest.mark.parametrize(("address", "allowed"), ADDRESS_TABLE)
def test_net4_address_table(address: str, allowed: bool) -> None:
    assert DEFAULT.is_address_allowed(address, 443) is allowed
    assert DEFAULT.is_address_allowed(address, 80, "example.com") is allowed


def test_net4_table_is_large_enough() -> None:
    assert len(ADDRESS_TABLE) + len(URL_TABLE) >= 60


def test_net4_garbage_address_is_refused() -> None:
    assert DEFAULT.is_address_allowed("not-an-ip", 80) is False
    assert DEFAULT.is_address_allowed(ipaddress.ip_address("8.8.8.8"), 80) is True


def _decision(url: str, policy: AddressPolicy = DEFAULT) -> str:
    try:
        policy.check_url(parse_url(url), url)
    except OutboundRefused as exc:
        return exc.message
    return "ok"


UNSUPPORTED = "invokeurl: unsupported URL '{}'"
REFUSED = "invokeurl: destination {} is not allowed"

# (url, expected outcome of check_url under the default policy)
URL_TABLE: list[tuple[str, str]] = [
    ("https://example.com/x", "ok"),
    ("http://example.com:8080/x?q=1", "ok"),
    ("https://8.8.8.8/", "ok"),
    ("https://[2606:4700:4700::1111]/", "ok"),
    ("http://xn--bcher-kva.de/", "ok"),
    ("http://bücher.de/", "ok"),
    ("HTTPS://EXAMPLE.COM/", "ok"),
    ("file:///etc/passwd", UNSUPPORTED.format("file:///etc/passwd")),
    ("gopher://127.0.0.1:70/_x", UNSUPPORTED.format("gopher://127.0.0.1:70/_x")),
    ("ftp://example.com/a", UNSUPPORTED.format("ftp://example.com/a")),
    ("data:text/plain,hi", UNSUPPORTED.format("data:text/plain,hi")),
    ("javascript:alert(1)", UNSUPPORTED.format("javascript:alert(1)")),
    ("dict://127.0.0.1:11211/", UNSUPPORTED.format("dict://127.0.0.1:11211/")),
    ("http:///path", UNSUPPORTED.format("http:///path")),
    ("//example.com/x", UNSUPPORTED.format("//example.com/x")),
    ("example.com", UNSUPPORTED.format("example.com")),
    ("", UNSUPPORTED.format("")),
    ("https://user:secret@example.com/", UNSUPPORTED.format("https://***@example.com/")),
    ("http://user@127.0.0.1/", UNSUPPORTED.format("http://***@127.0.0.1/")),
    ("http://@example.com/", "ok"),  # an empty user-info is no user-info
    ("http://127.0.0.1/", REFUSED.format("127.0.0.1")),
    ("http://10.0.0.5/", REFUSED.format("10.0.0.5")),
    ("http://169.254.169.254/latest/meta-data/", REFUSED.format("169.254.169.254")),
    ("http://[::1]/", REFUSED.format("::1")),
    ("http://[::]/", REFUSED.format("::")),
    ("http://[::ffff:127.0.0.1]/", REFUSED.format("::ffff:127.0.0.1")),
    ("http://[::ffff:7f00:1]/", REFUSED.format("::ffff:7f00:1")),
    ("http://[64:ff9b::a00:1]/", REFUSED.format("64:ff9b::a00:1")),
    ("http://[2002:a9fe:a9fe::]/", REFUSED.format("2002:a9fe:a9fe::")),
    ("http://[fe80::1%25eth0]/", REFUSED.format("fe80::1%eth0")),
    ("http://2130706433/", REFUSED.format("2130706433")),
    ("http://0x7f000001/", REFUSED.format("0x7f000001")),
    ("http://0x7f.1/", REFUSED.format("0x7f.1")),
    ("http://127.1/", REFUSED.format("127.1")),
    ("http://127.0.1/", REFUSED.format("127.0.1")),
    ("http://127.0.0.1./", REFUSED.format("127.0.0.1.")),
    ("http://8.8.8.8./", REFUSED.format("8.8.8.8.")),
    ("http://0/", REFUSED.format("0")),
    ("http://134744072/", REFUSED.format("134744072")),  # 8.8.8.8 spelled as a number
    ("http://example.0x10/", REFUSED.format("example.0x10")),
]


@pytest.mark.parametrize(("url", "expected"), URL_TABLE)
def test_net2_url_table(url: str, expected: str) -> None:
    assert _decision(url) == expected


@pytest.mark.parametrize("url", ["http://0177.0.0.1/", "http://0x7f.0.0.1/", "http://1.2.3.04/"])
def test_net2_octal_and_hex_quads_are_refused(url: str) -> None:
    assert _decision(url) != "ok"


def test_net2_check_url_without_text_uses_the_url() -> None:
    with pytest.raises(OutboundRefused, match=r"unsupported URL 'ftp://a.example/'"):
        DEFAULT.check_url(httpx.URL("ftp://a.example/"))


def test_net2_numeric_spelling_helper() -> None:
    assert is_numeric_spelling("2130706433")
    assert is_numeric_spelling("0x7f.1")
    assert is_numeric_spelling("127.1")
    assert not is_numeric_spelling("127.0.0.1")
    assert not is_numeric_spelling("example.com")
    assert not is_numeric_spelling("1.example")
    assert not is_numeric_spelling("::1")


def test_net2_shown_url_masks_user_info_and_caps_length() -> None:
    assert shown_url("https://u:p@h/x") == "https://***@h/x"
    assert shown_url("http://h/" + "a" * 500).endswith("...")
    assert len(shown_url("http://h/" + "a" * 500)) == 203


def test_net4_embedded_ipv4() -> None:
    v6 = ipaddress.IPv6Address
    assert embedded_ipv4(v6("::ffff:1.2.3.4")) == ipaddress.IPv4Address("1.2.3.4")
    assert embedded_ipv4(v6("64:ff9b::1.2.3.4")) == ipaddress.IPv4Address("1.2.3.4")
    assert embedded_ipv4(v6("2002:102:304::")) == ipaddress.IPv4Address("1.2.3.4")
    assert embedded_ipv4(v6("2606:4700::1")) is None


# -- NET-5 allow-list ---------------------------------------------------------------------------


def test_net5_allow_ip_with_port() -> None:
    policy = AddressPolicy(["127.0.0.1:8080"])
    assert policy.is_address_allowed("127.0.0.1", 8080)
    assert not policy.is_address_allowed("127.0.0.1", 8081)
    assert not policy.is_address_allowed("127.0.0.2", 8080)
    assert _decision("http://127.0.0.1:8080/x", policy) == "ok"
    assert _decision("http://127.0.0.1:8081/x", policy) == REFUSED.format("127.0.0.1")
    # the same address in its mapped form is the same destination
    assert policy.is_address_allowed("::ffff:127.0.0.1", 8080)


def test_net5_allow_cidr() -> None:
    policy = AddressPolicy(["10.1.0.0/16", "fd00::/8"])
    assert policy.is_address_allowed("10.1.2.3", 1)
    assert not policy.is_address_allowed("10.2.0.1", 1)
    assert policy.is_address_allowed("fd00::5", 443)
    assert policy.is_address_allowed("64:ff9b::10.1.0.9", 443)
    assert not policy.is_address_allowed("fe80::1", 443)


def test_net5_allow_host_names() -> None:
    policy = AddressPolicy(["internal.test", "api.internal.test:8443"])
    assert policy.is_address_allowed("10.0.0.5", 80, "internal.test")
    assert policy.is_address_allowed("10.0.0.5", 80, "INTERNAL.test.")
    assert not policy.is_address_allowed("10.0.0.5", 80, "other.test")
    assert not policy.is_address_allowed("10.0.0.5", 80, None)
    assert policy.is_address_allowed("10.0.0.6", 8443, "api.internal.test")
    assert not policy.is_address_allowed("10.0.0.6", 443, "api.internal.test")
    # a name entry never covers a literal address URL
    assert _decision("http://10.0.0.5/", policy) == REFUSED.format("10.0.0.5")


def test_net5_allow_ipv6_forms() -> None:
    policy = AddressPolicy(["[::1]:9000", "::2"])
    assert policy.is_address_allowed("::1", 9000)
    assert not policy.is_address_allowed("::1", 9001)
    assert policy.is_address_allowed("::2", 1)
    assert _decision("http://[::1]:9000/", policy) == "ok"


def test_net5_from_setting() -> None:
    policy = AddressPolicy.from_setting(" 127.0.0.1:81 , ,10.0.0.0/8,svc.test ")
    assert len(policy.allow) == 3
    assert policy.is_address_allowed("127.0.0.1", 81)
    assert AddressPolicy.from_setting(None).allow == ()
    assert AddressPolicy.from_setting("").allow == ()


@pytest.mark.parametrize(
    "entry", ["host:0", "host:99999", "host:abc", "[::1]x", "2130706433", "bad host", "10.0.0.0/33"]
)
def test_net5_invalid_entries_are_configuration_errors(entry: str) -> None:
    with pytest.raises(ValueError):
        AddressPolicy([entry])


# -- property: an IPv4 address gets the same decision inside every IPv6 wrapping ---------------


def _wrappings(v4: ipaddress.IPv4Address) -> list[ipaddress.IPv6Address]:
    n = int(v4)
    return [
        ipaddress.IPv6Address((0xFFFF << 32) | n),  # mapped
        ipaddress.IPv6Address((0xFFFF << 48) | n),  # SIIT
        ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | n),
        ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b:1::")) | n),
        ipaddress.IPv6Address((0x2002 << 112) | (n << 80) | 1),
    ]


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_net4_wrappings_agree_with_ipv4(n: int) -> None:
    v4 = ipaddress.IPv4Address(n)
    expected = DEFAULT.is_address_allowed(v4, 443)
    for wrapped in _wrappings(v4):
        assert DEFAULT.is_address_allowed(wrapped, 443) is expected, wrapped
    # IPv4-compatible (::a.b.c.d) except the two addresses the table names itself
    if n > 1:
        assert DEFAULT.is_address_allowed(ipaddress.IPv6Address(n), 443) is expected


@given(st.sampled_from(["10.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "192.168.0.0/16"]))
def test_net4_private_ranges_are_refused_in_every_wrapping(cidr: str) -> None:
    net = ipaddress.IPv4Network(cidr)
    for v4 in (net.network_address, net.broadcast_address, net.network_address + 1):
        assert not DEFAULT.is_address_allowed(v4, 80)
        for wrapped in _wrappings(v4):
            assert not DEFAULT.is_address_allowed(wrapped, 80)
