"""What a generated world contains, and that the same seed always gives the same world."""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from pathlib import Path

import base58
import pytest
from Crypto.Hash import keccak
from pydantic import ValidationError

from cordon.domain.payments.bech32 import segwit_decode
from cordon.world import GroundTruth, WorldSpec, build_world
from cordon.world.generate import generate
from cordon.world.wallets import eip55

from .conftest import READ_ONLY_SPEC


def test_same_seed_gives_byte_identical_truth_and_hash_list(
    built_world: tuple[Path, GroundTruth], tmp_path: Path
) -> None:
    folder, _ = built_world
    again = tmp_path / "again"
    build_world(READ_ONLY_SPEC, again, workers=1)
    for name in (
        "spec.json",
        "ground_truth.json",
        "known.txt",
        "ca/world-ca.pem",
        "ipdb/world-asn.mmdb",
        "ipdb/world-country.mmdb",
    ):
        assert (again / name).read_bytes() == (folder / name).read_bytes(), name


def test_two_seeds_give_different_worlds() -> None:
    one = generate(WorldSpec(seed=1, sites=40))
    two = generate(WorldSpec(seed=2, sites=40))
    assert [s.domain for s in one.sites] != [s.domain for s in two.sites]
    assert [n.identifiers.btc for n in one.networks] != [n.identifiers.btc for n in two.networks]


def test_spec_rejects_worlds_that_cannot_exist() -> None:
    with pytest.raises(ValidationError, match="networks do not fit"):
        WorldSpec(seed=1, sites=20, networks=10)
    with pytest.raises(ValidationError, match="at most half"):
        WorldSpec(seed=1, sites=20, pictures=20, known_pictures=11)
    with pytest.raises(ValidationError):
        WorldSpec(seed=-1)


def test_blocks_are_in_loopback_but_clear_of_cordons_own(
    built_world: tuple[Path, GroundTruth],
) -> None:
    _, truth = built_world
    loopback = ipaddress.ip_network("127.0.0.0/8")
    cordon = ipaddress.ip_network("127.0.0.0/16")
    for block in truth.blocks:
        net = ipaddress.ip_network(block.cidr)
        assert net.subnet_of(loopback)
        assert not net.overlaps(cordon)
        assert 64512 <= block.asn <= 65534
    for site in truth.sites:
        for hosting in [site.hosting, *(h.hosting for h in site.hops)]:
            for address in (hosting.address, hosting.cdn_address):
                if address:
                    assert truth.block_of(address)


def test_world_has_a_cdn_a_two_country_provider_and_every_desk_behaviour(
    built_world: tuple[Path, GroundTruth],
) -> None:
    _, truth = built_world
    cdn = [p for p in truth.providers if p.kind == "cdn"]
    assert len(cdn) == 1
    fronted = [s for s in truth.sites if s.hosting.cdn == cdn[0].id]
    assert len({s.hosting.provider for s in fronted}) >= 2  # fronts several other providers
    assert any(len(p.countries) == 2 and len(p.blocks) == 2 for p in truth.providers)
    for desks in (truth.providers, truth.registrars, truth.payment_providers):
        acts = {d.desk.acts for d in desks}
        assert acts == {"first_notice", "after_notices", "after_delay", "never"} or len(desks) < 4
    assert {p.desk.acts for p in truth.providers} == {
        "first_notice",
        "after_notices",
        "after_delay",
        "never",
    }


def test_networks_are_connected_by_shared_identifiers_but_none_is_on_every_site(
    built_world: tuple[Path, GroundTruth],
) -> None:
    _, truth = built_world
    for network in truth.networks:
        storefronts = [truth.site(s) for s in network.sites if truth.site(s).role == "storefront"]
        assert len(storefronts) >= 2
        # Union-find over storefronts that share any identifier.
        parent = {s.id: s.id for s in storefronts}

        def find(x: str, parent: dict[str, str] = parent) -> str:
            while parent[x] != x:
                x = parent[x]
            return x

        by_identifier: dict[str, list[str]] = defaultdict(list)
        for site in storefronts:
            for identifier in site.identifiers.all():
                by_identifier[identifier].append(site.id)
        for members in by_identifier.values():
            for other in members[1:]:
                parent[find(other)] = find(members[0])
        assert len({find(s.id) for s in storefronts}) == 1, network.id
    unshared = [
        i
        for n in truth.networks
        for i in n.identifiers.all()
        if sum(i in truth.site(s).identifiers.all() for s in n.sites) == 1
    ]
    assert unshared, "some identifiers belong to one site only"


