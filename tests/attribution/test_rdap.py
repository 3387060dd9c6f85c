"""RDAP against a real HTTP server on loopback: bootstrap, RFC 9083 parsing, the cache, the
per-server rate limit, and hostile answers ending in a recorded failure."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attribution.servers import (
    RdapServer,
    domain_json,
    free_port,
    network_json,
    slow_drip,
    vcard,
    write_bootstrap,
)
from cordon.attribution.ratelimit import Rate, RateLimiter, parse_rate
from cordon.attribution.rdap import (
    RdapClient,
    contact_of,
    load_bootstrap,
    parse_domain,
    parse_network,
    too_deep,
)
from cordon.clock import FrozenClock
from cordon.config import RdapSettings


def _client(
    server: RdapServer, tmp_path: Path, clock: FrozenClock | None = None, **extra: Any
) -> RdapClient:
    folder = write_bootstrap(tmp_path / "bootstrap", server.base)
    settings = RdapSettings.model_validate(
        {
            "bootstrap_dir": folder,
            "timeout_seconds": 1.0,
            "rate_limit": "1000 per 1 second",
            **extra,
        }
    )
    return RdapClient(settings, clock or FrozenClock())


# --------------------------------------------------------------------------- bootstrap


def _write(folder: Path, name: str, services: list[Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps({"version": "1.0", "services": services}))


def test_bootstrap_picks_the_longest_match(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "dns.json",
        [
            [["test"], ["https://a.example/"]],
            [["zone.test"], ["http://b.example/", "https://c.example/"]],
        ],
    )
    _write(
        tmp_path,
        "ipv4.json",
        [
            [["192.0.0.0/8"], ["https://wide.example/"]],
            [["192.0.2.0/24"], ["https://narrow.example/"]],
        ],
    )
    _write(tmp_path, "ipv6.json", [[["2001:db8::/32"], ["https://six.example/"]]])
    _write(tmp_path, "asn.json", [[["64496-64511", "65000"], ["https://as.example/"]]])
    boot = load_bootstrap(tmp_path)
    assert boot.domain_servers("x.other.test") == ("https://a.example/",)
    assert boot.domain_servers("site.zone.test") == ("http://b.example/", "https://c.example/")
    assert boot.domain_servers("example.com") == ()
    assert boot.ip_servers("192.0.2.9") == ("https://narrow.example/",)
    assert boot.ip_servers("192.1.0.1") == ("https://wide.example/",)
    assert boot.ip_servers("2001:db8::1") == ("https://six.example/",)
    assert boot.asn_servers(64500) == ("https://as.example/",)
    assert boot.asn_servers(65000) == ("https://as.example/",)
    assert boot.asn_servers(1) == ()


def test_a_missing_or_broken_bootstrap_file_disables_only_its_registry(tmp_path: Path) -> None:
    _write(tmp_path, "dns.json", [[["test"], ["https://a.example/"]]])
    (tmp_path / "ipv4.json").write_text("<html>not json</html>")
    _write(tmp_path, "asn.json", [[["not-a-number"], ["https://as.example/"]]])
    boot = load_bootstrap(tmp_path)
    status = {f.name: f for f in boot.files}
    assert status["dns.json"].ok
    assert "is not JSON" in (status["ipv4.json"].problem or "")
    assert "does not exist" in (status["ipv6.json"].problem or "")
    assert "not valid for asn.json" in (status["asn.json"].problem or "")
    assert boot.domain_servers("x.test") == ("https://a.example/",)


def test_a_lookup_without_a_bootstrap_entry_is_a_failure(tmp_path: Path) -> None:
    settings = RdapSettings(bootstrap_dir=tmp_path / "none")
    client = RdapClient(settings, FrozenClock())
    network, failures = client.network("192.0.2.1")
    assert network is None
    assert failures[0].outcome == "no_bootstrap"
    assert "ipv4.json does not exist" in failures[0].message


# --------------------------------------------------------------------------- parsing


def test_network_holder_and_abuse_contact_come_from_entities() -> None:
    parsed = parse_network(
        network_json("192.0.2.0", "192.0.2.255", "Example Hosting", "abuse@h.test", "NL"), "u"
    )
    assert parsed.holder is not None
    assert parsed.holder.name == "Example Hosting"
    assert parsed.holder.country == "NL"
    assert parsed.abuse is not None
    assert parsed.abuse.email == "abuse@h.test"


def test_a_top_level_abuse_entity_is_found_too() -> None:
    answer = {
        "objectClassName": "ip network",
        "entities": [
            {"roles": ["registrant"], "vcardArray": vcard("Holder")},
            {"roles": ["technical"], "vcardArray": vcard("Tech", email="noc@h.test")},
            {"roles": ["ABUSE"], "vcardArray": vcard("Abuse", email="mailto:abuse@h.test")},
        ],
    }
    parsed = parse_network(answer, "u")
    assert parsed.abuse is not None
    assert parsed.abuse.email == "abuse@h.test"


def test_registrar_iana_id_and_its_abuse_contact() -> None:
    parsed = parse_domain(
        domain_json("a.test", "Reg Ltd", 1234, "abuse@reg.test", cc="de"), "a.test", "u"
    )
    assert parsed.registrar is not None
    assert parsed.registrar.name == "Reg Ltd"
    assert parsed.registrar.iana_id == 1234
    assert parsed.registrar.country == "DE"
    assert parsed.registrar.abuse is not None
    assert parsed.registrar.abuse.email == "abuse@reg.test"
    assert parsed.registrar.abuse.phone == "+1.5550100"
    assert parsed.nameservers == ("ns1.host.test",)


@pytest.mark.parametrize(
    "entity",
    [
        {"vcardArray": "nonsense"},
        {"vcardArray": ["vcard", "nonsense"]},
        {"vcardArray": ["vcard", [["fn"], 5, ["email", {}, "text", 7], None]]},
        {"vcardArray": ["vcard", [["adr", {"cc": 5}, "text", "not a list"]]]},
        {"roles": "abuse", "entities": "nonsense"},
    ],
)
def test_malformed_vcards_give_empty_contacts_not_errors(entity: dict[str, Any]) -> None:
    contact = contact_of(entity)
    assert contact.email is None
    parsed = parse_network({"entities": [entity]}, "u")
    assert parsed.abuse is None


@settings(max_examples=40)
@given(
    st.recursive(
        st.none() | st.integers() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
        max_leaves=40,
    )
)
def test_parsing_any_json_never_raises(value: Any) -> None:
    document = {"entities": [value, {"entities": value, "vcardArray": value, "roles": value}]}
    parse_network(document, "u")
    parse_domain(
        {**document, "nameservers": value, "events": value, "status": value}, "a.test", "u"
    )


def test_too_deep_counts_nesting() -> None:
    value: Any = 1
    for _ in range(40):
        value = [value]
    assert too_deep(value)
    assert not too_deep({"a": [{"b": [1]}]})


# --------------------------------------------------------------------------- hostile servers


def test_lookups_find_network_domain_and_autnum(rdap_server: RdapServer, tmp_path: Path) -> None:
    rdap_server.json(
        "/rdap/ip/192.0.2.5",
        network_json("192.0.2.0", "192.0.2.255", "Example Hosting", "abuse@h.test", "NL"),
    )
    rdap_server.json("/rdap/domain/a.test", domain_json("a.test", "Reg", 1, "abuse@reg.test"))
    rdap_server.json(
        "/rdap/autnum/64500",
        {"objectClassName": "autnum", "name": "AS-EX", "entities": [
            {"roles": ["abuse"], "vcardArray": vcard("x", email="as-abuse@h.test")}]},
    )  # fmt: skip
    client = _client(rdap_server, tmp_path)
    network, failures = client.network("192.0.2.5")
    assert network is not None
    assert network.abuse is not None
    assert failures == ()
    domain, failures = client.domain("a.test")
    assert domain is not None
    assert domain.registrar is not None
    assert failures == ()
    autnum, failures = client.autnum(64500)
    assert autnum is not None
    assert autnum.abuse is not None
    assert autnum.abuse.email == "as-abuse@h.test"


def test_answers_are_cached_until_they_expire(rdap_server: RdapServer, tmp_path: Path) -> None:
    rdap_server.json("/rdap/domain/a.test", domain_json("a.test", "Reg", 1, "abuse@reg.test"))
    clock = FrozenClock()
    client = _client(rdap_server, tmp_path, clock, cache_seconds=600)
    client.domain("a.test")
    client.domain("a.test")
    assert rdap_server.hits["/rdap/domain/a.test"] == 1
    clock.advance(timedelta(seconds=601))
    client.domain("a.test")
    assert rdap_server.hits["/rdap/domain/a.test"] == 2


def test_one_network_answer_serves_every_address_in_its_range(
    rdap_server: RdapServer, tmp_path: Path
) -> None:
    rdap_server.json(
        "/rdap/ip/192.0.2.5",
        network_json("192.0.2.0", "192.0.2.255", "Example Hosting", "abuse@h.test", "NL"),
    )
    client = _client(rdap_server, tmp_path)
    client.network("192.0.2.5")
    network, _ = client.network("192.0.2.200")
    assert network is not None
    assert network.holder is not None
    assert network.holder.name == "Example Hosting"
    assert sum(rdap_server.hits.values()) == 1


def test_not_found_is_a_failure_that_is_cached(rdap_server: RdapServer, tmp_path: Path) -> None:
    client = _client(rdap_server, tmp_path)
    domain, failures = client.domain("gone.test")
    assert domain is None
    assert failures[0].outcome == "not_found"
    client.domain("gone.test")
    assert rdap_server.hits["/rdap/domain/gone.test"] == 1


@pytest.mark.parametrize(
    ("body", "content_type", "outcome", "words"),
    [
        (
            b"<html><body>Service Unavailable</body></html>",
            "text/html",
            "not_json",
            "did not answer JSON (content type text/html)",
        ),
        (b"[1, 2, 3]", "application/rdap+json", "not_object", "not an object (list)"),
        (b"[" * 200_000 + b"]" * 200_000, "application/rdap+json", "too_deep", "nested deeper"),
        (
            json.dumps(json.loads("[" * 60 + "]" * 60)).encode(),
            "application/json",
            "not_object",
            "not an object",
        ),
        (
            b'{"a":' * 100 + b"1" + b"}" * 100,
            "application/rdap+json",
            "too_deep",
            "nested deeper than 32",
        ),
        (b"\xff\xfe\x00garbage", "application/rdap+json", "not_json", "did not answer JSON"),
    ],
)
def test_hostile_bodies_end_in_a_failure(
    rdap_server: RdapServer,
    tmp_path: Path,
    body: bytes,
    content_type: str,
    outcome: str,
    words: str,
) -> None:
    rdap_server.raw("/rdap/domain/bad.test", body, content_type)
    client = _client(rdap_server, tmp_path)
    domain, failures = client.domain("bad.test")
    assert domain is None
    assert failures[0].outcome == outcome
    assert words in failures[0].message


def test_an_answer_too_big_is_refused(rdap_server: RdapServer, tmp_path: Path) -> None:
    rdap_server.raw(
        "/rdap/domain/big.test", b'{"x": "' + b"a" * 3_000_000 + b'"}', "application/json"
    )
    client = _client(rdap_server, tmp_path, max_response_bytes=1024 * 1024)
    _, failures = client.domain("big.test")
    assert failures[0].outcome == "too_large"
    assert "more than 1048576 bytes" in failures[0].message


def test_an_answer_too_big_without_a_length_is_refused_while_reading(
    rdap_server: RdapServer, tmp_path: Path
) -> None:
    def endless(h: Any) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.end_headers()
        h.wfile.write(b'{"x": "')
        for _ in range(64):
            h.wfile.write(b"a" * 65536)

    rdap_server.routes["/rdap/domain/stream.test"] = endless
    client = _client(rdap_server, tmp_path, max_response_bytes=1024 * 1024)
    _, failures = client.domain("stream.test")
    assert failures[0].outcome == "too_large"


def test_answers_without_entities_are_recorded_as_missing(
    rdap_server: RdapServer, tmp_path: Path
) -> None:
    rdap_server.json("/rdap/ip/192.0.2.5", {"objectClassName": "ip network", "handle": "N"})
    rdap_server.json(
        "/rdap/domain/bare.test", {"objectClassName": "domain", "ldhName": "bare.test"}
    )
    client = _client(rdap_server, tmp_path)
    network, failures = client.network("192.0.2.5")
    assert network is not None
    assert network.abuse is None
    assert failures[0].outcome == "missing_entities"
    domain, failures = client.domain("bare.test")
    assert domain is not None
    assert domain.registrar is None
    assert "names no registrar" in failures[0].message


def test_a_server_that_drips_is_cut_off_at_the_timeout(
    rdap_server: RdapServer, tmp_path: Path
) -> None:
    rdap_server.routes["/rdap/domain/slow.test"] = slow_drip(0.2)
    client = _client(rdap_server, tmp_path, timeout_seconds=0.5)
    _, failures = client.domain("slow.test")
    assert failures[0].outcome == "timeout"
    assert "within 0.5 s" in failures[0].message


def test_redirect_loops_are_cut_off(rdap_server: RdapServer, tmp_path: Path) -> None:
    rdap_server.raw(
        "/rdap/domain/loop.test", b"", status=302, headers={"Location": "/rdap/domain/loop.test"}
    )
    _, failures = _client(rdap_server, tmp_path).domain("loop.test")
    assert failures[0].outcome == "redirects"


def test_server_errors_and_unreachable_servers_are_failures(
    rdap_server: RdapServer, tmp_path: Path
) -> None:
    rdap_server.raw("/rdap/domain/err.test", b"oops", status=500)
    client = _client(rdap_server, tmp_path)
    _, failures = client.domain("err.test")
    assert failures[0].outcome == "http_status"
    assert "HTTP 500" in failures[0].message
    folder = tmp_path / "dead"
    write_bootstrap(folder, f"http://127.0.0.1:{free_port()}/rdap/")
    dead = RdapClient(RdapSettings(bootstrap_dir=folder, timeout_seconds=1.0), FrozenClock())
    _, failures = dead.domain("a.test")
    assert failures[0].outcome == "unreachable"


def test_too_many_requests_pauses_the_server(rdap_server: RdapServer, tmp_path: Path) -> None:
    rdap_server.raw("/rdap/domain/busy.test", b"", status=429, headers={"Retry-After": "120"})
    client = _client(rdap_server, tmp_path)
    _, failures = client.domain("busy.test")
    assert failures[0].outcome == "rate_limited"
    assert "pausing 120 s" in failures[0].message
    _, failures = client.domain("other.test")
    assert failures[0].outcome == "rate_limited"
    assert rdap_server.hits["/rdap/domain/other.test"] == 0


def test_requests_to_one_server_are_held_to_the_rate_limit(
    rdap_server: RdapServer, tmp_path: Path
) -> None:
    for i in range(5):
        rdap_server.json(f"/rdap/domain/d{i}.test", domain_json(f"d{i}.test", "R", 1, "a@r.test"))
    slept: list[float] = []
    folder = write_bootstrap(tmp_path / "b", rdap_server.base)
    settings = RdapSettings(bootstrap_dir=folder, rate_limit="2 per 1 minute", timeout_seconds=5)
    client = RdapClient(settings, FrozenClock(), sleep=slept.append, monotonic=lambda: 100.0)
    outcomes = [client.domain(f"d{i}.test")[1] for i in range(3)]
    assert outcomes[0] == ()
    assert outcomes[1] == ()
    assert outcomes[2][0].outcome == "rate_limited"  # the next turn is 30 s away, past 5 s
    assert sum(rdap_server.hits.values()) == 2
    assert slept == []


# --------------------------------------------------------------------------- rate limiter


def test_rates_are_parsed_as_written_in_settings() -> None:
    assert parse_rate("5 per 1 second") == Rate(5, 1)
    assert parse_rate("10 per 5 minutes") == Rate(10, 300)
    assert parse_rate("1 per hour") == Rate(1, 3600)
    with pytest.raises(ValueError, match="not a rate"):
        parse_rate("fast")


def test_the_limiter_waits_instead_of_refusing_within_max_wait() -> None:
    now = [0.0]
    limiter = RateLimiter(Rate(2, 1), lambda: now[0])
    assert limiter.reserve("s", 1.0) == 0.0
    assert limiter.reserve("s", 1.0) == 0.0
    assert limiter.reserve("s", 1.0) == pytest.approx(0.5)
    assert limiter.reserve("other", 1.0) == 0.0
    limiter.block("s", 30)
    assert limiter.reserve("s", 1.0) is None


@given(
    st.integers(1, 10),
    st.integers(1, 60),
    st.lists(st.floats(0, 5, allow_nan=False), min_size=1, max_size=60),
)
def test_the_limiter_never_grants_more_than_its_rate(
    count: int, seconds: int, gaps: list[float]
) -> None:
    now = [0.0]
    limiter = RateLimiter(Rate(count, seconds), lambda: now[0])
    sent: list[float] = []
    for gap in gaps:
        now[0] += gap
        wait = limiter.reserve("s", max_wait=3600)
        assert wait is not None
        sent.append(now[0] + wait)
    # In any window of `seconds`, at most `count` (the burst) plus what refills in it.
    for start in sent:
        inside = [t for t in sent if start <= t < start + seconds]
        assert len(inside) <= 2 * count
