"""Entities: normalising is idempotent, spellings of one thing meet, and a query is read as
every kind it could be."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cordon.cases.entities import (
    EntityKind,
    InvalidEntity,
    candidates,
    detect,
    parse_entity,
    parse_typed,
)
from cordon.domain.payments import DEFAULT_CHECKOUT_REGISTRY as REG
from cordon.domain.payments import synthetic_address, synthetic_iban

LABEL = st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True)


@given(sub=LABEL, name=LABEL, upper=st.booleans())
def test_a_domain_normalises_to_its_site_and_stays_there(sub: str, name: str, upper: bool) -> None:
    text = f"{sub}.{name}.test"
    e = parse_entity(text.upper() if upper else text, "domain", REG)
    assert e.key == f"{name}.test"
    assert parse_entity(e.key, "domain", REG) == e


@given(st.ip_addresses())
def test_an_address_normalises_once(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    e = parse_entity(addr.exploded, "ip", REG)
    assert e.key == addr.compressed
    assert parse_entity(e.key, "ip", REG) == e


@given(st.binary(min_size=32, max_size=32))
def test_hashes_are_lower_case_hex(raw: bytes) -> None:
    e = parse_entity(raw.hex().upper(), "sha256", REG)
    assert e.key == raw.hex()
    assert parse_entity(f"sha256:{e.key}", "sha256", REG) == e


def test_spellings_of_one_thing_meet() -> None:
    wallet = synthetic_address("btc", b"x")
    iban = synthetic_iban("DE", b"y")
    grouped = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
    assert parse_typed(wallet, REG) == parse_typed(f"btc:{wallet}", REG)
    assert parse_typed(grouped.lower(), REG) == parse_typed(f"iban:{iban}", REG)
    assert parse_typed("HTTP://Shop.Example.TEST:80/a/../b#x", REG).key == (
        "http://shop.example.test/b"
    )
    assert parse_typed("network:0012", REG).key == "12"


def test_a_query_is_read_as_every_kind_it_could_be() -> None:
    kinds = [e.kind for e in detect("ab" * 32, REG)]
    assert kinds == [EntityKind.PDQ, EntityKind.SHA256]
    assert [e.kind for e in detect("0" * 32, REG)] == [EntityKind.MD5]
    assert [e.kind for e in detect("UA-12345-6", REG)] == [EntityKind.ANALYTICS_ID]
    assert [e.kind for e in detect("Sales@Shop.test", REG)] == [EntityKind.EMAIL]
    assert [e.kind for e in detect("SHOPNAME*DIGITAL", REG)] == [EntityKind.DESCRIPTOR]
    # A subject or screening item is never read as a descriptor unless it says so.
    with pytest.raises(InvalidEntity, match="kind:value"):
        candidates("SHOPNAME*DIGITAL", REG)
    assert candidates("descriptor:SHOPNAME*DIGITAL", REG)[0].kind is EntityKind.DESCRIPTOR
    with pytest.raises(InvalidEntity, match="could be pdq or sha256"):
        parse_typed("ab" * 32, REG)
    with pytest.raises(InvalidEntity, match="unknown entity kind"):
        parse_entity("x", "colour", REG)
