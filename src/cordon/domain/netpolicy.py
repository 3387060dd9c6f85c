"""The crawler's address safety policy: which addresses and ports a fetch may connect to.

A reported URL is attacker-controlled. Its host can name an internal address in many
spellings (``2130706433``, ``0x7f.1``, ``[::ffff:127.0.0.1]``, ``[64:ff9b::7f00:1]``) and its
name can resolve to one. The fetcher therefore parses every host with
:func:`parse_host_address`, checks every resolved address with :func:`check_address` and
connects only to an address that was allowed. Everything here is pure: no resolution, no
sockets.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Final

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network


class InvalidAddress(ValueError):
    """A host looks like an IP address but is not a valid one."""


# --------------------------------------------------------------------------- parsing

_HEX_DIGITS: Final = frozenset("0123456789abcdefABCDEF")


def _ipv4_part(part: str) -> int | None:
    """One dotted part as inet_aton and the WHATWG URL parser read it: 0x hex, 0 octal, decimal.

    Returns None when the part is not a number in any of those radices.
    """
    if part[:2] in ("0x", "0X"):
        digits = part[2:]
        if digits == "":
            return 0  # "0x" alone is zero in both inet_aton and WHATWG
        if not all(c in _HEX_DIGITS for c in digits):
            return None
        return int(digits, 16)
    if not part.isascii() or not part.isdigit():
        return None
    if len(part) > 1 and part[0] == "0":
        if any(c in "89" for c in part):
            return None
        return int(part, 8)
    return int(part, 10)


def _ends_in_a_number(host: str) -> bool:
    """WHATWG 'ends in a number': the last label is all digits or a 0x-hex number."""
    parts = host.split(".")
    if parts[-1] == "":
        if len(parts) == 1:
            return False
        parts.pop()
    last = parts[-1]
    if last != "" and last.isascii() and last.isdigit():
        return True
    return last[:2] in ("0x", "0X") and all(c in _HEX_DIGITS for c in last[2:])


def parse_ipv4_number_form(host: str) -> IPv4Address | None:
    """Read ``host`` as an IPv4 address in any form a URL host or ``inet_aton`` accepts.

    Accepts dotted decimal, 1 to 4 parts (``127.1`` is 127.0.0.1, ``2130706433`` is one
    32-bit number), octal parts (``0177``), hex parts (``0x7f``), mixes of those and one
    trailing dot. Returns None when the host does not end in a number, i.e. it is a name.
    Raises :class:`InvalidAddress` when it ends in a number but is no valid IPv4 address
    (``1.2.3.4.5``, ``256.1.1.1``, ``example.123``): browsers refuse such hosts, and so do we.
    """
    if host == "" or not _ends_in_a_number(host):
        return None
    parts = host.split(".")
    if parts[-1] == "":
        parts.pop()
    if len(parts) > 4:
        raise InvalidAddress(f"host {host!r} ends in a number but has more than four parts")
    numbers: list[int] = []
    for part in parts:
        value = _ipv4_part(part) if part != "" else None
        if value is None:
            raise InvalidAddress(
                f"host {host!r} ends in a number but part {part!r} is not a number"
            )
        numbers.append(value)
    *leading, last = numbers
    if any(n > 255 for n in leading):
        raise InvalidAddress(f"host {host!r} has an IPv4 part above 255")
    if last >= 256 ** (5 - len(numbers)):
        raise InvalidAddress(f"host {host!r} is out of the IPv4 range")
    value = last
    for index, n in enumerate(leading):
        value += n << (8 * (3 - index))
    return IPv4Address(value)


_ZONE_ID: Final = re.compile(r"%(?:25)?[A-Za-z0-9._~-]+$")


def parse_ipv6_literal(text: str) -> IPv6Address:
    """Parse an IPv6 literal with or without brackets, dropping any zone id.

    Zone ids (``fe80::1%eth0``, or ``%25eth0`` as RFC 6874 writes them in URLs) only pick an
    interface; the address is what the policy judges. Raises :class:`InvalidAddress`.
    """
    inner = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    inner = _ZONE_ID.sub("", inner)
    try:
        return IPv6Address(inner)
    except ValueError:
        raise InvalidAddress(f"{text!r} is not a valid IPv6 address") from None


def parse_host_address(host: str) -> IPAddress | None:
    """Read a URL host or a resolver answer as an IP address, in every encoding it may take.

    Returns the address, or None when ``host`` is a name to be resolved. IPv6 may be given
    with or without brackets and with a zone id; IPv4 in any form of
    :func:`parse_ipv4_number_form`. Raises :class:`InvalidAddress` for a host that is neither
    a name nor a valid address (``[::zz]``, ``1.2.3.4.5``).
    """
    text = host.strip()
    if text.startswith("[") or ":" in text:
        return parse_ipv6_literal(text)
    return parse_ipv4_number_form(text)


# --------------------------------------------------------------------------- the policy


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a fetch may connect to an address, and why, in words fit for a capture record."""

    allowed: bool
    reason: str


