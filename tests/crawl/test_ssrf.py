"""The fetcher never reaches an address the policy denies, however the URL, the resolver or a
redirect spells it: a canary listening on loopback counts every connection, and must count none.
"""

from __future__ import annotations

import anyio
import pytest

from cordon.crawl.fetcher import Fetcher, FetcherConfig, FetchResult
from crawl.servers import TRAP_ADDRESS, Loopback

# (label, URL template, expected outcome). {P} is the canary's port, {Q} the trap server's.
DIRECT = [
    ("dotted loopback", "http://127.0.0.1:{P}/", "blocked"),
    ("localhost by name", "http://localhost:{P}/", "blocked"),
    ("decimal", "http://2130706433:{P}/", "blocked"),
    ("octal", "http://0177.0.0.1:{P}/", "blocked"),
    ("hex dotted", "http://0x7f.0.0.1:{P}/", "blocked"),
    ("hex whole", "http://0x7f000001:{P}/", "blocked"),
    ("short form", "http://127.1:{P}/", "blocked"),
    ("octal short", "http://0177.1:{P}/", "blocked"),
    ("zero padded", "http://127.000.000.001:{P}/", "blocked"),
    ("trailing dot", "http://127.0.0.1.:{P}/", "blocked"),
    ("percent encoded", "http://%31%32%37.0.0.1:{P}/", "blocked"),
    ("fullwidth digits", "http://①②⑦.⓪.⓪.①:{P}/", "blocked"),
    ("user@host", "http://allowed.test@127.0.0.1:{P}/", "blocked"),
    ("IPv6 loopback", "http://[::1]:{P}/", "blocked"),
    ("IPv4-mapped", "http://[::ffff:127.0.0.1]:{P}/", "blocked"),
    ("IPv4-mapped hex", "http://[::ffff:7f00:1]:{P}/", "blocked"),
    ("IPv4-mapped long", "http://[0:0:0:0:0:ffff:127.0.0.1]:{P}/", "blocked"),
    ("NAT64", "http://[64:ff9b::7f00:1]:{P}/", "blocked"),
    ("IPv4-compatible", "http://[::127.0.0.1]:{P}/", "blocked"),
    ("6to4", "http://[2002:7f00:1::]:{P}/", "blocked"),
    ("link-local zone", "http://[fe80::1%25lo]:{P}/", "blocked"),
    ("mapped private", "http://[::ffff:a00:1]:{P}/", "blocked"),
    ("unspecified", "http://0.0.0.0:{P}/", "blocked"),
    ("zero", "http://0:{P}/", "blocked"),
    ("metadata", "http://169.254.169.254:{P}/", "blocked"),
    ("private 10/8", "http://10.0.0.1:{P}/", "blocked"),
    ("private 192.168/16", "http://192.168.0.1:{P}/", "blocked"),
    ("private 172.16/12", "http://172.16.0.1:{P}/", "blocked"),
    ("carrier-grade NAT", "http://100.64.0.1:{P}/", "blocked"),
    ("multicast", "http://224.0.0.1:{P}/", "blocked"),
    ("broadcast", "http://255.255.255.255:{P}/", "blocked"),
    ("name to loopback", "http://loopback.test:{P}/", "blocked"),
    ("public first, loopback second", "http://public-then-loopback.test:{P}/", "blocked"),
    ("AAAA ::1", "http://v6loop.test:{P}/", "blocked"),
    ("AAAA mapped loopback", "http://mapped.test:{P}/", "blocked"),
    ("name to metadata", "http://metadata.test:{P}/", "blocked"),
    ("name to private", "http://private.test:{P}/", "blocked"),
    ("name to 0.0.0.0", "http://zero.test:{P}/", "blocked"),
    ("CNAME to loopback", "http://alias.test:{P}/", "blocked"),
    ("allowed A, loopback AAAA", "http://allowed-and-loopback.test:{P}/", "blocked"),
    ("port not allowed", "http://allowed.test:22/", "blocked"),
    ("scheme not allowed", "ftp://allowed.test:{Q}/", "blocked"),
    ("unknown name", "http://nowhere.test:{P}/", "gone"),
]

# Redirects from the trap server (an allowed address) into private space.
REDIRECTS = [
    ("redirect to loopback", "http://127.0.0.1:{P}/", "blocked"),
    ("redirect to IPv6 loopback", "http://[::1]:{P}/", "blocked"),
    ("redirect to decimal", "http://2130706433:{P}/", "blocked"),
    ("redirect to hex", "http://0x7f.1:{P}/", "blocked"),
    ("redirect scheme-relative", "//127.0.0.1:{P}/", "blocked"),
    ("redirect to name", "http://loopback.test:{P}/", "blocked"),
    ("redirect to mapped", "http://[::ffff:127.0.0.1]:{P}/", "blocked"),
    ("redirect to metadata", "http://169.254.169.254/latest/meta-data/", "blocked"),
    ("redirect with user@host", "http://x@127.0.0.1:{P}/", "blocked"),
    ("redirect to file", "file:///etc/passwd", "blocked"),
    ("redirect to gopher", "gopher://127.0.0.1:{P}/", "blocked"),
]


