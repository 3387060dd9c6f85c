"""Evidence records: one gzip member each, read back and verified by warcio."""

from __future__ import annotations

import gzip
import io
import zlib
from datetime import UTC, datetime
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator  # type: ignore[import-untyped]  # warcio ships no type information

from cordon.crawl.evidence import PageRecord, build_warc, read_warc

AT = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)


def _capture(pages: list[PageRecord], media: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "at": AT,
        "info": {"software": "cordon-test/1", "resolver": "127.0.0.1:53", "empty": ""},
        "pages": pages,
        "media": media,
        "capture": {"requested_url": "https://shop.example.test/a", "at": AT, "n": 1},
    }


def _page(name: str, **changes: Any) -> PageRecord:
    fields: dict[str, Any] = {
        "name": name,
        "url": "https://shop.example.test/a/b?q=1&r=%C3%A9",
        "request_headers": [("User-Agent", "Mozilla/5.0 (X11) Firefox/128.0"), ("Accept", "*/*")],
        "status": 200,
        "reason": "",
        "protocol": "HTTP/2",
        "headers": [
            ("Server", "nginx"),
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Encoding", "br"),
            ("Content-Length", "12"),
        ],
        "text": "<!DOCTYPE html><p>Grüße data:image/png;sha256=00</p>\n".encode(),
    }
    fields.update(changes)
    return PageRecord(**fields)


MEDIA = [
    {"url": "https://cdn.example.test/x.jpg", "sha256": "ab" * 32, "bytes": 10, "pdq": None},
    {"url": "data:image/png;sha256=" + "cd" * 32, "sha256": "cd" * 32, "bytes": 3},
    {"url": "", "sha256": None, "status": "failed"},
    {"url": "https://cdn.example.test/" + "l" * 2100, "sha256": "ef" * 32},
]


@pytest.mark.parametrize(
    "pages",
    [
        [_page("base")],
        [_page("base"), _page("agent", reason="OK", protocol="HTTP/1.1"), _page("referrer")],
        [_page("base", text=None, status=206), _page("agent", status=None)],
        [_page("base", text=b"")],
        [_page("base", text=bytes(range(256)) * 300)],
        [_page("base", headers=[("Content-Disposition", 'inline; filename="r\u00e9sum\u00e9"')])],
        [_page("base", headers=[("X-Name", "caf\u00e9")], request_headers=[("X", "\u00fc")])],
    ],
    ids=["one", "probes", "not-text", "empty", "large", "non-ascii-param", "non-ascii"],
)
def test_every_record_reads_back_and_verifies(pages: list[PageRecord]) -> None:
    data, count = build_warc(**_capture(pages, MEDIA))
    records = read_warc(data)
    assert len(records) == count == 1 + sum(1 if p.status is None else 2 for p in pages) + 5
    for record in ArchiveIterator(io.BytesIO(data), check_digests=True):
        record.content_stream().read()
        assert record.digest_checker.passed is not False
        assert not record.digest_checker.problems


def test_warcio_reads_and_verifies_every_record() -> None:
    pages = [_page("base"), _page("agent"), _page("probe", text=None)]
    data, count = build_warc(**_capture(pages, MEDIA))
    records = read_warc(data)
    assert len(records) == count == 1 + 2 * 3 + len(MEDIA) + 1
    assert [r.type for r in records][:3] == ["warcinfo", "request", "response"]
    ids = set()
    for record in ArchiveIterator(io.BytesIO(data), check_digests=True):
        record.content_stream().read()
        assert record.digest_checker.passed is not False
        assert not record.digest_checker.problems
        ids.add(record.rec_headers.get_header("WARC-Record-ID"))
    assert len(ids) == count


def test_a_changed_byte_fails_the_digest_check() -> None:
    data, _ = build_warc(**_capture([_page("base")], MEDIA))
    members = [zlib.decompress(m, 16 + zlib.MAX_WBITS) for m in _split(data)]
    members[2] = members[2].replace(b"Gr\xc3\xbc\xc3\x9fe", b"Gruesse")
    tampered = b"".join(gzip.compress(m) for m in members)
    with pytest.raises(ValueError, match="digest"):
        read_warc(tampered)


def _split(data: bytes) -> list[bytes]:
    out = []
    while data:
        member = zlib.decompressobj(16 + zlib.MAX_WBITS)
        member.decompress(data)
        out.append(data[: len(data) - len(member.unused_data)])
        data = member.unused_data
    return out