def _v4(text: str) -> IPv4Network:
    return IPv4Network(text)


def _v6(text: str) -> IPv6Network:
    return IPv6Network(text)


# Ranges no allow-list can open. Cordon, its database and its world's control ports listen on
# 127.0.0.0/16 and ::1; 0.0.0.0/8 and :: reach the local host on Linux; metadata services hand
# out cloud credentials.
NEVER_OPEN: Final[tuple[tuple[IPNetwork, str], ...]] = (
    (_v4("127.0.0.0/16"), "loopback where Cordon and its database listen"),
    (_v4("0.0.0.0/8"), "'this network', which reaches the local host"),
    (_v6("::1/128"), "IPv6 loopback where Cordon may listen"),
    (_v6("::/128"), "the unspecified address, which reaches the local host"),
    (_v4("169.254.169.254/32"), "cloud metadata service (AWS, GCP, Azure, OpenStack)"),
    (_v4("169.254.169.253/32"), "cloud DNS service (AWS)"),
    (_v4("169.254.170.2/32"), "container credentials service (AWS ECS)"),
    (_v4("100.100.100.200/32"), "cloud metadata service (Alibaba)"),
    (_v4("192.0.0.192/32"), "cloud metadata service (Oracle)"),
    (_v4("168.63.129.16/32"), "cloud host service (Azure WireServer)"),
    (_v6("fd00:ec2::254/128"), "cloud metadata service (AWS, IPv6)"),
    (_v6("fd00:ec2::253/128"), "cloud DNS service (AWS, IPv6)"),
    (_v6("fd00:ec2::23/128"), "cloud time service (AWS, IPv6)"),
)
"""Addresses denied even when an allow-list entry covers them, with the reason."""

DENIED_IPV4: Final[tuple[tuple[IPv4Network, str], ...]] = (
    (_v4("255.255.255.255/32"), "limited broadcast"),
    (_v4("0.0.0.0/8"), "'this network' (RFC 791)"),
    (_v4("10.0.0.0/8"), "private (RFC 1918)"),
    (_v4("100.64.0.0/10"), "carrier-grade NAT (RFC 6598)"),
    (_v4("127.0.0.0/8"), "loopback"),
    (_v4("169.254.0.0/16"), "link-local"),
    (_v4("172.16.0.0/12"), "private (RFC 1918)"),
    (_v4("192.0.0.0/24"), "IETF protocol assignments (RFC 6890)"),
    (_v4("192.0.2.0/24"), "documentation TEST-NET-1 (RFC 5737)"),
    (_v4("192.88.99.0/24"), "deprecated 6to4 relay anycast (RFC 7526)"),
    (_v4("192.168.0.0/16"), "private (RFC 1918)"),
    (_v4("198.18.0.0/15"), "benchmarking (RFC 2544)"),
    (_v4("198.51.100.0/24"), "documentation TEST-NET-2 (RFC 5737)"),
    (_v4("203.0.113.0/24"), "documentation TEST-NET-3 (RFC 5737)"),
    (_v4("224.0.0.0/4"), "multicast"),
    (_v4("240.0.0.0/4"), "reserved (RFC 1112)"),
)
"""Every IPv4 range the crawler refuses by default; all other IPv4 is public."""

_MAPPED: Final = _v6("::ffff:0:0/96")
_TRANSLATED: Final = _v6("::ffff:0:0:0/96")  # SIIT, RFC 2765
_COMPATIBLE: Final = _v6("::/96")
_NAT64: Final = _v6("64:ff9b::/96")
_SIXTOFOUR: Final = _v6("2002::/16")
_TEREDO: Final = _v6("2001::/32")
_GLOBAL_UNICAST: Final = _v6("2000::/3")

