"""What ``cordon doctor`` checks for attribution: the IP databases (present, readable, how old),
the resolvers (do they answer), the RDAP bootstrap files and the CDN data files."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.resolver

from cordon.attribution.cdn import CdnDataError, load_catalogue
from cordon.attribution.dns import ResolverConfigError, parse_resolver
from cordon.attribution.ipdb import IpDatabases
from cordon.attribution.rdap import bootstrap_folder, load_bootstrap
from cordon.config import Settings

Level = Literal["ok", "warning", "problem"]


@dataclass(frozen=True)
class Check:
    """One finding: what was checked, how it stands, and the details that show it."""

    area: str
    subject: str
    level: Level
    summary: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "area": self.area,
            "subject": self.subject,
            "level": self.level,
            "summary": self.summary,
            **self.details,
        }


def check_ipdb(settings: Settings, now: datetime) -> list[Check]:
    """Each configured database: its type and build date, and whether it is too old."""
    ipdb = settings.ipdb
    out: list[Check] = []
    if ipdb.asn_database is None:
        out.append(Check("ipdb", "ASN database", "problem", "not configured (ipdb.asn_database)"))
    if ipdb.country_database is None:
        out.append(
            Check("ipdb", "country database", "problem", "not configured (ipdb.country_database)")
        )
    databases = IpDatabases(ipdb)
    try:
        for info in databases.describe():
            subject = f"{info.role} database {info.path}"
            if not info.ok or info.build_date is None:
                out.append(Check("ipdb", subject, "problem", info.problem or "cannot be read"))
                continue
            age = (now - info.build_date).days
            details = {
                "path": str(info.path),
                "database_type": info.database_type,
                "build_date": info.build_date.date().isoformat(),
                "age_days": age,
            }
            built = f"{info.database_type}, built {info.build_date.date().isoformat()}"
            if age > ipdb.max_age_days:
                limit = ipdb.max_age_days
                summary = f"{built}: {age} days old, older than ipdb.max_age_days ({limit})"
                out.append(Check("ipdb", subject, "problem", summary, details))
            else:
                out.append(Check("ipdb", subject, "ok", f"{built} ({age} days old)", details))
    finally:
        databases.close()
    return out


def _probe(host: str, port: int, timeout: float) -> tuple[bool, str]:
    query = dns.message.make_query(".", "NS")
    started = time.monotonic()
    try:
        response = dns.query.udp(query, host, port=port, timeout=timeout)
    except dns.exception.Timeout:
        return False, f"no answer within {timeout:g} s"
    except (OSError, dns.exception.DNSException) as exc:
        return False, f"{type(exc).__name__}: {exc}"
    ms = (time.monotonic() - started) * 1000
    return True, f"answers ({dns.rcode.to_text(response.rcode())}, {ms:.0f} ms)"


def check_resolvers(settings: Settings) -> list[Check]:
    """Whether each resolver answers at all (any answer, even a refusal, means it is there)."""
    timeout = settings.dns.timeout_seconds
    targets: list[tuple[str, int, str]] = []
    if settings.dns.resolvers:
        for text in settings.dns.resolvers:
            try:
                host, port = parse_resolver(text)
            except ResolverConfigError as exc:
                return [Check("dns", text, "problem", str(exc))]
            targets.append((host, port, text))
    else:
        try:
            system = dns.resolver.Resolver(configure=True)
        except (dns.resolver.NoResolverConfiguration, OSError) as exc:
            return [Check("dns", "system resolver", "problem", f"no configuration: {exc}")]
        for ns in system.nameservers:
            targets.append((str(ns), 53, f"{ns} (system)"))
    out = []
    for host, port, label in targets:
        ok, summary = _probe(host, port, timeout)
        out.append(Check("dns", f"resolver {label}", "ok" if ok else "problem", summary))
    return out


def check_rdap(settings: Settings) -> list[Check]:
    """Whether the four RFC 9224 bootstrap files are there and readable."""
    folder = bootstrap_folder(settings.rdap)
    if not folder.is_dir():
        summary = (
            f"no bootstrap folder {folder}: set rdap.bootstrap_dir to a folder holding IANA's "
            "dns.json, ipv4.json, ipv6.json and asn.json"
        )
        return [Check("rdap", "bootstrap", "problem", summary)]
    out = [Check("rdap", "bootstrap folder", "ok", str(folder), {"path": str(folder)})]
    for f in load_bootstrap(folder).files:
        if f.ok:
            published = f", published {f.publication}" if f.publication else ""
            summary = f"{f.services} services{published}"
            details = {"path": str(f.path), "services": f.services, "publication": f.publication}
            out.append(Check("rdap", f"bootstrap {f.name}", "ok", summary, details))
        else:
            problem = f.problem or "unusable"
            out.append(
                Check("rdap", f"bootstrap {f.name}", "problem", problem, {"path": str(f.path)})
            )
    return out


def check_cdn(settings: Settings) -> list[Check]:
    """Whether the CDN data files load."""
    try:
        catalogue = load_catalogue(settings.attribution.cdn_files)
    except CdnDataError as exc:
        return [Check("cdn", "CDN data", "problem", str(exc))]
    files = ", ".join(str(p) for p in catalogue.files)
    return [Check("cdn", "CDN data", "ok", f"{len(catalogue.entries)} CDNs from {files}")]


def check_all(settings: Settings, now: datetime) -> list[Check]:
    """Every attribution check, in the order ``cordon doctor`` prints them."""
    return [
        *check_ipdb(settings, now),
        *check_resolvers(settings),
        *check_rdap(settings),
        *check_cdn(settings),
    ]