def test_noise_sites_share_no_identifier_with_networks_but_share_hosting(
    built_world: tuple[Path, GroundTruth],
) -> None:
    _, truth = built_world
    network_ids = {i for n in truth.networks for i in n.identifiers.all()}
    noise = [s for s in truth.sites if s.role == "noise"]
    unrelated = [s for s in truth.sites if s.role == "unrelated"]
    assert noise
    assert unrelated
    for site in noise + unrelated:
        assert not set(site.identifiers.all()) & network_ids, site.id
    network_addresses = {s.hosting.address for s in truth.sites if s.network}
    network_edges = {s.hosting.cdn_address for s in truth.sites if s.network and s.hosting.cdn}
    assert any(s.hosting.address in network_addresses for s in unrelated)
    assert any(s.hosting.cdn_address in network_edges for s in unrelated + noise)


def test_every_wallet_address_carries_a_valid_checksum(
    built_world: tuple[Path, GroundTruth],
) -> None:
    _, truth = built_world
    kinds = set()
    for site in truth.sites:
        for address in site.identifiers.btc:
            if address.startswith("bc1"):
                decoded = segwit_decode(address)
                assert decoded.hrp == "bc"
                kinds.add(f"segwit-v{decoded.witness_version}")
            else:
                payload = base58.b58decode_check(address)
                assert payload[0] in (0, 5)
                assert len(payload) == 21
                kinds.add(f"base58-{payload[0]}")
        for address in site.identifiers.eth:
            lower = address[2:].lower()
            digest = keccak.new(digest_bits=256, data=lower.encode()).hexdigest()
            expected = "".join(
                c.upper() if c.isalpha() and int(digest[i], 16) >= 8 else c
                for i, c in enumerate(lower)
            )
            assert address == "0x" + expected
            kinds.add("eth")
    assert kinds == {"segwit-v0", "segwit-v1", "base58-0", "base58-5", "eth"}


def test_eip55_matches_the_specification_examples() -> None:
    for example in (
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    ):
        assert eip55(example.lower()) == example


def test_evasions_and_test_purchases_are_present(built_world: tuple[Path, GroundTruth]) -> None:
    _, truth = built_world
    sites = truth.sites
    assert any(s.gateway for s in sites)
    assert any(s.media_host for s in sites)
    assert any(len(s.redirect_chain) >= 2 for s in sites)
    assert any(s.hops for s in sites)
    assert {p.embed for s in sites for p in s.pictures} == {
        "img",
        "srcset",
        "data-src",
        "css",
        "data-uri",
    }
    https = sum(s.https for s in sites)
    assert len(sites) * 0.6 < https < len(sites)
    assert truth.test_purchases
    accounts = {f"{a.psp}:{a.account}": a for a in truth.accounts}
    for purchase in truth.test_purchases:
        site = truth.site(purchase.site)
        ref = f"{purchase.payment_provider}:{purchase.account}"
        assert ref in site.identifiers.accounts
        assert purchase.merchant_id == accounts[ref].merchant_id
        assert len(purchase.acquirer_bin) == 6
        assert purchase.date < truth.spec.start


def test_all_names_are_under_the_reserved_test_tld(built_world: tuple[Path, GroundTruth]) -> None:
    _, truth = built_world
    names = [d for s in truth.sites for d in s.domains()]
    names += [p.domain for p in truth.providers] + [r.domain for r in truth.registrars]
    names += [p.checkout_host for p in truth.payment_providers]
    names += [e.split("@")[1] for s in truth.sites for e in s.identifiers.emails]
    assert all(n.endswith(".test") for n in names)
    assert len({d for s in truth.sites for d in s.domains()}) == sum(
        len(s.domains()) for s in truth.sites
    )
