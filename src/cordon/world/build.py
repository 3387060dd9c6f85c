"""Build a world folder: spec, ground truth, hash list, certificate authority, IP databases.

Only those files are written. Pictures are drawn in memory to be hashed and are never stored;
the server draws them again, identically, when they are requested.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from cordon.world import pictures
from cordon.world.generate import generate
from cordon.world.ipdb import write_ipdb
from cordon.world.model import GroundTruth, Picture
from cordon.world.spec import WorldSpec
from cordon.world.tls import write_ca

SPEC_FILE = "spec.json"
TRUTH_FILE = "ground_truth.json"
HASH_LIST_FILE = "known.txt"
MIN_QUALITY = 50
# Known originals are kept at least this far apart, so each copy has one unambiguous original.
MIN_KNOWN_DISTANCE = 64
_PARALLEL_FROM = 400  # below this, starting worker processes costs more than it saves

Progress = Callable[[str, int, int], None]


class BuildError(ValueError):
    """The world cannot be built as asked; nothing was written."""


def _hash_one(
    seed: int, picture: Picture, original: Picture | None
) -> tuple[str, pictures.Hashes, int, int]:
    data = pictures.render(seed, picture, original)
    from io import BytesIO

    from PIL import Image

    with Image.open(BytesIO(data)) as img:
        width, height = img.size
    return picture.id, pictures.hash_picture(data), width, height


def _hash_star(args: tuple[int, Picture, Picture | None]) -> tuple[str, pictures.Hashes, int, int]:
    return _hash_one(*args)


def _hash_all(
    jobs: list[tuple[int, Picture, Picture | None]], workers: int
) -> Iterator[tuple[str, pictures.Hashes, int, int]]:
    if workers > 1 and len(jobs) >= _PARALLEL_FROM:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            yield from pool.map(_hash_star, jobs, chunksize=32)
    else:
        yield from map(_hash_star, jobs)


def hash_pictures(
    truth: GroundTruth, *, progress: Progress | None = None, workers: int | None = None
) -> GroundTruth:
    """Draw and hash the known and altered pictures; fill sizes of the unknown ones.

    A known original whose PDQ quality is below 50 or that lies within distance 64 of an earlier
    known original is redrawn (its ``salt`` parameter counts the redraws).
    """
    seed = truth.spec.seed
    workers = workers if workers is not None else min(4, os.cpu_count() or 1)
    known = [p for p in truth.pictures if p.kind == "known"]
    total = len(known) + sum(1 for p in truth.pictures if p.kind == "altered")
    done = 0
    results: dict[str, Picture] = {}
    first = {
        pid: (h, w, hh)
        for pid, h, w, hh in _tick(
            _hash_all([(seed, p, None) for p in known], workers), progress, total, 0
        )
    }
    done = len(known)
    accepted: list[int] = []
    for pic in known:
        salt = 0
        hashes, width, height = first[pic.id]
        while hashes.pdq_quality < MIN_QUALITY or any(
            (int(hashes.pdq, 16) ^ other).bit_count() < MIN_KNOWN_DISTANCE for other in accepted
        ):
            salt += 1
            redraw = pic.model_copy(update={"params": {"salt": salt}})
            _, hashes, width, height = _hash_one(seed, redraw, None)
        accepted.append(int(hashes.pdq, 16))
        results[pic.id] = pic.model_copy(
            update={
                "params": {"salt": salt} if salt else {},
                "width": width,
                "height": height,
                "pdq": hashes.pdq,
                "pdq_quality": hashes.pdq_quality,
                "md5": hashes.md5,
                "sha256": hashes.sha256,
            }
        )
    altered = [p for p in truth.pictures if p.kind == "altered"]
    jobs: list[tuple[int, Picture, Picture | None]] = [
        (seed, p, results[str(p.of)]) for p in altered
    ]
    for pid, hashes, width, height in _tick(_hash_all(jobs, workers), progress, total, done):
        pic = truth.picture(pid)
        original = results[str(pic.of)]
        results[pid] = pic.model_copy(
            update={
                "width": width,
                "height": height,
                "pdq": hashes.pdq,
                "pdq_quality": hashes.pdq_quality,
                "pdq_distance": pictures.hamming(hashes.pdq, str(original.pdq)),
                "md5": hashes.md5,
                "sha256": hashes.sha256,
            }
        )
    out = []
    for pic in truth.pictures:
        if pic.kind == "unknown":
            width, height = pictures.original_size(seed, pic.id)
            out.append(pic.model_copy(update={"width": width, "height": height}))
        else:
            out.append(results[pic.id])
    return truth.with_pictures(out)


def _tick(
    items: Iterable[tuple[str, pictures.Hashes, int, int]],
    progress: Progress | None,
    total: int,
    start: int,
) -> Iterator[tuple[str, pictures.Hashes, int, int]]:
    for n, item in enumerate(items, start + 1):
        if progress is not None:
            progress("hashing pictures", n, total)
        yield item


def hash_list(truth: GroundTruth) -> str:
    """``known.txt``: one ``<signal_type> <signal>`` per line, python-threatexchange's format.

    PDQ hashes first, then the photo digests (``photo_md5``, ``photo_sha256``) of the exact
    bytes the world serves for each known original.
    """
    known = truth.known()
    lines = [f"pdq {p.pdq}" for p in known]
    lines += [f"photo_md5 {p.md5}" for p in known]
    lines += [f"photo_sha256 {p.sha256}" for p in known]
    return "\n".join(lines) + "\n"


def _check_target(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise BuildError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not (out / SPEC_FILE).is_file():
            raise BuildError(f"{out} is not empty and holds no world; choose an empty folder")
        if not force:
            raise BuildError(
                f"{out} already holds a world; pass force=True (--force) to replace it"
            )


def build_world(
    spec: WorldSpec,
    out: Path,
    *,
    force: bool = False,
    progress: Progress | None = None,
    workers: int | None = None,
) -> GroundTruth:
    """Generate the world ``spec`` describes and write it to the folder ``out``.

    Writes ``spec.json``, ``ground_truth.json``, ``known.txt``, ``ca/`` and ``ipdb/``. The folder
    is assembled beside ``out`` and moved into place, so a failure leaves ``out`` untouched.
    """
    _check_target(out, force)
    truth = hash_pictures(generate(spec), progress=progress, workers=workers)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        (staging / SPEC_FILE).write_text(
            json.dumps(spec.model_dump(mode="json"), indent=1) + "\n", encoding="utf-8"
        )
        (staging / TRUTH_FILE).write_text(truth.to_json(), encoding="utf-8")
        (staging / HASH_LIST_FILE).write_text(hash_list(truth), encoding="utf-8")
        write_ca(spec.seed, staging)
        write_ipdb(truth, staging)
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return truth


def read_spec(folder: Path) -> WorldSpec:
    """The spec of the world in ``folder``; BuildError naming the problem if there is none."""
    path = folder / SPEC_FILE
    try:
        return WorldSpec.model_validate_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BuildError(f"{folder} holds no world ({SPEC_FILE}: {exc.strerror})") from exc
    except ValueError as exc:
        raise BuildError(f"{path} is not a valid world spec: {exc}") from exc