DENIED_IPV6: Final[tuple[tuple[IPv6Network, str], ...]] = (
    (_v6("::1/128"), "loopback"),
    (_v6("::/128"), "unspecified"),
    (_v6("64:ff9b:1::/48"), "local-use NAT64 (RFC 8215)"),
    (_v6("100::/64"), "discard-only (RFC 6666)"),
    (_v6("2001:2::/48"), "benchmarking (RFC 5180)"),
    (_v6("2001:10::/28"), "deprecated ORCHID (RFC 4843)"),
    (_v6("2001:20::/28"), "ORCHIDv2 (RFC 7343)"),
    (_v6("2001:db8::/32"), "documentation (RFC 3849)"),
    (_v6("3fff::/20"), "documentation (RFC 9637)"),
    (_v6("5f00::/16"), "segment routing SIDs (RFC 9602)"),
    (_v6("fc00::/7"), "unique local, private (RFC 4193)"),
    (_v6("fe80::/10"), "link-local"),
    (_v6("fec0::/10"), "deprecated site-local"),
    (_v6("ff00::/8"), "multicast"),
)
"""IPv6 ranges refused by default; beyond these, only global unicast (2000::/3) is allowed."""


def embedded_ipv4(address: IPv6Address) -> tuple[IPv4Address, str] | None:
    """The IPv4 address an IPv6 address carries, with the name of the form, or None.

    Forms: IPv4-mapped ``::ffff:a.b.c.d``, IPv4-translated ``::ffff:0:a.b.c.d``,
    IPv4-compatible ``::a.b.c.d``, NAT64 ``64:ff9b::a.b.c.d``, 6to4 ``2002:AABB:CCDD::``.
    Teredo carries two and is handled by :func:`check_address` itself.
    """
    low = IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _MAPPED:
        return low, "IPv4-mapped"
    if address in _TRANSLATED:
        return low, "IPv4-translated"
    if address in _NAT64:
        return low, "NAT64"
    if address in _COMPATIBLE and int(address) > 1:
        return low, "IPv4-compatible"
    if address in _SIXTOFOUR:
        return IPv4Address((int(address) >> 80) & 0xFFFFFFFF), "6to4"
    return None


def _in(address: IPAddress, networks: Iterable[tuple[IPNetwork, str]]) -> str | None:
    for network, reason in networks:
        if address.version == network.version and address in network:
            return f"{reason} ({network})"
    return None


def _allowed_by(address: IPAddress, allow: Sequence[IPNetwork]) -> IPNetwork | None:
    for network in allow:
        if address.version == network.version and address in network:
            found: IPNetwork = network
            return found
    return None


def _overlaps(first: IPNetwork, second: IPNetwork) -> bool:
    if isinstance(first, IPv4Network) and isinstance(second, IPv4Network):
        return first.overlaps(second)
    if isinstance(first, IPv6Network) and isinstance(second, IPv6Network):
        return first.overlaps(second)
    return False


def _judge_ipv4(address: IPv4Address, allow: Sequence[IPNetwork]) -> tuple[bool, str]:
    """(allowed, what the address is), the description without the address itself."""
    never = _in(address, NEVER_OPEN)
    if never is not None:
        return False, f"{never}, which no allow-list opens"
    opened = _allowed_by(address, allow)
    if opened is not None:
        return True, f"opened by the allow-list entry {opened}"
    denied = _in(address, DENIED_IPV4)
    if denied is not None:
        return False, denied
    return True, "a public address"


def _coerce(address: IPAddress | str) -> IPAddress:
    if isinstance(address, IPv4Address | IPv6Address):
        parsed: IPAddress = address
    else:
        found = parse_host_address(address)
        if found is None:
            raise InvalidAddress(f"{address!r} is a name, not an address; resolve it first")
        parsed = found
    if isinstance(parsed, IPv6Address) and parsed.scope_id is not None:
        parsed = IPv6Address(int(parsed))  # the zone picks an interface, not the address
    return parsed


