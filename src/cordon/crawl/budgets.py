"""What one fetch may cost, and how a body is read and decompressed within it.

A reported URL is hostile: its server may send an endless body, drip it a byte at a time, lie in
its Content-Length, or send a small gzip that expands to gigabytes. Every limit here ends the
read at the limit and says which limit and why, in words fit for the capture record.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Final, Literal

import brotli  # type: ignore[import-untyped]  # brotli ships no type information

from cordon.config import CrawlSettings

#: Decompression ratios are judged only once this much has been decompressed: small bodies
#: (a page of repeated markup) may compress very well without being a bomb.
RATIO_FLOOR_BYTES: Final = 1024 * 1024

#: Most output produced by one decompression step, and most input fed to one.
STEP_BYTES: Final = 256 * 1024
INPUT_STEP: Final = 4096

BodyKind = Literal["page", "media"]


@dataclass(frozen=True, slots=True)
class Budgets:
    """The limits of one crawl, read from :class:`~cordon.config.CrawlSettings`."""

    page_max_bytes: int = 5 * 1024 * 1024
    media_max_bytes: int = 32 * 1024 * 1024
    total_seconds: float = 30.0
    connect_seconds: float = 10.0
    first_byte_seconds: float = 15.0
    idle_seconds: float = 10.0
    min_bytes_per_second: float = 2048.0
    slow_grace_seconds: float = 3.0
    max_decompression_ratio: float = 200.0
    max_image_pixels: int = 50_000_000
    max_redirects: int = 10
    max_media: int = 200

    @classmethod
    def from_settings(cls, crawl: CrawlSettings) -> Budgets:
        """The budgets the settings name."""
        return cls(
            page_max_bytes=crawl.page_max_bytes,
            media_max_bytes=crawl.media_max_bytes,
            total_seconds=crawl.total_seconds,
            connect_seconds=crawl.connect_seconds,
            first_byte_seconds=crawl.first_byte_seconds,
            idle_seconds=crawl.idle_seconds,
            min_bytes_per_second=crawl.min_bytes_per_second,
            slow_grace_seconds=crawl.slow_grace_seconds,
            max_decompression_ratio=crawl.max_decompression_ratio,
            max_image_pixels=crawl.max_image_pixels,
            max_redirects=crawl.max_redirects,
            max_media=crawl.max_media_per_page,
        )

    def max_bytes(self, kind: BodyKind) -> int:
        """Largest body of this kind, after decompression."""
        return self.page_max_bytes if kind == "page" else self.media_max_bytes


@dataclass(frozen=True, slots=True)
class Breach:
    """A budget that ended a fetch: which one, its limit, what was observed, and why."""

    budget: str
    limit: float
    observed: float
    reason: str
    url: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The JSON form stored on the capture."""
        return {
            "budget": self.budget,
            "limit": self.limit,
            "observed": self.observed,
            "reason": self.reason,
            "url": self.url,
        }


class BudgetExceeded(Exception):
    """A read was stopped by a budget; ``breach`` says which and why."""

    def __init__(self, breach: Breach) -> None:
        super().__init__(breach.reason)
        self.breach = breach


class UnsupportedEncoding(ValueError):
    """A Content-Encoding the crawler does not decode."""


class BodyDecoder:
    """Decompresses a body as it arrives (identity, gzip, deflate, brotli), never producing more
    than ``max_bytes`` and refusing ratios above ``max_ratio``."""

    def __init__(self, encoding: str, max_bytes: int, max_ratio: float) -> None:
        codings = [c.strip().lower() for c in encoding.split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if len(codings) > 1:
            raise UnsupportedEncoding(f"stacked content encodings are not decoded: {encoding}")
        self.coding = codings[0] if codings else "identity"
        self.max_bytes = max_bytes
        self.max_ratio = max_ratio
        self.raw = 0
        self.produced = 0
        self._zlib: Any = None
        self._brotli: Any = None
        if self.coding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
        elif self.coding == "deflate":
            self._zlib = zlib.decompressobj()
        elif self.coding == "br":
            self._brotli = brotli.Decompressor()
        elif self.coding != "identity":
            raise UnsupportedEncoding(f"content encoding {encoding!r} is not decoded")

    def _room(self) -> int:
        # Small steps, so that the ratio is judged long before the size limit is reached.
        return min(self.max_bytes - self.produced + 1, STEP_BYTES)

    def _account(self, out: bytes) -> bytes:
        self.produced += len(out)
        if self.produced > self.max_bytes:
            what = "decompressed body" if self.coding != "identity" else "body"
            raise BudgetExceeded(
                Breach(
                    "decompressed_size" if self.coding != "identity" else "body_size",
                    self.max_bytes,
                    self.produced,
                    f"the {what} passed the limit of {self.max_bytes:,} bytes",
                )
            )
        if (
            self.coding != "identity"
            and self.produced > RATIO_FLOOR_BYTES
            and self.produced > self.raw * self.max_ratio
        ):
            ratio = self.produced / max(self.raw, 1)
            raise BudgetExceeded(
                Breach(
                    "decompression_ratio",
                    self.max_ratio,
                    round(ratio, 1),
                    f"{self.coding} expanded {self.raw:,} bytes to {self.produced:,} (ratio "
                    f"{ratio:,.0f}, limit {self.max_ratio:,.0f})",
                )
            )
        return out

    def feed(self, chunk: bytes) -> bytes:
        """Decompress one chunk; raises :class:`BudgetExceeded` at a limit."""
        if self.coding == "identity":
            self.raw += len(chunk)
            return self._account(chunk)
        # Compressed input is fed in small slices, so that the ratio is judged against what was
        # consumed so far rather than against a whole network read.
        parts: list[bytes] = []
        for start in range(0, len(chunk), INPUT_STEP):
            piece = chunk[start : start + INPUT_STEP]
            self.raw += len(piece)
            if self._brotli is not None:
                parts.append(self._feed_brotli(piece))
            else:
                parts.append(self._feed_zlib(piece))
        return b"".join(parts)

    def _feed_zlib(self, chunk: bytes) -> bytes:
        parts: list[bytes] = []
        data = chunk
        while True:
            try:
                out = self._zlib.decompress(data, self._room())
            except zlib.error:
                if self.coding == "deflate" and self.produced == 0 and self.raw <= INPUT_STEP:
                    # Servers send raw DEFLATE under "deflate" as often as zlib-wrapped data.
                    self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                    out = self._zlib.decompress(data, self._room())
                else:
                    raise
            parts.append(self._account(out))
            data = self._zlib.unconsumed_tail
            if not data:
                return b"".join(parts)

    def _feed_brotli(self, chunk: bytes) -> bytes:
        parts = [self._account(self._brotli.process(chunk, output_buffer_limit=self._room()))]
        while not self._brotli.can_accept_more_data():
            parts.append(self._account(self._brotli.process(b"", output_buffer_limit=self._room())))
        return b"".join(parts)

    def finish(self) -> bytes:
        """Whatever a decompressor still holds at the end of the body."""
        if self._zlib is not None:
            return self._account(self._zlib.flush(self._room()))
        return b""
