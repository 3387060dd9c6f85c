"""The CDN data file and recognising a CDN from AS number, aliases, headers and name servers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cordon.attribution.cdn import SHIPPED_FILE, CdnDataError, load_catalogue, read_file


def test_the_shipped_file_is_valid_and_ids_are_unique() -> None:
    shipped = read_file(SHIPPED_FILE)
    ids = [e.id for e in shipped.cdns]
    assert len(ids) == len(set(ids))
    assert shipped.reviewed
    # No AS number is claimed by two CDNs.
    asns = [a for e in shipped.cdns for a in e.asns]
    assert len(asns) == len(set(asns))


def test_the_as_number_decides_and_evidence_is_listed() -> None:
    catalogue = load_catalogue()
    found = catalogue.detect(
        asn=13335, aliases=["www.x.test"], nameservers=["ada.ns.cloudflare.com"], headers={}
    )
    assert found is not None
    assert found.id == "cloudflare"
    assert found.evidence == (
        "AS13335 is the edge network of Cloudflare",
        "name server ada.ns.cloudflare.com is Cloudflare's",
    )


def test_an_alias_or_a_header_is_enough_without_the_as_number() -> None:
    catalogue = load_catalogue()
    by_alias = catalogue.detect(asn=16509, aliases=["d111111abcdef8.cloudfront.net"])
    assert by_alias is not None
    assert by_alias.id == "cloudfront"
    by_header = catalogue.detect(asn=None, headers={"X-Sucuri-ID": "12345"})
    assert by_header is not None
    assert by_header.id == "sucuri"


def test_name_servers_alone_do_not_make_a_cdn() -> None:
    assert load_catalogue().detect(asn=64500, nameservers=["ada.ns.cloudflare.com"]) is None


def test_a_suffix_matches_on_label_boundaries_only() -> None:
    catalogue = load_catalogue()
    assert catalogue.by_alias("x.fastly.net") is not None
    assert catalogue.by_alias("notfastly.net") is None


def test_extra_files_add_and_replace_entries(tmp_path: Path) -> None:
    extra = tmp_path / "mine.json"
    extra.write_text(json.dumps({"format": "cordon-cdn/1", "cdns": [
        {"id": "cloudflare", "name": "Cloudflare (ours)", "asns": [13335]},
        {"id": "local-edge", "name": "Local Edge", "asns": [64501]},
    ]}))  # fmt: skip
    catalogue = load_catalogue([extra])
    assert catalogue.by_asn(13335).name == "Cloudflare (ours)"  # type: ignore[union-attr]
    assert catalogue.by_asn(64501).id == "local-edge"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("not json", "is not JSON"),
        ('{"format": "other/1", "cdns": []}', "format: Value error, format must be"),
        ('{"format": "cordon-cdn/1", "cdns": [{"id": "Bad Id", "name": "x"}]}', "cdns.0.id"),
        (
            '{"format": "cordon-cdn/1", "cdns": [{"id": "a", "name": "x", "asns": [0]}]}',
            "not an AS number",
        ),
        (
            '{"format": "cordon-cdn/1", "cdns": [{"id": "a", "name": "x", "oops": 1}]}',
            "cdns.0.oops",
        ),
    ],
)
def test_a_bad_cdn_file_is_named_with_the_field(tmp_path: Path, content: str, words: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    with pytest.raises(CdnDataError) as info:
        load_catalogue([bad])
    assert str(bad) in str(info.value)
    assert words in str(info.value)


def test_the_headers_a_crawler_should_keep_are_listed() -> None:
    names = load_catalogue().header_names()
    assert {"cf-ray", "x-amz-cf-id", "x-sucuri-id", "via", "server"} <= names
