"""Benchmark picture hashing: Cordon's fast PDQ path against pdqhash on a full decode.

For generated photo-like JPEGs of 1024×768 and 3000×2000 it prints, per picture on one core:

- ``pdqhash full``: Pillow full decode, RGB conversion, ``pdqhash.compute`` (the reference path);
- ``cordon fast``: Cordon's fast path (reduced-scale decode, compiled exact PDQ);
- ``floor``: Pillow decoding the same JPEG at the scale Cordon uses, nothing else;
- ``1/8 floor``: Pillow decoding at 1/8 scale, the absolute floor;

with the ratios (targets: ≥ 4× faster than the full decode at 1024×768, ≥ 8× at 3000×2000,
within 2× of the floor) and the Hamming distance of each fast hash to the full-decode hash. It
also prints the fast path's distance on the PDQ conformance pictures when they are present, the
time of the complete ``hash_picture`` call (with MD5 and SHA-256), and the share of rotated,
flipped and bordered copies of the synthetic world's pictures that match with and without
dihedral matching and border trimming, with the false matches between unrelated pictures.

    python benchmarks/bench_hash.py [--pictures 4] [--repeats 5] [--world 300]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pdqhash
from PIL import Image, ImageOps

from cordon.signals.hashing import fast_pdq, hash_picture, reference_pdq
from cordon.signals.pdq import distance
from cordon.signals.pictures import FAST_SHORT_SIDE
from cordon.signals.synthetic import encode, photo_like

SIZES = ((1024, 768), (3000, 2000))
TARGET_SPEEDUP = {(1024, 768): 4.0, (3000, 2000): 8.0}
TARGET_FLOOR_RATIO = 2.0


def pdqhash_full(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as picture:
        pixels = np.asarray(picture.convert("RGB"))
    vector, _ = pdqhash.compute(pixels)
    return np.packbits(np.asarray(vector, dtype=np.uint8)).tobytes()


def decode_at(data: bytes, short_side: int | None) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as picture:
        if short_side is None:
            picture.draft(None, (picture.width // 8, picture.height // 8))
        else:
            picture.draft(None, (short_side, short_side))
        return np.asarray(picture.convert("RGB"))


def best_ms(func: Callable[[], object], repeats: int) -> float:
    """Fastest of ``repeats`` runs, in ms (the least disturbed by other work on the machine)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def speed(pictures: int, repeats: int) -> None:
    print("== PDQ hashing speed (one core, ms per picture, best of repeats) ==")
    header = (
        f"{'size':>10} {'pdqhash full':>13} {'cordon fast':>12} {'floor':>7} {'1/8 floor':>10}"
        f" {'full/cordon':>12} {'cordon/floor':>13} {'max dist':>9}"
    )
    print(header)
    fast_pdq(encode(photo_like(0, 64, 64)))  # compile outside the timings
    for width, height in SIZES:
        rows = []
        for seed in range(pictures):
            data = encode(photo_like(seed, width, height))
            full = best_ms(lambda d=data: pdqhash_full(d), max(2, repeats // 2))
            fast = best_ms(lambda d=data: fast_pdq(d), repeats)
            floor = best_ms(lambda d=data: decode_at(d, FAST_SHORT_SIDE), repeats)
            eighth = best_ms(lambda d=data: decode_at(d, None), repeats)
            dist = distance(fast_pdq(data).digest, pdqhash_full(data))
            rows.append((full, fast, floor, eighth, dist))
        full, fast, floor, eighth = (statistics.median(r[i] for r in rows) for i in range(4))
        worst = max(r[4] for r in rows)
        print(
            f"{width}×{height:<5} {full:13.1f} {fast:12.1f} {floor:7.1f} {eighth:10.1f}"
            f" {full / fast:11.1f}× {fast / floor:12.2f}× {worst:9d}"
        )
        ok_speed = full / fast >= TARGET_SPEEDUP[(width, height)]
        ok_floor = fast / floor <= TARGET_FLOOR_RATIO
        print(
            f"{'':>10} target ≥ {TARGET_SPEEDUP[(width, height)]:.0f}× full: "
            f"{'met' if ok_speed else 'MISSED'}; within {TARGET_FLOOR_RATIO:.0f}× of floor: "
            f"{'met' if ok_floor else 'MISSED'}"
        )
        data = encode(photo_like(99, width, height))
        complete = best_ms(lambda d=data: hash_picture(d), repeats)
        print(f"{'':>10} complete hash_picture (PDQ + MD5 + SHA-256): {complete:.1f} ms")


def conformance() -> None:
    configured = os.environ.get("CORDON_CONFORMANCE_DIR")
    root = (
        Path(configured)
        if configured
        else Path(__file__).resolve().parents[2] / "shared/conformance"
    )
    folder = root / "pdq"
    if not folder.is_dir():
        print(f"\n(conformance pictures not found at {folder}; skipped)")
        return
    dists = []
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() not in {".jpg", ".png", ".webp"}:
            continue
        data = path.read_bytes()
        ref = reference_pdq(data)
        if ref.quality >= 80:
            dists.append(distance(fast_pdq(data).digest, ref.digest))
    print(
        f"\n== fast path on the conformance set ({len(dists)} pictures of quality ≥ 80) ==\n"
        f"distance to the reference: median {statistics.median(dists):.0f}, max {max(dists)} "
        "(criterion ≤ 10)"
    )


def variants_on_the_world(count: int) -> None:
    from cordon.world.pictures import draw_original

    print(f"\n== rotations, flips and borders on {count} pictures of the synthetic world ==")
    copies: dict[str, Callable[[Image.Image], Image.Image]] = {
        "rotate 90": lambda im: im.rotate(90, expand=True),
        "rotate 180": lambda im: im.rotate(180, expand=True),
        "rotate 270": lambda im: im.rotate(270, expand=True),
        "mirror": ImageOps.mirror,
        "flip": ImageOps.flip,
        "border white 15%": lambda im: ImageOps.expand(im, im.width * 15 // 100, fill="white"),
        "border black 10%": lambda im: ImageOps.expand(im, im.width // 10, fill="black"),
        "border grey 25%": lambda im: ImageOps.expand(im, im.width // 4, fill=(128, 128, 128)),
        "letterbox red": lambda im: ImageOps.pad(im, (im.width, im.height * 2), color="red"),
        "border + rotate": lambda im: ImageOps.expand(im, 30, fill="white").rotate(90, expand=True),
    }
    originals = [draw_original(7, f"bench-{i}") for i in range(count)]
    stored = [hash_picture(encode(o), path="reference").pdq.digest for o in originals]
    plain_hits = {name: 0 for name in copies}
    option_hits = {name: 0 for name in copies}
    queries = []
    start = time.perf_counter()
    for i, original in enumerate(originals):
        for name, make in copies.items():
            data = encode(make(original))
            plain = hash_picture(data)
            full = hash_picture(data, dihedral=True, trim_borders=True)
            if distance(plain.pdq.digest, stored[i]) <= 31:
                plain_hits[name] += 1
            hashes = [h.digest for _, h in full.pdq_hashes()]
            if min(distance(h, stored[i]) for h in hashes) <= 31:
                option_hits[name] += 1
            queries.append((i, hashes))
    elapsed = time.perf_counter() - start
    print(f"{'copy':>18} {'plain':>7} {'with options':>13}")
    for name in copies:
        print(f"{name:>18} {plain_hits[name] / count:6.0%} {option_hits[name] / count:12.0%}")
    stored_arr = np.frombuffer(b"".join(stored), dtype=np.uint8).reshape(-1, 32)
    false = 0
    closest = 256
    for i, hashes in queries:
        q = np.frombuffer(b"".join(hashes), dtype=np.uint8).reshape(-1, 32)
        d = np.bitwise_count(stored_arr[None, :, :] ^ q[:, None, :]).sum(axis=2).min(axis=0)
        d[i] = 256
        false += int((d <= 31).sum())
        closest = min(closest, int(d.min()))
    pairs = len(queries) * (count - 1)
    print(
        f"false matches at 31 between unrelated pictures (every variant of {len(queries)} copies "
        f"against {count - 1} others, {pairs:,} pairs): {false} (closest distance {closest})"
    )
    print(f"(hashing with both options: {elapsed / len(queries) * 1000:.1f} ms per copy)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pictures", type=int, default=4, help="pictures per size")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per picture")
    parser.add_argument("--world", type=int, default=300, help="world pictures for variants")
    parser.add_argument("--quick", action="store_true", help="fewer pictures and repeats")
    args = parser.parse_args()
    if args.quick:
        args.pictures, args.repeats, args.world = 2, 3, 60
    speed(args.pictures, args.repeats)
    conformance()
    variants_on_the_world(args.world)


if __name__ == "__main__":
    main()
