"""The matcher's semantics, on both backends: PDQ by each bank's own threshold with every
distance reported, digests exactly, low quality, negative banks, classifications, disabled
entries and deleted banks."""

from __future__ import annotations

import random

from sqlalchemy import Connection

from cordon.banks import repo as banks
from cordon.clock import FrozenClock
from cordon.matching.model import Query
from cordon.matching.service import Matcher
from matching.helpers import ACTOR, add_entries, at_distance, make_bank, random_pdq
from support import make_member


def test_pdq_matches_by_each_banks_own_threshold_and_reports_the_distance(
    conn: Connection, clock: FrozenClock
) -> None:
    rng = random.Random(1)
    owner = make_member(conn, clock, org_type="hotline")
    make_bank(conn, clock, owner, "WIDE", pdq_threshold=31)
    make_bank(conn, clock, owner, "NARROW", pdq_threshold=10)
    h = random_pdq(rng)
    (wide,) = add_entries(conn, clock, owner, "WIDE", [("pdq", h)])
    (narrow,) = add_entries(conn, clock, owner, "NARROW", [("pdq", h)])
    matcher = Matcher(clock)
    queries = [Query("pdq", at_distance(h, d, rng), 90) for d in (0, 5, 10, 11, 20, 31, 32, 60)]
    hits = matcher.match(conn, queries)
    seen = [sorted((x.bank_name, x.entry_id, x.distance) for x in per) for per in hits]
    assert seen == [
        [("NARROW", narrow, 0), ("WIDE", wide, 0)],
        [("NARROW", narrow, 5), ("WIDE", wide, 5)],
        [("NARROW", narrow, 10), ("WIDE", wide, 10)],
        [("WIDE", wide, 11)],
        [("WIDE", wide, 20)],
        [("WIDE", wide, 31)],
        [],
        [],
    ]
    assert all(x.status == "active" and x.variant == "original" for per in hits for x in per)


def test_digests_match_exactly_and_only_their_own_type(
    conn: Connection, clock: FrozenClock
) -> None:
    owner = make_member(conn, clock, org_type="hotline")
    make_bank(conn, clock, owner, "DIGESTS")
    md5 = "0123456789abcdef0123456789abcdef"
    sha = "ab" * 32
    e_md5, e_sha = add_entries(
        conn, clock, owner, "DIGESTS", [("photo_md5", md5), ("photo_sha256", sha)]
    )
    hits = Matcher(clock).match(
        conn,
        [
            Query("photo_md5", md5),
            Query("photo_md5", md5[:-1] + "0"),
            Query("photo_sha256", sha),
            Query("pdq", sha),  # same hex, another type: no match
        ],
    )
    assert [[h.entry_id for h in per] for per in hits] == [[e_md5], [], [e_sha], []]
    assert hits[0][0].distance == 0


def test_low_quality_hashes_match_only_banks_that_ask(conn: Connection, clock: FrozenClock) -> None:
    rng = random.Random(2)
    owner = make_member(conn, clock, org_type="hotline")
    make_bank(conn, clock, owner, "STRICT")
    make_bank(conn, clock, owner, "LENIENT", match_low_quality=True)
    h = random_pdq(rng)
    add_entries(conn, clock, owner, "STRICT", [("pdq", h)])
    add_entries(conn, clock, owner, "LENIENT", [("pdq", h)])
    hits = Matcher(clock).match(
        conn, [Query("pdq", h, 49), Query("pdq", h, 50), Query("pdq", h, None)]
    )
    assert [sorted(x.bank_name for x in per) for per in hits] == [
        ["LENIENT"],
        ["LENIENT", "STRICT"],
        ["LENIENT", "STRICT"],
    ]


def test_a_negative_bank_suppresses_the_same_hash_elsewhere(
    conn: Connection, clock: FrozenClock
) -> None:
    rng = random.Random(3)
    owner = make_member(conn, clock, org_type="hotline")
    make_bank(conn, clock, owner, "LIST", default_classification="B1")
    make_bank(conn, clock, owner, "KNOWN_FALSE", negative=True)
    shared, alone = random_pdq(rng), random_pdq(rng)
    add_entries(conn, clock, owner, "LIST", [("pdq", shared), ("pdq", alone)])
    add_entries(conn, clock, owner, "KNOWN_FALSE", [("pdq", at_distance(shared, 3, rng))])
    hits = Matcher(clock).match(conn, [Query("pdq", shared, 90), Query("pdq", alone, 90)])
    first = {h.bank_name: h for h in hits[0]}
    assert first["LIST"].status == "suppressed"
    assert first["LIST"].suppressed
    assert not first["LIST"].confirms
    assert first["KNOWN_FALSE"].status == "active"
    assert first["KNOWN_FALSE"].negative
    assert first["KNOWN_FALSE"].distance == 3
    assert [(h.bank_name, h.status, h.confirms) for h in hits[1]] == [("LIST", "active", True)]


def test_classification_comes_from_the_entry_else_the_banks_default(
    conn: Connection, clock: FrozenClock
) -> None:
    rng = random.Random(4)
    owner = make_member(conn, clock, org_type="hotline")
    make_bank(conn, clock, owner, "DEFAULTED", default_classification="B2")
    make_bank(conn, clock, owner, "PLAIN")
    a, b = random_pdq(rng), random_pdq(rng)
    add_entries(conn, clock, owner, "DEFAULTED", [("pdq", a)])
    add_entries(conn, clock, owner, "DEFAULTED", [("pdq", b)], classification="A1")
    add_entries(conn, clock, owner, "PLAIN", [("pdq", a)])
    hits = Matcher(clock).match(conn, [Query("pdq", a), Query("pdq", b)])
    assert sorted((h.bank_name, h.classification, h.confirms) for h in hits[0]) == [
        ("DEFAULTED", "B2", True),
        ("PLAIN", None, False),
    ]
    assert [(h.classification) for h in hits[1]] == ["A1"]


def test_disabled_entries_and_deleted_banks_stop_matching_incrementally(
    conn: Connection, clock: FrozenClock
) -> None:
    rng = random.Random(5)
    owner = make_member(conn, clock, org_type="hotline")
    make_bank(conn, clock, owner, "CHANGING")
    make_bank(conn, clock, owner, "DOOMED")
    a, b = random_pdq(rng), random_pdq(rng)
    ea, eb = add_entries(conn, clock, owner, "CHANGING", [("pdq", a), ("pdq", b)])
    add_entries(conn, clock, owner, "DOOMED", [("pdq", a)])
    matcher = Matcher(clock)
    assert len(matcher.match(conn, [Query("pdq", a)])[0]) == 2
    before = matcher.checkpoint
    banks.set_entries_enabled(conn, clock, owner, ACTOR, "CHANGING", [ea], False)
    banks.delete_bank(conn, clock, owner, ACTOR, "DOOMED")
    hits = matcher.match(conn, [Query("pdq", a), Query("pdq", b)])
    assert [[h.entry_id for h in per] for per in hits] == [[], [eb]]
    assert matcher.checkpoint > before
    fresh = matcher.freshness(conn)
    assert fresh.behind == 0
    assert fresh.loaded_from == "database"
    assert fresh.by_type["pdq"] == 1  # only b is still held
