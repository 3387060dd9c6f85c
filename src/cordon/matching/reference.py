"""Reference hashes of matched pictures, from a fresh fetch through the crawler's safe fetcher.

The crawler hashes pictures on the fast path and drops their bytes. Whatever enters a bank or
leaves Cordon is a reference hash (full decode, ``pdqhash``), so when a crawled picture matches
and confirms its URL, the picture is fetched again (the same address policy, pinning and budgets
as any crawl), checked to be the same bytes (SHA-256), hashed on the reference path, and dropped.
Pictures that were inline ``data:`` URIs are found again in a fresh fetch of their page. The bytes
live only in this process's memory for the duration of the hash.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import anyio

from cordon.config import Settings
from cordon.crawl.extract import parse_data_uri
from cordon.crawl.fetcher import Fetcher, FetcherConfig, FetchSession
from cordon.signals.hashing import hash_picture
from cordon.signals.pictures import PictureError

_DATA_URI = re.compile(r"""data:image/[a-z0-9.+-]+;base64,[A-Za-z0-9+/=\s%]+""", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Wanted:
    """A picture whose reference hash is wanted: where it was seen and what its bytes were."""

    media_sighting_id: int
    url: str
    sha256: str | None
    page_url: str | None


@dataclass(frozen=True, slots=True)
class Reference:
    """The reference PDQ hash of a picture, or why it could not be computed."""

    pdq: str | None = None
    quality: int | None = None
    error: str | None = None


def _hash(data: bytes, sha256: str | None, max_pixels: int) -> Reference:
    if sha256 and hashlib.sha256(data).hexdigest() != sha256:
        return Reference(error="the picture at the URL has changed since it was captured")
    try:
        signals = hash_picture(data, path="reference", max_pixels=max_pixels)
    except PictureError as exc:
        return Reference(error=f"the picture cannot be hashed: {exc}")
    return Reference(pdq=signals.pdq.hex, quality=signals.pdq.quality)


async def _one(session: FetchSession, want: Wanted, max_pixels: int) -> Reference:
    if want.url.startswith("data:"):
        if not want.page_url:
            return Reference(error="an inline picture without its page")
        page = await session.fetch(want.page_url, kind="page")
        if page.outcome != "ok" or page.breach is not None or page.status != 200:
            return Reference(
                error=f"the page could not be fetched again: {page.reason or page.status}"
            )
        text = page.body.decode("utf-8", "replace")
        for match in _DATA_URI.finditer(text):
            parsed = parse_data_uri(match.group(0))
            if parsed is not None and hashlib.sha256(parsed.data).hexdigest() == want.sha256:
                return _hash(parsed.data, want.sha256, max_pixels)
        return Reference(error="the inline picture is no longer on its page")
    result = await session.fetch(want.url, kind="media")
    if result.outcome != "ok" or result.breach is not None:
        reason = result.breach.reason if result.breach is not None else result.reason
        return Reference(
            error=f"the picture could not be fetched again: {reason or result.outcome}"
        )
    if result.status != 200:
        return Reference(error=f"the picture could not be fetched again: HTTP {result.status}")
    return _hash(result.body, want.sha256, max_pixels)


def reference_hashes(settings: Settings, wanted: Sequence[Wanted]) -> dict[int, Reference]:
    """The reference hash of each wanted picture, by media sighting id (never raises for what
    the remote side does: a failure is a :class:`Reference` with an ``error``)."""
    if not wanted:
        return {}
    try:
        fetcher = Fetcher(FetcherConfig.from_settings(settings))
    except ValueError as exc:
        return {w.media_sighting_id: Reference(error=f"configuration: {exc}") for w in wanted}
    max_pixels = settings.crawl.max_image_pixels

    async def run() -> dict[int, Reference]:
        out: dict[int, Reference] = {}
        async with fetcher.session() as session:
            for want in wanted:
                out[want.media_sighting_id] = await _one(session, want, max_pixels)
        return out

    return anyio.run(run)