def check_address(address: IPAddress | str, allow: Sequence[IPNetwork] = ()) -> Decision:
    """Decide whether the crawler may connect to ``address``.

    ``address`` is an address object or any text :func:`parse_host_address` reads (so every
    spelling of an address is judged as that address; a name raises :class:`InvalidAddress`).
    Denied: loopback, private, link-local, carrier-grade NAT, multicast, reserved,
    unspecified, broadcast, documentation, benchmarking and metadata addresses, and IPv6
    outside global unicast; an IPv6 address that carries an IPv4 address (mapped, translated,
    compatible, NAT64, 6to4, Teredo) is denied when the IPv4 address is. ``allow`` opens
    ranges that are denied by default, except :data:`NEVER_OPEN`; for an IPv4-mapped address
    (the same socket destination as its IPv4 address) the entry may name the IPv4 range.
    """
    parsed = _coerce(address)
    if isinstance(parsed, IPv4Address):
        allowed, what = _judge_ipv4(parsed, allow)
        return Decision(allowed, f"{parsed} is {what}")

    never = _in(parsed, NEVER_OPEN)
    if never is not None:
        return Decision(False, f"{parsed} is {never}, which no allow-list opens")
    carried = embedded_ipv4(parsed)
    opened = _allowed_by(parsed, allow)
    if opened is not None:
        if carried is not None and _in(carried[0], NEVER_OPEN) is not None:
            _, what = _judge_ipv4(carried[0], ())
            return Decision(False, f"{parsed} is the {carried[1]} form of {carried[0]}, {what}")
        return Decision(True, f"{parsed} is opened by the allow-list entry {opened}")

    if carried is not None:
        ipv4, form = carried
        # Only a mapped address is the same socket destination as its IPv4 address; the other
        # forms go through a translator or tunnel, so an IPv4 allow-list entry does not cover them.
        allowed, what = _judge_ipv4(ipv4, allow if form == "IPv4-mapped" else ())
        if not allowed:
            return Decision(False, f"{parsed} is the {form} form of {ipv4}, {what}")
        if form in ("IPv4-compatible", "IPv4-translated"):
            return Decision(False, f"{parsed} is an {form} address, a reserved form")
        return Decision(True, f"{parsed} is the {form} form of {ipv4}, {what}")
    if parsed in _TEREDO and parsed.teredo is not None:
        server, client = parsed.teredo
        for role, ipv4 in (("server", server), ("client", client)):
            allowed, what = _judge_ipv4(ipv4, ())
            if not allowed:
                return Decision(
                    False, f"{parsed} is a Teredo address whose {role} {ipv4} is {what}"
                )

    denied = _in(parsed, DENIED_IPV6)
    if denied is not None:
        return Decision(False, f"{parsed} is {denied}")
    if parsed not in _GLOBAL_UNICAST:
        return Decision(False, f"{parsed} is reserved (outside global unicast 2000::/3)")
    return Decision(True, f"{parsed} is a public address")


def check_addresses(
    addresses: Iterable[IPAddress | str], allow: Sequence[IPNetwork] = ()
) -> Decision:
    """Judge every address a name resolved to: allowed only when all of them are.

    A resolver that answers a public address first and a private one second must not get the
    fetch anywhere, so one denied address denies the name. No addresses at all is denied.
    """
    reasons: list[str] = []
    for address in addresses:
        decision = check_address(address, allow)
        if not decision.allowed:
            return decision
        reasons.append(decision.reason)
    if not reasons:
        return Decision(False, "the name resolved to no address")
    return Decision(True, "; ".join(reasons))


def parse_allow_list(entries: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Read allow-list entries (``"127.1.0.0/16"``, ``"fd00:1::/64"``) from configuration.

    Raises :class:`InvalidAddress` naming the entry for text that is no network, has host bits
    set, or overlaps a range in :data:`NEVER_OPEN` (which it could not open anyway).
    """
    networks: list[IPNetwork] = []
    for entry in entries:
        try:
            network = ipaddress.ip_network(entry.strip(), strict=True)
        except ValueError as exc:
            raise InvalidAddress(f"allow-list entry {entry!r} is not a network: {exc}") from None
        for protected, reason in NEVER_OPEN:
            if _overlaps(network, protected):
                raise InvalidAddress(
                    f"allow-list entry {entry!r} overlaps {protected} ({reason}), "
                    "which no allow-list opens"
                )
        networks.append(network)
    return tuple(networks)


DEFAULT_PORTS: Final = frozenset({80, 443})


def is_allowed_port(port: int, extra_ports: Iterable[int] = ()) -> bool:
    """True for 80, 443 and the configured ``extra_ports``; never for a port outside 1-65535."""
    if not 1 <= port <= 65535:
        return False
    return port in DEFAULT_PORTS or port in set(extra_ports)