def _fetch(fetcher: Fetcher, url: str) -> tuple[FetchResult, int]:
    async def run() -> tuple[FetchResult, int]:
        async with fetcher.session() as session:
            result = await session.fetch(url)
            return result, session.backend.connects

    return anyio.run(run)


@pytest.fixture(scope="module")
def fetcher(loopback: Loopback) -> Fetcher:
    return Fetcher(FetcherConfig.from_settings(loopback.settings(total_seconds=5.0)))


def test_the_table_is_big_enough() -> None:
    assert len(DIRECT) + len(REDIRECTS) >= 30


@pytest.mark.parametrize(("label", "template", "expected"), DIRECT, ids=[d[0] for d in DIRECT])
def test_a_denied_address_is_never_connected_to(
    loopback: Loopback, fetcher: Fetcher, label: str, template: str, expected: str
) -> None:
    before = loopback.canary.connections
    url = template.format(P=loopback.canary.port, Q=loopback.trap.port)
    result, connects = _fetch(fetcher, url)
    assert result.outcome == expected, (label, result.reason)
    assert connects == 0, f"{label}: the fetcher opened {connects} connection(s)"
    assert loopback.canary.connections == before, f"{label} reached the canary"


@pytest.mark.parametrize(("label", "target", "expected"), REDIRECTS, ids=[r[0] for r in REDIRECTS])
def test_a_redirect_into_private_space_is_refused_at_its_hop(
    loopback: Loopback, fetcher: Fetcher, label: str, target: str, expected: str
) -> None:
    from urllib.parse import quote

    before = loopback.canary.connections
    location = target.format(P=loopback.canary.port)
    url = f"http://allowed.test:{loopback.trap.port}/to?u={quote(location, safe='')}"
    result, _ = _fetch(fetcher, url)
    assert result.outcome == expected, (label, result.reason)
    # The first hop went to the trap server; the second never left.
    assert [h.address for h in result.hops] == [TRAP_ADDRESS]
    assert result.hops[0].status == 302
    assert loopback.canary.connections == before, f"{label} reached the canary"


def test_more_than_ten_redirects_are_refused(loopback: Loopback, fetcher: Fetcher) -> None:
    result, _ = _fetch(fetcher, f"http://allowed.test:{loopback.trap.port}/hop?n=12")
    assert result.outcome == "blocked"
    assert result.reason is not None
    assert "more than 10 redirects" in result.reason
    assert len(result.hops) == 11


def test_ten_redirects_are_followed(loopback: Loopback, fetcher: Fetcher) -> None:
    result, _ = _fetch(fetcher, f"http://allowed.test:{loopback.trap.port}/hop?n=10")
    assert result.outcome == "ok"
    assert result.status == 200
    assert len(result.hops) == 11


def test_an_allowed_address_is_fetched(loopback: Loopback, fetcher: Fetcher) -> None:
    """The control: the same fetcher reaches what the allow-list opens."""
    result, connects = _fetch(fetcher, f"http://allowed.test:{loopback.trap.port}/ok")
    assert result.outcome == "ok"
    assert result.status == 200
    assert result.address == TRAP_ADDRESS
    assert connects == 1
    assert b"fine" in result.body


def test_rebinding_cannot_move_a_fetch_after_resolution(
    loopback: Loopback, fetcher: Fetcher
) -> None:
    """rebind.test answers the trap server once, then loopback (TTL 0): every request of the
    session, the redirect to the canary's port included, goes to the pinned first answer."""
    before = loopback.canary.connections
    target = f"http://rebind.test:{loopback.canary.port}/"
    from urllib.parse import quote

    url = f"http://rebind.test:{loopback.trap.port}/to?u={quote(target, safe='')}"
    result, _ = _fetch(fetcher, url)
    assert loopback.zone.asked[("rebind.test", "A")] == 1
    assert result.hops[0].address == TRAP_ADDRESS
    # The second hop went to the pinned address, where nothing listens on the canary's port.
    assert result.address == TRAP_ADDRESS
    assert result.outcome == "gone"
    assert result.gone_reason == "refused"
    assert loopback.canary.connections == before


def test_the_canary_was_never_reached(loopback: Loopback) -> None:
    assert loopback.canary.connections == 0, loopback.canary.peers
