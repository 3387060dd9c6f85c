"""XARF v4 ``content``/``csam`` reports, one per URL of a takedown notice.

Pure: builds the report from facts Cordon holds. A report never carries ``evidence``
payloads or a ``screenshot_url`` (Cordon holds no content to show), and none is made without a
classification. Reports validate against the published XARF v4 schemas
(``xarf-v4-master.json``, ``content-csam.json``); tests check every report Cordon emits.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

XARF_VERSION = "4.2.0"
CLASSIFICATIONS = ("baseline", "A1", "A2", "B1", "B2")
DETECTION_METHODS = ("hash_match", "manual_review")
#: Fields a Cordon report must never carry.
FORBIDDEN = ("evidence", "screenshot_url")
_NAMESPACE = uuid.UUID("6f1c2b1e-8c1d-4f4e-9a53-1b7c0d1e2f30")


class XarfError(ValueError):
    """A report that cannot be made: the message names the missing or bad fact."""


@dataclass(frozen=True)
class Party:
    """A reporter or sender: organisation name, contact address and domain."""

    org: str
    contact: str

    @property
    def domain(self) -> str:
        return self.contact.rpartition("@")[2].lower()

    def as_dict(self) -> dict[str, str]:
        return {"org": self.org[:200], "contact": self.contact, "domain": self.domain}


def report_id(notice_id: int, url_id: int, round_key: str = "") -> str:
    """A stable UUID for the report about ``url_id`` in ``notice_id`` (same on every repeat)."""
    return str(uuid.uuid5(_NAMESPACE, f"{notice_id}/{url_id}/{round_key}"))


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def build_report(
    *,
    report_uuid: str,
    url: str,
    host: str,
    observed_at: datetime,
    classification: str | None,
    detection_method: str,
    reporter: Party,
    source_identifier: str | None,
    hash_values: Mapping[str, str] | None = None,
    matched_media: int = 0,
    asn: int | None = None,
    country: str | None = None,
    provider: str | None = None,
    registrar: str | None = None,
    verified_at: datetime | None = None,
) -> dict[str, Any]:
    """One XARF v4 ``content``/``csam`` report about ``url``.

    ``classification`` is required (one of :data:`CLASSIFICATIONS`); ``detection_method`` is
    ``hash_match`` or ``manual_review``; ``hash_values`` holds hex digests (``sha256``,
    ``md5``) and ``pdq`` of a picture on the page. Raises :class:`XarfError`.
    """
    if classification not in CLASSIFICATIONS:
        raise XarfError(
            f"no XARF report without a classification (got {classification!r}; "
            f"one of {', '.join(CLASSIFICATIONS)})"
        )
    if detection_method not in DETECTION_METHODS:
        raise XarfError(f"detection method {detection_method!r} is not one Cordon uses")
    report: dict[str, Any] = {
        "xarf_version": XARF_VERSION,
        "report_id": report_uuid,
        "timestamp": _iso(observed_at),
        "reporter": reporter.as_dict(),
        "sender": reporter.as_dict(),
        "source_identifier": source_identifier or host,
        "category": "content",
        "type": "csam",
        "url": url,
        "domain": host.lower().rstrip("."),
        "classification": classification,
        "detection_method": detection_method,
        "media_type": "image",
        "evidence_source": "crawler" if detection_method == "hash_match" else "researcher_analysis",
        "verification_method": (
            "automated_crawler" if detection_method == "hash_match" else "manual"
        ),
        "content_removed": False,
        "confidence": 1.0,
        "tags": [f"classification:{classification.lower()}", f"detection:{detection_method}"],
        "description": (
            f"Confirmed by {detection_method.replace('_', ' ')}"
            + (f" ({matched_media} matched picture(s))" if matched_media else "")
            + ". No imagery is sent; act on the URL."
        ),
    }
    hashes = {k: v.lower() for k, v in (hash_values or {}).items() if v}
    if hashes:
        report["hash_values"] = hashes
    if asn:
        report["asn"] = int(asn)
    if country:
        report["country_code"] = country.upper()
    if provider:
        report["hosting_provider"] = provider
    if registrar:
        report["registrar"] = registrar
    if verified_at is not None:
        report["verified_at"] = _iso(verified_at)
    check(report)
    return report


def check(report: Mapping[str, Any]) -> None:
    """Refuse a report Cordon must not send. Raises :class:`XarfError`."""
    for name in FORBIDDEN:
        if name in report:
            raise XarfError(f"a Cordon XARF report never carries {name!r}")
    if report.get("classification") not in CLASSIFICATIONS:
        raise XarfError("no XARF report without a classification")
