"""The one place URLs enter the ``url`` table: normalised, keyed by the SHA-256 of their
normalised form, stored once whoever names them first (a report, a test purchase, a crawl)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from cordon.domain.urls import NormalizedUrl
from cordon.store.db import is_postgres
from cordon.store.tables import url

_CHUNK = 500


def url_key(normalized_url: str) -> bytes:
    """The key of a normalised URL: SHA-256 of its text."""
    return hashlib.sha256(normalized_url.encode()).digest()


def upsert_urls(conn: Connection, now: datetime, normalized: Sequence[NormalizedUrl]) -> list[int]:
    """The ids of ``normalized``, in order, storing those not yet known (first seen ``now``)."""
    digests = [url_key(n.url) for n in normalized]
    rows = {
        d: {
            "url_sha256": d,
            "url": n.url,
            "scheme": n.scheme,
            "host": n.host,
            "port": n.port,
            "registrable_domain": n.registrable_domain,
            "suffix": n.suffix,
            "first_seen_at": now,
        }
        for d, n in zip(digests, normalized, strict=True)
    }
    if not rows:
        return []
    insert = pg_insert if is_postgres(conn) else sqlite_insert
    conn.execute(
        insert(url).on_conflict_do_nothing(index_elements=["url_sha256"]), list(rows.values())
    )
    ids: dict[bytes, int] = {}
    for start in range(0, len(digests), _CHUNK):
        chunk = digests[start : start + _CHUNK]
        for digest, uid in conn.execute(
            select(url.c.url_sha256, url.c.id).where(url.c.url_sha256.in_(chunk))
        ):
            ids[bytes(digest)] = int(uid)
    return [ids[d] for d in digests]


def upsert_url(conn: Connection, now: datetime, normalized: NormalizedUrl) -> int:
    """The id of one normalised URL, stored if new."""
    return upsert_urls(conn, now, [normalized])[0]
