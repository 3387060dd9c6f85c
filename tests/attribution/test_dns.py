"""DNS through dnspython against a real server on loopback: answers, the TTL cache, and every
kind of bad answer ending in an outcome instead of an exception."""

from __future__ import annotations

from datetime import timedelta

import pytest

from attribution.servers import DnsServer
from cordon.attribution.dns import DnsClient, ResolverConfigError, chain_of, parse_resolver
from cordon.clock import FrozenClock
from cordon.config import DnsSettings


def _client(server: DnsServer, clock: FrozenClock, **extra: object) -> DnsClient:
    settings = DnsSettings.model_validate(
        {"resolvers": [server.resolver], "timeout_seconds": 1.0, **extra}
    )
    return DnsClient(settings, clock)


def test_answers_carry_values_and_the_alias_chain(dns_server: DnsServer) -> None:
    z = dns_server.zone
    z.add("a.test", "CNAME", "b.test")
    z.add("b.test", "CNAME", "c.test")
    z.add("c.test", "A", "192.0.2.1")
    z.add("c.test", "MX", (20, "mx2.c.test"))
    z.add("c.test", "MX", (10, "mx1.c.test"))
    client = _client(dns_server, FrozenClock())
    answers = client.resolve_address("a.test")
    assert answers[-1].outcome == "ok"
    assert answers[-1].values == ("192.0.2.1",)
    assert chain_of(answers) == [("a.test", "b.test"), ("b.test", "c.test")]
    mx = client.query("c.test", "MX")
    assert mx.values == ("10 mx1.c.test", "20 mx2.c.test")  # by preference


def test_answers_are_reused_until_their_ttl_runs_out(dns_server: DnsServer) -> None:
    dns_server.zone.add("ttl.test", "A", "192.0.2.2", ttl=60)
    clock = FrozenClock()
    client = _client(dns_server, clock)
    for _ in range(3):
        assert client.query("ttl.test", "A").values == ("192.0.2.2",)
    assert dns_server.zone.asked[("ttl.test", "A")] == 1
    clock.advance(timedelta(seconds=59))
    client.query("ttl.test", "A")
    assert dns_server.zone.asked[("ttl.test", "A")] == 1
    clock.advance(timedelta(seconds=2))
    client.query("ttl.test", "A")
    assert dns_server.zone.asked[("ttl.test", "A")] == 2


def test_the_cache_never_outlives_its_configured_cap(dns_server: DnsServer) -> None:
    dns_server.zone.add("long.test", "A", "192.0.2.3", ttl=86400)
    clock = FrozenClock()
    client = _client(dns_server, clock, cache_max_seconds=10)
    client.query("long.test", "A")
    clock.advance(timedelta(seconds=11))
    client.query("long.test", "A")
    assert dns_server.zone.asked[("long.test", "A")] == 2


def test_nxdomain_is_an_outcome_remembered_for_the_negative_ttl(dns_server: DnsServer) -> None:
    clock = FrozenClock()
    client = _client(dns_server, clock)
    first = client.query("missing.test", "A")
    assert first.outcome == "nxdomain"
    assert "does not exist" in (first.message or "")
    client.query("missing.test", "A")
    assert dns_server.zone.asked[("missing.test", "A")] == 1
    clock.advance(timedelta(seconds=31))  # the zone's SOA minimum is 30 s
    client.query("missing.test", "A")
    assert dns_server.zone.asked[("missing.test", "A")] == 2


@pytest.mark.parametrize(
    ("behaviour", "outcome", "words"),
    [
        ("servfail", "servfail", "SERVFAIL"),
        ("refused", "refused", "refused"),
        ("drop", "timeout", "no answer within 1 s"),
        ("garbage", "malformed", "cannot be parsed"),
        ("loop", "cname_loop", "alias chain"),
    ],
)
def test_bad_answers_end_in_an_outcome_not_an_exception(
    dns_server: DnsServer, behaviour: str, outcome: str, words: str
) -> None:
    dns_server.zone.behaviour["bad.test"] = behaviour
    answer = _client(dns_server, FrozenClock()).resolve_address("bad.test")[-1]
    assert answer.outcome == outcome
    assert words in (answer.message or "")


def test_failures_are_not_cached(dns_server: DnsServer) -> None:
    dns_server.zone.behaviour["flaky.test"] = "servfail"
    client = _client(dns_server, FrozenClock())
    client.query("flaky.test", "A")
    client.query("flaky.test", "A")
    assert dns_server.zone.asked[("flaky.test", "A")] == 2


def test_an_alias_loop_across_separate_answers_is_caught(dns_server: DnsServer) -> None:
    # Each answer holds one alias only; the loop shows when Cordon follows the chain itself.
    z = dns_server.zone
    z.follow = False
    z.add("ping.test", "CNAME", "pong.test")
    z.add("pong.test", "CNAME", "ping.test")
    answers = _client(dns_server, FrozenClock()).resolve_address("ping.test")
    assert answers[-1].outcome == "cname_loop"
    assert "comes back to" in (answers[-1].message or "")
    assert z.asked[("ping.test", "A")] == 1
    assert z.asked[("pong.test", "A")] == 1


def test_aliases_a_server_does_not_chase_are_followed(dns_server: DnsServer) -> None:
    z = dns_server.zone
    z.follow = False
    z.add("first.test", "CNAME", "second.test")
    z.add("second.test", "A", "192.0.2.8")
    answers = _client(dns_server, FrozenClock()).resolve_address("first.test")
    assert answers[-1].values == ("192.0.2.8",)
    assert chain_of(answers) == [("first.test", "second.test")]


def test_a_name_that_is_not_a_dns_name_is_an_outcome(dns_server: DnsServer) -> None:
    answer = _client(dns_server, FrozenClock()).query("a" * 64 + ".test", "A")
    assert answer.outcome == "invalid_name"


def test_soa_of_a_name_inside_a_zone_is_the_zones(dns_server: DnsServer) -> None:
    dns_server.zone.add("inside.test", "A", "192.0.2.9")
    answer = _client(dns_server, FrozenClock()).query("inside.test", "SOA")
    assert answer.outcome == "ok"
    assert answer.name == "test"
    assert answer.values[0].startswith("ns1.zone.test hostmaster.zone.test")


def test_an_unreachable_resolver_is_a_timeout() -> None:
    settings = DnsSettings(resolvers=["127.0.0.1:9"], timeout_seconds=0.5)
    answer = DnsClient(settings, FrozenClock()).query("x.test", "A")
    assert answer.outcome in ("timeout", "error")


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("192.0.2.53", ("192.0.2.53", 53)),
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("[::1]:5353", ("::1", 5353)),
        ("::1", ("::1", 53)),
    ],
)
def test_resolvers_are_written_host_or_host_port(text: str, parsed: tuple[str, int]) -> None:
    assert parse_resolver(text) == parsed


@pytest.mark.parametrize("text", ["127.0.0.1:0", "127.0.0.1:x", ":53", "[::1"])
def test_a_bad_resolver_setting_is_named(text: str) -> None:
    with pytest.raises(ResolverConfigError, match="resolver"):
        parse_resolver(text)


def test_a_bad_resolver_setting_makes_every_answer_unconfigured() -> None:
    client = DnsClient(DnsSettings(resolvers=["127.0.0.1:99999"]), FrozenClock())
    answer = client.query("x.test", "A")
    assert answer.outcome == "unconfigured"
    assert "port" in (answer.message or "")
