"""The crawler's address policy: every spelling of an internal address is refused."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_network

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cordon.domain.netpolicy import (
    DENIED_IPV4,
    DENIED_IPV6,
    NEVER_OPEN,
    Decision,
    InvalidAddress,
    check_address,
    check_addresses,
    embedded_ipv4,
    is_allowed_port,
    parse_allow_list,
    parse_host_address,
    parse_ipv4_number_form,
)

WORLD = (ip_network("127.1.0.0/16"), ip_network("fd00:cafe::/64"))

# (host as a URL or a resolver may give it, allowed under the default policy, words in reason)
TABLE: list[tuple[str, bool, str]] = [
    # loopback in every IPv4 spelling
    ("127.0.0.1", False, "loopback"),
    ("127.255.255.254", False, "loopback (127.0.0.0/8)"),
    ("2130706433", False, "loopback"),
    ("0x7f000001", False, "loopback"),
    ("017700000001", False, "loopback"),
    ("0177.0.0.1", False, "loopback"),
    ("0x7f.1", False, "loopback"),
    ("127.1", False, "loopback"),
    ("127.0.1", False, "loopback"),
    ("0x7F.0.0.0x1", False, "loopback"),
    ("0177.0x0.0.1", False, "loopback"),
    ("127.0.0.1.", False, "loopback"),
    ("0x7f.0x00.0x00.0x01", False, "loopback"),
    # the unspecified address and 'this network'
    ("0.0.0.0", False, "which no allow-list opens"),
    ("0", False, "'this network'"),
    ("0x0", False, "'this network'"),
    ("::", False, "unspecified"),
    ("[::]", False, "unspecified"),
    # private, CGNAT, link-local, metadata
    ("10.0.0.1", False, "private"),
    ("012.0.0.1", False, "private"),
    ("167772161", False, "private"),
    ("172.16.0.1", False, "private"),
    ("172.31.255.255", False, "private"),
    ("192.168.1.1", False, "private"),
    ("0xc0.0xa8.1.1", False, "private"),
    ("100.64.0.1", False, "carrier-grade NAT"),
    ("100.127.255.254", False, "carrier-grade NAT"),
    ("169.254.1.1", False, "link-local"),
    ("169.254.169.254", False, "cloud metadata"),
    ("2852039166", False, "cloud metadata"),
    ("0xa9.0xfe.0xa9.0xfe", False, "cloud metadata"),
    ("169.254.43518", False, "cloud metadata"),
    ("100.100.100.200", False, "cloud metadata"),
    ("168.63.129.16", False, "Azure"),
    ("fd00:ec2::254", False, "cloud metadata"),
    ("[fd00:ec2::254]", False, "cloud metadata"),
    # special-purpose IPv4
    ("192.0.0.1", False, "IETF protocol assignments"),
    ("192.0.2.10", False, "documentation"),
    ("198.51.100.7", False, "documentation"),
    ("203.0.113.200", False, "documentation"),
    ("198.18.0.1", False, "benchmarking"),
    ("198.19.255.255", False, "benchmarking"),
    ("192.88.99.1", False, "6to4 relay"),
    ("224.0.0.1", False, "multicast"),
    ("239.255.255.250", False, "multicast"),
    ("240.0.0.1", False, "reserved"),
    ("255.255.255.255", False, "broadcast"),
    ("4294967295", False, "broadcast"),
    # IPv6 special ranges
    ("::1", False, "loopback"),
    ("[::1]", False, "loopback"),
    ("0:0:0:0:0:0:0:1", False, "loopback"),
    ("fe80::1", False, "link-local"),
    ("fe80::1%eth0", False, "link-local"),
    ("[fe80::1%25eth0]", False, "link-local"),
    ("fc00::1", False, "unique local"),
    ("fd12:3456::1", False, "unique local"),
    ("fec0::1", False, "site-local"),
    ("ff02::1", False, "multicast"),
    ("2001:db8::1", False, "documentation"),
    ("3fff::1", False, "documentation"),
    ("2001:2::1", False, "benchmarking"),
    ("100::1", False, "discard-only"),
    ("4000::1", False, "outside global unicast"),
    ("64:ff9b:1::a00:1", False, "local-use NAT64"),
    # IPv4 inside IPv6
    ("::ffff:127.0.0.1", False, "IPv4-mapped form of 127.0.0.1"),
    ("[::ffff:7f00:1]", False, "IPv4-mapped form of 127.0.0.1"),
    ("::FFFF:169.254.169.254", False, "cloud metadata"),
    ("::ffff:10.0.0.1", False, "private"),
    ("::ffff:0:127.0.0.1", False, "IPv4-translated form of 127.0.0.1"),
    ("::127.0.0.1", False, "IPv4-compatible form of 127.0.0.1"),
    ("::8.8.8.8", False, "reserved form"),
    ("64:ff9b::7f00:1", False, "NAT64 form of 127.0.0.1"),
    ("64:ff9b::169.254.169.254", False, "NAT64 form of 169.254.169.254"),
    ("64:ff9b::c0a8:101", False, "NAT64 form of 192.168.1.1"),
    ("2002:7f00:1::1", False, "6to4 form of 127.0.0.1"),
    ("2002:a9fe:a9fe::", False, "6to4 form of 169.254.169.254"),
    ("2002:c0a8:101::1", False, "6to4 form of 192.168.1.1"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False, "Teredo"),
    ("2001:0:7f00:1:0:0:0:0", False, "Teredo address whose server 127.0.0.1"),
    # public addresses, in any spelling
    ("8.8.8.8", True, "public"),
    ("134744072", True, "public"),
    ("0x8.0x8.0x8.0x8", True, "public"),
    ("1.1.1.1", True, "public"),
    ("100.63.255.255", True, "public"),
    ("100.128.0.0", True, "public"),
    ("172.32.0.1", True, "public"),
    ("198.17.255.255", True, "public"),
    ("198.20.0.0", True, "public"),
    ("::ffff:8.8.8.8", True, "IPv4-mapped form of 8.8.8.8"),
    ("64:ff9b::808:808", True, "NAT64 form of 8.8.8.8"),
    ("2002:808:808::1", True, "6to4 form of 8.8.8.8"),
    ("2606:4700:4700::1111", True, "public"),
    ("[2a00:1450:4001::200e]", True, "public"),
]


@pytest.mark.parametrize(("host", "allowed", "words"), TABLE)
def test_default_policy_decides_each_address_and_trick(
    host: str, allowed: bool, words: str
) -> None:
    decision = check_address(host)
    assert decision.allowed is allowed, decision.reason
    assert words in decision.reason


def test_the_table_is_large_enough() -> None:
    assert len(TABLE) >= 40
    assert sum(1 for _, allowed, _ in TABLE if not allowed) >= 40


@pytest.mark.parametrize(
    ("host", "allowed", "words"),
    [
        ("127.1.0.1", True, "opened by the allow-list entry 127.1.0.0/16"),
        ("0x7f.0x1.0.1", True, "opened by the allow-list entry"),
        ("::ffff:127.1.0.1", True, "IPv4-mapped form of 127.1.0.1, opened"),
        ("fd00:cafe::10", True, "opened by the allow-list entry fd00:cafe::/64"),
        # what the allow-list does not cover stays closed
        ("127.2.0.1", False, "loopback"),
        ("fd00:cafe:1::10", False, "unique local"),
        ("10.0.0.1", False, "private"),
        # a translated form of an opened IPv4 range goes through a translator: still closed
        ("64:ff9b::7f01:1", False, "NAT64 form of 127.1.0.1"),
        ("2002:7f01:1::1", False, "6to4 form of 127.1.0.1"),
        # Cordon's own loopback never opens
        ("127.0.0.1", False, "which no allow-list opens"),
        ("127.0.255.255", False, "which no allow-list opens"),
        ("::ffff:127.0.0.1", False, "which no allow-list opens"),
        ("::1", False, "which no allow-list opens"),
        ("169.254.169.254", False, "which no allow-list opens"),
    ],
)
def test_only_an_allow_list_opens_a_range(host: str, allowed: bool, words: str) -> None:
    decision = check_address(host, WORLD)
    assert decision.allowed is allowed, decision.reason
    assert words in decision.reason


def test_nothing_opens_cordons_loopback_metadata_or_the_unspecified_address() -> None:
    everything = (ip_network("0.0.0.0/0"), ip_network("::/0"))
    for network, _ in NEVER_OPEN:
        for address in (network.network_address, network.broadcast_address):
            decision = check_address(address, everything)
            assert not decision.allowed, decision.reason
            assert "which no allow-list opens" in decision.reason
    assert check_address("::ffff:127.0.3.4", everything).allowed is False
    assert check_address("127.1.0.1", everything).allowed is True


def test_a_name_is_not_an_address() -> None:
    assert parse_host_address("example.test") is None
    assert parse_host_address("xn--bcher-kva.example") is None
    with pytest.raises(InvalidAddress, match="is a name, not an address"):
        check_address("example.test")


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("1.2.3.4.5", "more than four parts"),
        ("256.0.0.1", "above 255"),
        ("1.2.3.256", "out of the IPv4 range"),
        ("4294967296", "out of the IPv4 range"),
        ("08.0.0.1", "is not a number"),
        ("0x7g.1", "is not a number"),
        ("1..2", "is not a number"),
        ("example.123", "is not a number"),
        ("[::zz]", "not a valid IPv6 address"),
        ("1:2:3", "not a valid IPv6 address"),
    ],
)
def test_malformed_addresses_are_refused_naming_the_problem(host: str, message: str) -> None:
    with pytest.raises(InvalidAddress) as caught:
        parse_host_address(host)
    assert message in str(caught.value)


def test_ipv4_number_forms_follow_inet_aton() -> None:
    assert parse_ipv4_number_form("1") == IPv4Address("0.0.0.1")
    assert parse_ipv4_number_form("1.2") == IPv4Address("1.0.0.2")
    assert parse_ipv4_number_form("1.2.3") == IPv4Address("1.2.0.3")
    assert parse_ipv4_number_form("0x") == IPv4Address("0.0.0.0")
    assert parse_ipv4_number_form("1.0x10000") == IPv4Address("1.1.0.0")
    assert parse_ipv4_number_form("00") == IPv4Address("0.0.0.0")
    assert parse_ipv4_number_form("example.test") is None
    assert parse_ipv4_number_form("") is None
    assert parse_ipv4_number_form("1.2.3.x") is None


def test_embedded_ipv4_names_each_form() -> None:
    assert embedded_ipv4(IPv6Address("::ffff:1.2.3.4")) == (IPv4Address("1.2.3.4"), "IPv4-mapped")
    assert embedded_ipv4(IPv6Address("64:ff9b::1.2.3.4")) == (IPv4Address("1.2.3.4"), "NAT64")
    assert embedded_ipv4(IPv6Address("2002:102:304::")) == (IPv4Address("1.2.3.4"), "6to4")
    assert embedded_ipv4(IPv6Address("::1.2.3.4")) == (IPv4Address("1.2.3.4"), "IPv4-compatible")
    assert embedded_ipv4(IPv6Address("2606:4700::1")) is None


def test_every_resolved_address_must_be_allowed() -> None:
    # A resolver answering a public address first and loopback second gets nothing.
    decision = check_addresses([IPv4Address("8.8.8.8"), IPv4Address("127.0.0.1")])
    assert decision == Decision(False, decision.reason)
    assert "127.0.0.1" in decision.reason
    assert check_addresses(["8.8.8.8", "2606:4700::1"]).allowed
    assert check_addresses([]) == Decision(False, "the name resolved to no address")


def test_allow_list_entries_are_parsed_with_clear_errors() -> None:
    assert parse_allow_list(["127.1.0.0/16", " fd00:cafe::/64 "]) == WORLD
    with pytest.raises(InvalidAddress, match=r"'127\.1\.0\.1/16' is not a network"):
        parse_allow_list(["127.1.0.1/16"])
    with pytest.raises(InvalidAddress, match="'nonsense' is not a network"):
        parse_allow_list(["nonsense"])
    with pytest.raises(InvalidAddress, match=r"overlaps 127\.0\.0\.0/16"):
        parse_allow_list(["127.0.0.0/8"])
    with pytest.raises(InvalidAddress, match=r"overlaps 169\.254\.169\.254/32"):
        parse_allow_list(["169.254.0.0/16"])


@pytest.mark.parametrize(
    ("port", "extra", "allowed"),
    [
        (80, (), True),
        (443, (), True),
        (8080, (), False),
        (8080, (8080,), True),
        (22, (8080,), False),
        (0, (0,), False),
        (65536, (65536,), False),
        (-1, (), False),
    ],
)
def test_ports_are_80_443_and_the_configured_ones(
    port: int, extra: tuple[int, ...], allowed: bool
) -> None:
    assert is_allowed_port(port, extra) is allowed


# --------------------------------------------------------------------------- properties


def _spellings(address: IPv4Address) -> list[str]:
    """Every way a URL host or a resolver answer can write one IPv4 address."""
    value = int(address)
    o = address.packed
    hi, lo = value >> 16, value & 0xFFFF
    return [
        str(address),
        f"{address}.",
        str(value),
        hex(value),
        hex(value).upper().replace("X", "x"),
        "0" + oct(value)[2:],
        ".".join(f"0{b:o}" for b in o),
        ".".join(hex(b) for b in o),
        f"{o[0]}.{int.from_bytes(o[1:], 'big')}",
        f"{hex(o[0])}.{o[1]}.{int.from_bytes(o[2:], 'big')}",
        f"0{o[0]:o}.{hex(o[1])}.{o[2]}.{o[3]}",
        f"::ffff:{address}",
        f"[::ffff:{hi:x}:{lo:x}]",
        f"::FFFF:{hi:X}:{lo:X}",
        f"0:0:0:0:0:ffff:{address}",
        f"::ffff:0:{address}",
        f"::{address}",
        f"64:ff9b::{address}",
        f"[64:ff9b::{hi:x}:{lo:x}]",
        f"2002:{hi:x}:{lo:x}::1",
        f"2002:{hi:x}:{lo:x}:ffff::",
    ]


def _denied_ipv4() -> st.SearchStrategy[IPv4Address]:
    def within(network: IPv4Network) -> st.SearchStrategy[IPv4Address]:
        first = int(network.network_address)
        return st.integers(first, first + network.num_addresses - 1).map(IPv4Address)

    networks = [network for network, _ in DENIED_IPV4] + [
        network for network, _ in NEVER_OPEN if isinstance(network, IPv4Network)
    ]
    return st.sampled_from(networks).flatmap(within)


@settings(max_examples=400)
@given(_denied_ipv4())
def test_any_ipv4_in_a_denied_network_is_denied_in_every_encoding(address: IPv4Address) -> None:
    for spelling in _spellings(address):
        parsed = parse_host_address(spelling)
        assert parsed is not None, spelling
        decision = check_address(spelling)
        assert not decision.allowed, (spelling, decision.reason)
        if not (spelling.startswith("::0.0.0.") and int(address) <= 1):  # that is :: or ::1
            assert str(address) in decision.reason, (spelling, decision.reason)


def _is_default_denied(address: IPv4Address) -> bool:
    return any(address in network for network, _ in DENIED_IPV4) or any(
        isinstance(network, IPv4Network) and address in network for network, _ in NEVER_OPEN
    )


@settings(max_examples=300)
@given(st.ip_addresses(v=4).filter(lambda a: not _is_default_denied(IPv4Address(a))))
def test_a_public_ipv4_is_allowed_plain_mapped_nat64_and_6to4(address: IPv4Address) -> None:
    address = IPv4Address(address)
    hi, lo = int(address) >> 16, int(address) & 0xFFFF
    for spelling in [
        str(address),
        str(int(address)),
        f"::ffff:{address}",
        f"64:ff9b::{address}",
        f"2002:{hi:x}:{lo:x}::1",
    ]:
        assert check_address(spelling).allowed, spelling
    for reserved in (f"::{address}", f"::ffff:0:{address}"):
        assert not check_address(reserved).allowed


@settings(max_examples=300)
@given(st.integers(0, 2**32 - 1), st.booleans())
def test_cordons_loopback_stays_closed_whatever_the_allow_list(low: int, mapped: bool) -> None:
    address = IPv4Address((127 << 24) | (low & 0xFFFF))  # inside 127.0.0.0/16
    host = f"::ffff:{address}" if mapped else str(int(address))
    for allow in (
        (ip_network("127.0.0.0/8"),),
        (ip_network("0.0.0.0/0"), ip_network("::/0")),
        (ip_network("::ffff:0:0/96"),),
    ):
        assert not check_address(host, allow).allowed


@settings(max_examples=300)
@given(st.ip_addresses(v=6))
def test_ipv6_is_allowed_only_in_global_unicast_outside_the_denied_ranges(
    address: IPv6Address,
) -> None:
    decision = check_address(address)
    if decision.allowed:
        assert address in IPv6Network("2000::/3") or embedded_ipv4(address) is not None
        assert not any(address in network for network, _ in DENIED_IPV6)
    assert decision == check_address(f"[{address.exploded.upper()}]")
