"""Card-acceptance facts: schemes, MCC, acquirer BIN, merchant ids, descriptor normalisation
and the linking of descriptor variants."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cordon.domain.payments import (
    CardScheme,
    InvalidCardFact,
    descriptor_similarity,
    link_descriptors,
    normalise_descriptor,
    parse_acquirer_bin,
    parse_mcc,
    parse_merchant_id,
    parse_scheme,
)


@pytest.mark.parametrize(
    ("text", "scheme"),
    [
        ("VISA", CardScheme.VISA),
        ("Visa Electron", CardScheme.VISA),
        ("MasterCard", CardScheme.MASTERCARD),
        ("master card", CardScheme.MASTERCARD),
        ("MC", CardScheme.MASTERCARD),
        ("American Express", CardScheme.AMEX),
        ("Diners Club", CardScheme.DINERS),
        ("China UnionPay", CardScheme.UNIONPAY),
        ("Cartes Bancaires", CardScheme.CARTES_BANCAIRES),
        ("jcb", CardScheme.JCB),
    ],
)
def test_scheme_names_resolve_to_one_stored_name(text: str, scheme: CardScheme) -> None:
    assert parse_scheme(text) is scheme


def test_unknown_scheme_is_rejected() -> None:
    with pytest.raises(InvalidCardFact, match="card scheme"):
        parse_scheme("Monopoly Money")


def test_mcc_is_exactly_four_digits() -> None:
    assert parse_mcc(" 5967 ") == "5967"
    assert parse_mcc("0742") == "0742"
    for bad in ("596", "59670", "59a7", ""):
        with pytest.raises(InvalidCardFact, match="MCC"):
            parse_mcc(bad)


def test_acquirer_bin_is_six_to_eight_digits() -> None:
    assert parse_acquirer_bin("412345") == "412345"
    assert parse_acquirer_bin("4123 4567") == "41234567"
    for bad in ("41234", "412345678", "41234a"):
        with pytest.raises(InvalidCardFact, match="acquirer BIN"):
            parse_acquirer_bin(bad)


def test_merchant_id_is_up_to_fifteen_letters_or_digits() -> None:
    assert parse_merchant_id(" 000123456789012 ") == "000123456789012"
    assert parse_merchant_id("ab12") == "AB12"
    for bad in ("", "1234567890123456", "12-34"):
        with pytest.raises(InvalidCardFact, match="merchant id"):
            parse_merchant_id(bad)


@pytest.mark.parametrize(
    "variant",
    [
        "ACME*DIGITAL 0423",
        "ACME DIGITAL LTD",
        "Acme Digital Ltd.",
        "acme digital s.a.r.l.",
        "ACME DIGITAL GMBH",
        "ACME DIGITAL LLC #12",
        "SQ *ACME DIGITAL",
        "PAYPAL *ACME DIGITAL",
        "ACME DIGITAL        LONDON       GB",
        "ACME DIGITAL LONDON GB",
        "ACME DIGITAL BRNO CZ",
        "ACME DIGITAL NEW YORK NY",
        "ACME DIGITAL +44 20 7946 0958",
        "ACME DIGITAL STORE 12",
        "WWW.ACME-DIGITAL.COM",
        "ÀCMÉ DIGITAL",
        "ACME DIGITAL AMSTERD",
    ],
)
def test_descriptor_variants_of_one_merchant_normalise_alike(variant: str) -> None:
    assert normalise_descriptor(variant) == "ACME DIGITAL"


def test_caller_places_are_dropped_too() -> None:
    assert normalise_descriptor("ACME DIGITAL GOTHAM") == "ACME DIGITAL GOTHAM"
    assert normalise_descriptor("ACME DIGITAL GOTHAM", places=frozenset({"Gotham"})) == (
        "ACME DIGITAL"
    )


def test_normalisation_keeps_a_name_that_is_only_suffix_like() -> None:
    assert normalise_descriptor("LTD") == "LTD"
    assert normalise_descriptor("ACME GB") == "ACME GB"  # no city before the code
    with pytest.raises(InvalidCardFact, match="no letters or digits"):
        normalise_descriptor("*** --")


def test_similarity_keeps_its_evidence() -> None:
    similarity = descriptor_similarity("ACME*DIGITAL 0423", "ACME DIGITAL LTD")
    assert similarity.score == 100
    assert similarity.rule == "same normalised form"
    assert (similarity.normalised_a, similarity.normalised_b) == ("ACME DIGITAL", "ACME DIGITAL")
    truncated = descriptor_similarity("ACME DIGITAL SERVICES LTD", "ACME DIGITAL SERVIC")
    assert truncated.rule == "truncation_ratio"
    assert truncated.score == 100
    compact = descriptor_similarity("ACMEDIGITAL", "ACME DIGITAL")
    assert compact.rule == "compact_ratio"


def test_different_merchants_score_below_the_default_threshold() -> None:
    assert descriptor_similarity("ACME DIGITAL", "ACME MEDIA").score < 90
    assert descriptor_similarity("BLUE RIVER MEDIA", "BLUE RIVER DIGITAL").score < 90


_descriptor_text = st.text(
    alphabet=st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefgh0123456789*.-#&'"),
    min_size=1,
    max_size=30,
).filter(lambda s: any(c.isalnum() for c in s))


@given(_descriptor_text)
def test_normalisation_is_idempotent(text: str) -> None:
    once = normalise_descriptor(text)
    assert normalise_descriptor(once) == once


@given(_descriptor_text, _descriptor_text)
def test_similarity_is_symmetric_and_bounded(a: str, b: str) -> None:
    ab, ba = descriptor_similarity(a, b), descriptor_similarity(b, a)
    assert ab.score == ba.score
    assert 0 <= ab.score <= 100


# Fictitious merchant names, each pair differing by at least a whole word.
_MERCHANTS = [
    "AURORA DIGITAL",
    "VELVET MEDIA",
    "NOVA PIXEL",
    "ORCHID STREAM",
    "PRISM CONTENT",
    "ECHO ONLINE",
    "HALO SERVICES",
    "LUMEN CLUB",
    "ZENITH PASS",
    "MIRAGE ACCESS",
    "ONYX MEMBERS",
    "SOLACE WEB",
    "TEMPEST FILES",
    "VERTEX PORTAL",
    "CASCADE HOSTING",
    "EMBER GALLERY",
    "NIMBUS SUPPORT",
    "QUARTZ NETWORK",
    "SABLE SYSTEMS",
    "TIDAL VENTURES",
]


def _variants(name: str, rng: random.Random) -> list[str]:
    first, second = name.split()
    return [
        name,
        f"{first}*{second} {rng.randint(100, 9999):04d}",
        f"{name} {rng.choice(['LTD', 'LLC', 'GMBH', 'S.A.R.L.', 'B.V.'])}",
        f"SQ *{name.title()}",
        f"{name} {rng.choice(['LONDON GB', 'BERLIN DE', 'RIGA LV', 'DUBLIN IE'])}",
        f"{first}{second}.TEST",
        f"{name} LIMITED"[:22].upper(),
    ]


def test_linking_recovers_each_merchant_with_high_precision_and_recall() -> None:
    rng = random.Random(20240607)
    truth: dict[str, str] = {}
    for name in _MERCHANTS:
        for variant in _variants(name, rng):
            truth[variant] = name
    linkage = link_descriptors(truth)
    grouped = {d: i for i, group in enumerate(linkage.groups) for d in group}
    pairs = list(itertools.combinations(sorted(truth), 2))
    same_truth = {p for p in pairs if truth[p[0]] == truth[p[1]]}
    same_group = {p for p in pairs if grouped[p[0]] == grouped[p[1]]}
    precision = len(same_truth & same_group) / len(same_group)
    recall = len(same_truth & same_group) / len(same_truth)
    print(f"descriptor linking: precision {precision:.3f} recall {recall:.3f}")
    assert precision >= 0.95
    assert recall >= 0.95


def test_every_link_carries_its_scores_and_normalised_forms() -> None:
    linkage = link_descriptors(
        ["ACME*DIGITAL 0423", "ACME DIGITAL LTD", "ACME DIGITAL SERVICES", "ACME DIGITAL SERVIC"],
        threshold=95,
    )
    assert linkage.threshold == 95
    assert linkage.groups == (
        ("ACME DIGITAL LTD", "ACME*DIGITAL 0423"),
        ("ACME DIGITAL SERVIC", "ACME DIGITAL SERVICES"),
    )
    assert len(linkage.links) == 2
    for link in linkage.links:
        assert link.score >= 95
        assert link.normalised_a
        assert link.normalised_b
        assert link.rule in ("same normalised form", "truncation_ratio")


def test_linking_agrees_with_pairwise_similarity() -> None:
    rng = random.Random(7)
    descriptors = sorted({v for name in _MERCHANTS[:8] for v in _variants(name, rng)})
    linkage = link_descriptors(descriptors, threshold=85)
    linked = {(link.a, link.b) for link in linkage.links}
    for a, b in itertools.combinations(descriptors, 2):
        expected = descriptor_similarity(a, b).score >= 85
        assert ((a, b) in linked) == expected, (a, b)


def test_linking_rejects_a_threshold_out_of_range() -> None:
    with pytest.raises(ValueError, match="threshold"):
        link_descriptors(["A"], threshold=101)
