"""Dihedral and border-trimmed hashes on generated pictures: rotated, flipped and bordered
copies match only banks that ask for them; unrelated pictures match nothing at 31."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps
from sqlalchemy import Connection

from cordon.clock import FrozenClock
from cordon.matching.model import Query
from cordon.matching.service import Matcher
from cordon.signals.hashing import hash_picture, reference_pdq
from cordon.signals.synthetic import encode, photo_like
from matching.helpers import add_entries, make_bank
from support import make_member


def _query(data: bytes) -> Query:
    signals = hash_picture(data, dihedral=True, trim_borders=True)
    return Query(
        "pdq", signals.pdq.hex, signals.pdq.quality, {v.name: v.pdq.hex for v in signals.variants}
    )


def _copies(picture: Image.Image) -> dict[str, bytes]:
    pixels = np.asarray(picture)
    return {
        "rotate90": encode(Image.fromarray(np.rot90(pixels).copy())),
        "mirror": encode(Image.fromarray(pixels[:, ::-1].copy())),
        "border": encode(ImageOps.expand(picture, border=40, fill=(255, 255, 255))),
        "border+rotate180": encode(
            Image.fromarray(
                np.rot90(np.asarray(ImageOps.expand(picture, border=30, fill=(20, 20, 20))), 2)
            )
        ),
    }


def test_turned_and_bordered_copies_match_only_banks_that_ask(
    conn: Connection, clock: FrozenClock
) -> None:
    owner = make_member(conn, clock, org_type="hotline")
    make_bank(conn, clock, owner, "PLAIN")
    make_bank(conn, clock, owner, "TURNS", match_dihedral=True)
    make_bank(conn, clock, owner, "BORDERS", match_trimmed=True)
    make_bank(conn, clock, owner, "BOTH", match_dihedral=True, match_trimmed=True)
    originals = [photo_like(500 + i, 360, 270) for i in range(6)]
    listed = [reference_pdq(encode(p)).hex for p in originals]
    for name in ("PLAIN", "TURNS", "BORDERS", "BOTH"):
        add_entries(conn, clock, owner, name, [("pdq", h) for h in listed])
    matcher = Matcher(clock)
    kinds: dict[str, set[str]] = {}
    for picture in originals:
        copies = _copies(picture)
        hits = matcher.match(conn, [_query(data) for data in copies.values()])
        for kind, per in zip(copies, hits, strict=True):
            kinds.setdefault(kind, set()).update(h.bank_name for h in per)
            assert all(h.variant != "original" for h in per), kind
    assert kinds["rotate90"] == {"TURNS", "BOTH"}
    assert kinds["mirror"] == {"TURNS", "BOTH"}
    assert kinds["border"] == {"BORDERS", "BOTH"}
    assert kinds["border+rotate180"] == {"BOTH"}
    # Unrelated pictures, with all their variants, match nothing at threshold 31.
    unrelated = [encode(photo_like(900 + i, 360, 270)) for i in range(20)]
    assert all(per == [] for per in matcher.match(conn, [_query(d) for d in unrelated]))
    # The originals themselves match every bank, plainly.
    plain = matcher.match(conn, [_query(encode(p)) for p in originals])
    for per in plain:
        assert sorted(h.bank_name for h in per) == ["BORDERS", "BOTH", "PLAIN", "TURNS"]
        assert {h.variant for h in per} == {"original"}
