"""Pictures: bytes in, hashes out. The bytes never leave memory and are dropped by the caller.

Hashing is :func:`cordon.signals.hashing.hash_picture` (format allow-list, the pixel limit as an
error, no EXIF rotation, every mode converted to RGB, the PDQ fast path), with the dihedral and
border-trimmed hashes the ``match`` stage needs to find rotated, flipped and bordered copies:
once the crawler has dropped the bytes nobody can compute them again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from cordon.crawl.extract import sniff_type
from cordon.signals.hashing import hash_picture
from cordon.signals.pictures import PictureError, PictureTooLarge, UnsupportedPicture

#: Sniffed types the decoder accepts (the signals module's allow-list, in sniffing's names).
DECODED_TYPES = frozenset({"jpeg", "png", "gif", "webp", "bmp"})


@dataclass
class MediaOutcome:
    """What became of one picture of a capture (a media sighting)."""

    url: str
    embed: str
    status: str = "skipped"
    reason: str | None = None
    http_status: int | None = None
    fetched_address: str | None = None
    declared_type: str | None = None
    sniffed_type: str | None = None
    size: int | None = None
    width: int | None = None
    height: int | None = None
    pdq: str | None = None
    pdq_quality: int | None = None
    pdq_variants: dict[str, str] = field(default_factory=dict)
    md5: str | None = None
    sha256: str | None = None
    breach: dict[str, Any] | None = None
    variants_seen: list[str] = field(default_factory=list)
    seconds: float = 0.0
    """Time spent decoding and hashing (for throughput figures)."""
    cpu_seconds: float = 0.0
    """CPU time of the hashing thread for it (the wall time less waiting for the interpreter)."""

    def hashes(self) -> dict[str, Any]:
        """The hashes and facts of the picture, as evidence records carry them."""
        return {
            "url": self.url,
            "embed": self.embed,
            "status": self.status,
            "reason": self.reason,
            "http_status": self.http_status,
            "declared_type": self.declared_type,
            "sniffed_type": self.sniffed_type,
            "bytes": self.size,
            "width": self.width,
            "height": self.height,
            "pdq": self.pdq,
            "pdq_quality": self.pdq_quality,
            "md5": self.md5,
            "sha256": self.sha256,
        }


def hash_into(
    outcome: MediaOutcome, data: bytes, max_pixels: int, trim_borders: bool = True
) -> None:
    """Hash ``data`` into ``outcome`` (status ``hashed``, ``not_picture``, ``refused``,
    ``budget`` or ``failed`` with the reason). Keeps nothing of ``data`` but its hashes."""
    import hashlib

    outcome.size = len(data)
    outcome.sniffed_type = sniff_type(data)
    outcome.md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    outcome.sha256 = hashlib.sha256(data).hexdigest()
    if outcome.sniffed_type not in DECODED_TYPES:
        known = outcome.sniffed_type not in ("unknown", "html")
        outcome.status = "refused" if known else "not_picture"
        outcome.reason = (
            f"{outcome.sniffed_type} pictures are not decoded (allowed: JPEG, PNG, GIF, WebP, BMP)"
            if known
            else "the body is not a picture"
        )
        return
    started = time.perf_counter()
    cpu = time.thread_time()
    try:
        signals = hash_picture(
            data, path="fast", dihedral=True, trim_borders=trim_borders, max_pixels=max_pixels
        )
    except PictureTooLarge as exc:
        outcome.status = "budget"
        outcome.reason = str(exc)
        outcome.breach = {
            "budget": "pixels",
            "limit": max_pixels,
            "observed": None,
            "reason": str(exc),
            "url": outcome.url,
        }
        return
    except UnsupportedPicture as exc:
        outcome.status = "refused"
        outcome.reason = str(exc)
        return
    except PictureError as exc:
        outcome.status = "failed"
        outcome.reason = str(exc)
        return
    finally:
        outcome.seconds = time.perf_counter() - started
        outcome.cpu_seconds = time.thread_time() - cpu
    outcome.status = "hashed"
    outcome.width, outcome.height = signals.width, signals.height
    outcome.pdq = signals.pdq.hex
    outcome.pdq_quality = signals.pdq.quality
    outcome.pdq_variants = {v.name: v.pdq.hex for v in signals.variants}
