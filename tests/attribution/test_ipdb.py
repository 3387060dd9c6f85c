"""IP → ASN, organisation, prefix and country from MaxMind-format files, and what happens when a
file is missing or corrupt."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from attribution.servers import EPOCH, write_databases, write_mmdb
from cordon.attribution.ipdb import IpDatabases
from cordon.attribution.model import network_text
from cordon.config import IpdbSettings


def _dbs(asn: Path | None, country: Path | None) -> IpDatabases:
    return IpDatabases(IpdbSettings(asn_database=asn, country_database=country))


def test_geolite_layouts_give_asn_organisation_prefix_and_country(tmp_path: Path) -> None:
    asn, country = write_databases(tmp_path)
    record, failures = _dbs(asn, country).lookup("192.0.2.77")
    assert failures == ()
    assert record.asn == 64500
    assert record.as_org == "Example Hosting B.V."
    assert record.prefix == "192.0.2.0/24"
    assert record.country == "NL"


def test_an_address_in_no_network_has_nothing_and_no_failure(tmp_path: Path) -> None:
    asn, country = write_databases(tmp_path)
    record, failures = _dbs(asn, country).lookup("203.0.113.5")
    assert (record.asn, record.prefix, record.country, failures) == (None, None, None, ())


def test_one_ipinfo_lite_file_serves_as_both_databases(tmp_path: Path) -> None:
    path = write_mmdb(
        tmp_path / "ipinfo.mmdb",
        "ipinfo lite",
        {"192.0.2.0/25": {"asn": "AS64502", "as_name": "Lite Networks", "country_code": "se"}},
    )
    record, failures = _dbs(path, path).lookup("192.0.2.1")
    assert failures == ()
    assert (record.asn, record.as_org, record.prefix, record.country) == (
        64502,
        "Lite Networks",
        "192.0.2.0/25",
        "SE",
    )


def test_registered_country_is_used_when_there_is_no_country(tmp_path: Path) -> None:
    country = write_mmdb(
        tmp_path / "c.mmdb",
        "GeoLite2-Country",
        {"192.0.2.0/24": {"registered_country": {"iso_code": "DE"}}},
    )
    asn, _ = write_databases(tmp_path / "x")
    assert _dbs(asn, country).lookup("192.0.2.1")[0].country == "DE"


def test_a_missing_database_is_a_failure_naming_the_file(tmp_path: Path) -> None:
    asn, _ = write_databases(tmp_path)
    missing = tmp_path / "nowhere.mmdb"
    record, failures = _dbs(asn, missing).lookup("192.0.2.1")
    assert record.asn == 64500
    assert [f.outcome for f in failures] == ["unavailable"]
    assert str(missing) in failures[0].message
    assert "does not exist" in failures[0].message


def test_unconfigured_databases_are_failures() -> None:
    record, failures = _dbs(None, None).lookup("192.0.2.1")
    assert record.asn is None
    assert [f.outcome for f in failures] == ["unconfigured", "unconfigured"]


@pytest.mark.parametrize("damage", ["noise", "truncated", "empty"])
def test_a_corrupt_database_is_a_failure_not_an_exception(tmp_path: Path, damage: str) -> None:
    asn, country = write_databases(tmp_path)
    data = asn.read_bytes()
    if damage == "noise":
        asn.write_bytes(bytes((i * 7919) % 256 for i in range(4096)))
    elif damage == "truncated":
        asn.write_bytes(data[: len(data) // 3])
    else:
        asn.write_bytes(b"")
    dbs = _dbs(asn, country)
    record, failures = dbs.lookup("192.0.2.1")
    assert record.country == "NL"  # the other database still answers
    assert record.asn is None
    assert failures
    assert failures[0].outcome in ("unavailable", "corrupt")
    assert str(asn) in failures[0].message
    info = {d.role: d for d in dbs.describe()}
    assert info["ASN"].ok is False
    assert info["country"].ok is True


def test_a_damaged_data_section_is_a_failure_at_lookup(tmp_path: Path) -> None:
    asn, country = write_databases(tmp_path)
    data = bytearray(asn.read_bytes())
    # Overwrite the data section (after the search tree, before the metadata) with 0xff.
    marker = data.rfind(b"\xab\xcd\xefMaxMind.com")
    start = marker - 200
    data[start:marker] = b"\xff" * (marker - start)
    asn.write_bytes(bytes(data))
    record, failures = _dbs(asn, country).lookup("192.0.2.1")
    assert record.country == "NL"
    if failures:  # a reader may refuse at open or at lookup: both are failures, never raised
        assert failures[0].outcome in ("corrupt", "unavailable")


def test_describe_gives_type_and_build_date(tmp_path: Path) -> None:
    asn, country = write_databases(tmp_path)
    info = _dbs(asn, country).describe()
    assert [(d.role, d.database_type, d.ok) for d in info] == [
        ("ASN", "GeoLite2-ASN", True),
        ("country", "GeoLite2-Country", True),
    ]
    assert info[0].build_date == datetime.fromtimestamp(EPOCH, UTC)


def test_an_invalid_address_is_a_failure(tmp_path: Path) -> None:
    asn, country = write_databases(tmp_path)
    _, failures = _dbs(asn, country).lookup("not-an-address")
    assert failures
    assert failures[0].outcome == "invalid_address"


@given(st.ip_addresses(), st.data())
def test_network_text_is_the_address_with_host_bits_cleared(
    address: object, data: st.DataObject
) -> None:
    ip = ipaddress.ip_address(str(address))
    bits = 32 if ip.version == 4 else 128
    prefix_len = data.draw(st.integers(0, bits))
    expected = ipaddress.ip_network(f"{ip}/{prefix_len}", strict=False)
    # The same network (inet_ntop may spell a mapped IPv6 address differently).
    assert ipaddress.ip_network(network_text(str(ip), prefix_len)) == expected
