"""Evidence: a capture's pages as WARC records (ISO 28500, written with warcio), and the
self-verifying bundle ``cordon capture export`` writes.

What a WARC of Cordon's holds, in order:

* ``warcinfo``: the fetcher's version, the resolver, the egress profile, the capture's times;
* per page fetch (``base``, and the cloaking probes ``agent`` and ``referrer``): a ``request``
  record and a ``response`` record with the page **text**, every inline picture (``data:`` URI or
  bare base64) replaced by ``data:<type>;sha256=<hex>``; a page that was not text keeps only its
  headers;
* per picture: a ``metadata`` record (JSON) with its URL, status, types, size and hashes: media
  response bodies are never stored;
* a ``metadata`` record with the capture itself: redirect chain with each hop's address,
  resolved addresses, TLS certificate, budgets, cloaking.

Every record is gzip-compressed on its own (the usual ``.warc.gz``), and the file's SHA-256 is
kept beside it. The bundle is a zip of ``capture.json``, ``evidence.warc.gz`` and
``manifest.json`` (the SHA-256 of both files); :func:`verify_bundle` checks all of it, including
every WARC record's block digest.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from warcio.archiveiterator import ArchiveIterator  # type: ignore[import-untyped]  # warcio ships no type information
from warcio.statusandheaders import StatusAndHeaders  # type: ignore[import-untyped]  # idem
from warcio.warcwriter import WARCWriter  # type: ignore[import-untyped]  # idem

WARC_FORMAT: Final = "warc/1.1+gzip"
BUNDLE_FORMAT: Final = "cordon-capture-bundle/1"
_DROPPED_HEADERS: Final = frozenset({"content-encoding", "transfer-encoding", "content-length"})


@dataclass(frozen=True)
class PageRecord:
    """One fetch of the page as kept: its name, URL, request headers, response and text."""

    name: str
    url: str
    request_headers: list[tuple[str, str]]
    status: int | None
    reason: str
    protocol: str
    headers: list[tuple[str, str]]
    text: bytes | None
    """The page text with inline pictures replaced by hashes, or None when not text."""


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def build_warc(
    *,
    at: datetime,
    info: dict[str, Any],
    pages: Sequence[PageRecord],
    media: Sequence[dict[str, Any]],
    capture: dict[str, Any],
) -> tuple[bytes, int]:
    """The WARC file (gzip per record) of a capture, and its number of records."""
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=True, warc_version="WARC/1.1")
    date = {"WARC-Date": _iso(at)}
    count = 0
    record = writer.create_warcinfo_record("evidence.warc.gz", info)
    record.rec_headers.replace_header("WARC-Date", _iso(at))
    writer.write_record(record)
    count += 1
    for page in pages:
        target = page.url
        request = StatusAndHeaders(
            f"GET {_path_of(target)} HTTP/1.1", page.request_headers, is_http_request=True
        )
        writer.write_record(
            writer.create_warc_record(
                target,
                "request",
                http_headers=request,
                warc_headers_dict={**date, "WARC-Concurrent-To-Name": page.name},
            )
        )
        count += 1
        if page.status is None:
            continue
        headers = [(k, v) for k, v in page.headers if k.lower() not in _DROPPED_HEADERS]
        body = page.text if page.text is not None else b""
        headers.append(("Content-Length", str(len(body))))
        if page.text is None:
            headers.append(("X-Cordon-Body", "not kept: not a text page"))
        response = StatusAndHeaders(
            f"{page.status} {page.reason}".strip(), headers, protocol=page.protocol
        )
        writer.write_record(
            writer.create_warc_record(
                target,
                "response",
                payload=io.BytesIO(body),
                length=len(body),
                http_headers=response,
                warc_headers_dict={**date, "WARC-Cordon-Fetch": page.name},
            )
        )
        count += 1
    for item in media:
        payload = json.dumps(item, sort_keys=True).encode()
        writer.write_record(
            writer.create_warc_record(
                str(item.get("url", ""))[:2000]
                if not str(item.get("url", "")).startswith("data:")
                else f"urn:sha256:{item.get('sha256') or ''}",
                "metadata",
                payload=io.BytesIO(payload),
                length=len(payload),
                warc_content_type="application/json",
                warc_headers_dict={**date, "WARC-Cordon-Kind": "media-hashes"},
            )
        )
        count += 1
    payload = json.dumps(capture, sort_keys=True, default=str).encode()
    writer.write_record(
        writer.create_warc_record(
            str(capture.get("requested_url", "urn:cordon:capture")),
            "metadata",
            payload=io.BytesIO(payload),
            length=len(payload),
            warc_content_type="application/json",
            warc_headers_dict={**date, "WARC-Cordon-Kind": "capture"},
        )
    )
    count += 1
    return buffer.getvalue(), count


def _path_of(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


@dataclass(frozen=True)
class WarcRecordSummary:
    """One record of a WARC file as read back."""

    type: str
    uri: str | None
    content_type: str | None
    length: int


def read_warc(data: bytes) -> list[WarcRecordSummary]:
    """The records of a WARC file, checking every record's digests; raises ``ValueError``
    naming the first record whose digest does not hold."""
    out: list[WarcRecordSummary] = []
    iterator = ArchiveIterator(io.BytesIO(data), check_digests=True)
    for record in iterator:
        payload = record.content_stream().read()
        if record.digest_checker.problems:
            raise ValueError(
                f"WARC record {len(out) + 1} ({record.rec_type}) fails its digest check: "
                f"{record.digest_checker.problems}"
            )
        out.append(
            WarcRecordSummary(
                record.rec_type,
                record.rec_headers.get_header("WARC-Target-URI"),
                record.rec_headers.get_header("Content-Type"),
                len(payload),
            )
        )
    if not out:
        raise ValueError("the WARC file holds no record")
    return out


def write_bundle(capture: dict[str, Any], warc: bytes, warc_sha256: bytes) -> bytes:
    """The export bundle (zip) of a capture: its record, its WARC, and a manifest of both."""
    record = json.dumps(capture, sort_keys=True, indent=1, default=str).encode()
    manifest = {
        "format": BUNDLE_FORMAT,
        "capture_id": capture.get("id"),
        "files": {
            "capture.json": hashlib.sha256(record).hexdigest(),
            "evidence.warc.gz": hashlib.sha256(warc).hexdigest(),
        },
        "evidence_sha256_recorded": warc_sha256.hex(),
        "fetcher_version": capture.get("fetcher_version"),
        "resolver": capture.get("resolver"),
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        # Fixed timestamps: the same capture always gives the same bundle.
        for name, data in (
            ("capture.json", record),
            ("evidence.warc.gz", warc),
            ("manifest.json", json.dumps(manifest, sort_keys=True, indent=1).encode()),
        ):
            info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(info, data)
    return out.getvalue()


def verify_bundle(data: bytes) -> list[str]:
    """Check an export bundle; returns the problems found (empty: it verifies).

    Checks: the three files are there; each file's SHA-256 is the manifest's; the WARC's SHA-256
    is the one recorded at capture time and named in ``capture.json``; every WARC record's
    digest holds.
    """
    problems: list[str] = []
    try:
        bundle = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return ["the bundle is not a zip file"]
    names = set(bundle.namelist())
    for required in ("capture.json", "evidence.warc.gz", "manifest.json"):
        if required not in names:
            problems.append(f"{required} is missing")
    if problems:
        return problems
    manifest = json.loads(bundle.read("manifest.json"))
    for name, digest in manifest.get("files", {}).items():
        actual = hashlib.sha256(bundle.read(name)).hexdigest()
        if actual != digest:
            problems.append(f"{name}: SHA-256 {actual} is not the manifest's {digest}")
    warc = bundle.read("evidence.warc.gz")
    capture = json.loads(bundle.read("capture.json"))
    recorded = capture.get("evidence", {}).get("sha256")
    actual_warc = hashlib.sha256(warc).hexdigest()
    if recorded != actual_warc:
        problems.append(f"evidence.warc.gz: SHA-256 {actual_warc} is not the capture's {recorded}")
    if manifest.get("evidence_sha256_recorded") != actual_warc:
        problems.append("evidence.warc.gz: SHA-256 differs from the one recorded at capture time")
    try:
        read_warc(warc)
    except Exception as exc:  # any parse failure is a problem of the bundle, reported as such
        problems.append(f"evidence.warc.gz does not read: {exc}")
    return problems
