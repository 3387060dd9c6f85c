"""``cordon attribute`` and ``cordon doctor`` against loopback DNS and RDAP servers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from attribution.servers import Loopback, write_databases
from cordon.cli.main import app
from cordon.clock import FrozenClock
from cordon.store.db import write
from support import make_member


def _config(loopback: Loopback, database_url: str, **ipdb: str) -> Path:
    folder = loopback.folder
    asn = ipdb.get("asn", str(folder / "asn.mmdb"))
    country = ipdb.get("country", str(folder / "country.mmdb"))
    text = f"""
database_url = "{database_url}"

[dns]
resolvers = ["{loopback.dns.resolver}"]
timeout_seconds = 1.0

[ipdb]
asn_database = "{asn}"
country_database = "{country}"
max_age_days = 400

[rdap]
bootstrap_dir = "{folder / "bootstrap"}"
rate_limit = "100 per 1 second"

[attribution]
cdn_files = ["{folder / "cdn.json"}"]
"""
    path = folder / "cordon.toml"
    path.write_text(text)
    return path


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_attribute_prints_the_whole_chain_as_json_with_routing(
    loopback: Loopback, engine: Engine, fresh_db: str, clock: FrozenClock
) -> None:
    with write(engine) as conn:
        make_member(conn, clock, org_type="hotline", country="NL", org_name="Hotline NL")
    config = _config(loopback, fresh_db)
    code, out = _invoke("--config", str(config), "attribute", "https://www.site.test/x", "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["host"] == "www.site.test"
    assert data["network"]["asn"] == 64500
    assert data["notice_party"] == {
        "name": "Example Hosting B.V.",
        "abuse_email": "abuse@hosting.test",
    }
    assert data["registrar"]["abuse"]["email"] == "abuse@registrar.test"
    assert [r["name"] for r in data["routing"]["routes"]] == ["Hotline NL"]


def test_attribute_draws_a_tree_naming_the_cdn(loopback: Loopback, tmp_path: Path) -> None:
    config = _config(loopback, f"sqlite:///{tmp_path / 'none.db'}")
    code, out = _invoke("--config", str(config), "attribute", "fronted.test")
    assert code == 0, out
    assert "CDN: Example Edge" in out
    assert "Notice to: Example Edge Inc. <abuse@edge.test>" in out
    assert "Origin: candidate" in out
    assert "partners unavailable" in out  # no database here: said, not fatal


def test_attribute_of_an_ip_address_skips_dns_and_registrar(
    loopback: Loopback, tmp_path: Path
) -> None:
    config = _config(loopback, f"sqlite:///{tmp_path / 'none.db'}")
    code, out = _invoke("--config", str(config), "attribute", "192.0.2.10", "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["is_ip"] is True
    assert data["dns"] == []
    assert data["registrar"] is None
    assert data["network"]["provider"] == "Example Hosting B.V."


def test_attribute_of_a_name_that_does_not_exist_exits_1_with_the_failure(
    loopback: Loopback, tmp_path: Path
) -> None:
    config = _config(loopback, f"sqlite:///{tmp_path / 'none.db'}")
    code, out = _invoke("--config", str(config), "attribute", "gone.test")
    assert code == 1
    assert "nxdomain" in out
    assert "gone.test does not exist" in out


@pytest.mark.parametrize("bad", ["http://", "exa mple.test", "ftp://x.test/"])
def test_attribute_names_a_bad_target(loopback: Loopback, tmp_path: Path, bad: str) -> None:
    config = _config(loopback, f"sqlite:///{tmp_path / 'none.db'}")
    code, out = _invoke("--config", str(config), "attribute", bad)
    assert code == 1
    assert "is not a URL, domain name or IP address" in out


def test_doctor_reports_build_dates_resolvers_and_bootstrap(
    loopback: Loopback, tmp_path: Path
) -> None:
    config = _config(loopback, f"sqlite:///{tmp_path / 'none.db'}")
    code, out = _invoke("--config", str(config), "doctor", "--json")
    assert code == 0, out
    report = json.loads(out)
    assert report["ok"] is True
    by_subject = {c["subject"]: c for c in report["checks"]}
    asn = by_subject[f"ASN database {loopback.folder / 'asn.mmdb'}"]
    assert asn["build_date"] == "2026-01-01"
    assert asn["database_type"] == "GeoLite2-ASN"
    assert by_subject[f"resolver {loopback.dns.resolver}"]["level"] == "ok"
    assert by_subject["bootstrap dns.json"]["services"] == 1


def test_doctor_fails_on_a_missing_old_or_corrupt_database(
    loopback: Loopback, tmp_path: Path
) -> None:
    old_asn, _ = write_databases(tmp_path / "old", epoch=1_500_000_000)  # 2017
    corrupt = tmp_path / "corrupt.mmdb"
    corrupt.write_bytes(b"not a database")
    config = _config(
        loopback, f"sqlite:///{tmp_path / 'none.db'}", asn=str(old_asn), country=str(corrupt)
    )
    code, out = _invoke("--config", str(config), "doctor")
    assert code == 1
    assert "2 problem(s) need attention" in out
    code, out = _invoke("--config", str(config), "doctor", "--json")
    summaries = [c["summary"] for c in json.loads(out)["checks"] if c["area"] == "ipdb"]
    assert "built 2017-07-14" in summaries[0]
    assert "older than ipdb.max_age_days (400)" in summaries[0]
    assert "cannot be read" in summaries[1]
    missing = _config(loopback, f"sqlite:///{tmp_path / 'none.db'}", asn=str(tmp_path / "x.mmdb"))
    code, out = _invoke("--config", str(missing), "doctor", "--json")
    assert code == 1
    assert "does not exist" in out


def test_doctor_fails_on_an_unreachable_resolver_and_a_missing_bootstrap(
    loopback: Loopback, tmp_path: Path
) -> None:
    config = _config(loopback, f"sqlite:///{tmp_path / 'none.db'}")
    text = config.read_text()
    text = text.replace(loopback.dns.resolver, "127.0.0.1:9")
    text = text.replace(str(loopback.folder / "bootstrap"), str(tmp_path / "nowhere"))
    config.write_text(text)
    code, out = _invoke("--config", str(config), "doctor", "--json")
    assert code == 1
    checks = {c["subject"]: c for c in json.loads(out)["checks"]}
    assert checks["resolver 127.0.0.1:9"]["level"] == "problem"
    assert "no bootstrap folder" in checks["bootstrap"]["summary"]
