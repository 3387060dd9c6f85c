"""The matcher: one per process that matches, holding every indexed bank entry in memory.

The indexes (:class:`~cordon.signals.index.PdqIndex` for ``pdq``,
:class:`~cordon.signals.index.DigestIndex` for each digest type) hold entry ids and hashes only;
banks' settings and entries' classifications are read from the database for the entries a query
finds. The matcher's checkpoint is the last ``bank_change`` it applied. Before each batch a
matcher refreshes: it reads the changes after its checkpoint (nothing, when none happened: one
small query) and applies each one by reading the current state of the entries it names:

* a change of entries (``add``, ``disable``, ``enable``, ``quarantine``, ``release``) covers a
  range of entry ids: those the index should hold are (re)added, the others disabled;
* a change of a bank (``update_bank``, ``delete_bank``): when the bank starts or stops being
  matchable, all its entries are added or disabled; thresholds and options are read at match time.

Applying a change means "make the index agree with the database for these ids", so replaying a
change, or applying it after later ones, is harmless. Quarantined entries stay in the index:
their matches are recorded with status ``quarantined`` (for the review) and confirm nothing.

Snapshots: with ``matching.snapshot_dir`` set, the indexes are saved there in the index's own
file format (never pickle) with the checkpoint, after a full build and, in a background thread,
at most every ``matching.snapshot_seconds`` after a refresh that applied changes; a starting
process loads them and applies only the changes after their checkpoint.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, Engine

from cordon.clock import Clock
from cordon.config import Settings
from cordon.matching import repo
from cordon.matching.model import (
    LOW_QUALITY_BELOW,
    ORIGINAL,
    BankRules,
    EntryFacts,
    Hit,
    MatchStatus,
    Query,
)
from cordon.signals.index import (
    SCAN_BELOW,
    DigestIndex,
    IndexFileError,
    PdqIndex,
    read_header,
)
from cordon.store.db import read

log = logging.getLogger(__name__)

PDQ: Final = "pdq"
DIGEST_WIDTHS: Final = {"photo_md5": 16, "photo_sha256": 32, "video_md5": 16}
"""Digest signal types the matcher indexes, with their widths in bytes."""
SIGNAL_TYPES: Final = (PDQ, *DIGEST_WIDTHS)

_LOAD_CHUNK: Final = 200_000
_CHANGES_PER_READ: Final = 1000


@dataclass(frozen=True)
class Freshness:
    """How current a matcher is: what ``/status`` and ``cordon matcher status`` show."""

    loaded: bool
    checkpoint: int
    head: int
    entries: int
    by_type: dict[str, int]
    loaded_from: str | None
    refreshed_at: datetime | None
    built_at: datetime | None
    memory_bytes: int

    @property
    def behind(self) -> int:
        """Bank changes not applied yet."""
        return max(self.head - self.checkpoint, 0)

    def as_dict(self, now: datetime) -> dict[str, Any]:
        age = None if self.refreshed_at is None else (now - self.refreshed_at).total_seconds()
        return {
            "loaded": self.loaded,
            "checkpoint": self.checkpoint,
            "head": self.head,
            "behind": self.behind,
            "entries": self.entries,
            "by_type": dict(self.by_type),
            "loaded_from": self.loaded_from,
            "refreshed_at": None
            if self.refreshed_at is None
            else self.refreshed_at.isoformat().replace("+00:00", "Z"),
            "age_seconds": None if age is None else round(age, 3),
            "memory_bytes": self.memory_bytes,
        }


def pdq_array(signals: Sequence[str]) -> npt.NDArray[np.uint8]:
    if not signals:
        return np.empty((0, 32), np.uint8)
    return np.frombuffer(bytes.fromhex("".join(signals)), dtype=np.uint8).reshape(-1, 32).copy()


def digest_array(signals: Sequence[str], width: int) -> npt.NDArray[np.uint8]:
    if not signals:
        return np.empty((0, width), np.uint8)
    raw = bytes.fromhex("".join(signals))
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, width).copy()


class Matcher:
    """Match indexes over every matchable bank entry, refreshed by checkpoint.

    Thread-safe: searches run side by side; refreshes take a lock.
    """

    def __init__(
        self, clock: Clock, *, snapshot_dir: Path | None = None, snapshot_seconds: float = 600.0
    ) -> None:
        self.clock = clock
        self.snapshot_dir = snapshot_dir
        self.snapshot_seconds = snapshot_seconds
        self._lock = threading.RLock()
        self._pdq = PdqIndex()
        self._digests = {name: DigestIndex(width) for name, width in DIGEST_WIDTHS.items()}
        self._checkpoint = 0
        self._head = 0
        self._loaded = False
        self._loaded_from: str | None = None
        self._live_banks: set[int] = set()
        self._max_threshold = -1
        self._refreshed_at: datetime | None = None
        self._built_at: datetime | None = None
        self._saved_at = 0.0
        self._saver: threading.Thread | None = None

    # ------------------------------------------------------------------ state

    @property
    def checkpoint(self) -> int:
        return self._checkpoint

    def freshness(self, conn: Connection | None = None) -> Freshness:
        """The matcher's freshness; with ``conn`` the head is read now."""
        head = repo.head_seq(conn) if conn is not None else self._head
        by_type = {PDQ: len(self._pdq), **{k: len(v) for k, v in self._digests.items()}}
        return Freshness(
            loaded=self._loaded,
            checkpoint=self._checkpoint,
            head=head,
            entries=sum(by_type.values()),
            by_type=by_type,
            loaded_from=self._loaded_from,
            refreshed_at=self._refreshed_at,
            built_at=self._built_at,
            memory_bytes=self._pdq.nbytes() + sum(d.nbytes() for d in self._digests.values()),
        )

    # ------------------------------------------------------------------ loading

    def _paths(self) -> dict[str, Path]:
        assert self.snapshot_dir is not None
        return {name: self.snapshot_dir / f"{name}.idx" for name in SIGNAL_TYPES}

    def _load_snapshot(self) -> bool:
        if self.snapshot_dir is None:
            return False
        paths = self._paths()
        if not all(p.exists() for p in paths.values()):
            return False
        try:
            # The oldest file's checkpoint is safe for all: replaying changes is harmless.
            checkpoint = min(read_header(p).checkpoint for p in paths.values())
            pdq = PdqIndex.load(paths[PDQ])
            digests = {name: DigestIndex.load(paths[name]) for name in DIGEST_WIDTHS}
        except IndexFileError as exc:
            log.warning("match index snapshot not used: %s", exc)
            return False
        for name, index in digests.items():
            if index.width != DIGEST_WIDTHS[name]:
                log.warning("match index snapshot not used: %s has the wrong width", name)
                return False
        self._pdq, self._digests, self._checkpoint = pdq, digests, checkpoint
        self._loaded_from = "snapshot"
        return True

    def save_snapshot(self) -> Path | None:
        """Write the indexes and the checkpoint to the snapshot folder (None when unset)."""
        if self.snapshot_dir is None:
            return None
        with self._lock:
            self.snapshot_dir.mkdir(parents=True, exist_ok=True)
            paths = self._paths()
            self._pdq.checkpoint = self._checkpoint
            self._pdq.save(paths[PDQ])
            for name, index in self._digests.items():
                index.checkpoint = self._checkpoint
                index.save(paths[name])
            self._saved_at = time.monotonic()
            return self.snapshot_dir

    def _save_in_background(self) -> None:
        # Writing a large index takes seconds: not inside the caller's request or transaction.
        # The files get the checkpoint of this moment; entries added meanwhile may be saved
        # with it too, which is harmless (a loader replays the changes after the checkpoint).
        if self._saver is not None and self._saver.is_alive():
            return
        self._saved_at = time.monotonic()
        checkpoint = self._checkpoint
        pdq, digests = self._pdq, dict(self._digests)
        pdq.checkpoint = checkpoint
        for index in digests.values():
            index.checkpoint = checkpoint

        def save() -> None:
            assert self.snapshot_dir is not None
            try:
                self.snapshot_dir.mkdir(parents=True, exist_ok=True)
                paths = self._paths()
                pdq.save(paths[PDQ])
                for name, index in digests.items():
                    index.save(paths[name])
            except OSError:
                log.exception("the match index snapshot could not be written")

        self._saver = threading.Thread(target=save, name="cordon-index-snapshot", daemon=True)
        self._saver.start()

    def wait_for_snapshot(self, timeout: float | None = None) -> None:
        """Wait until a snapshot being written in the background is on disk."""
        saver = self._saver
        if saver is not None:
            saver.join(timeout)

    def rebuild(self, conn: Connection) -> int:
        """Load every indexed entry from the database; returns how many."""
        with self._lock:
            head = repo.head_seq(conn)
            ids: dict[str, list[int]] = defaultdict(list)
            signals: dict[str, list[str]] = defaultdict(list)
            after = 0
            while True:
                rows = repo.indexed_entries(conn, SIGNAL_TYPES, after, _LOAD_CHUNK)
                if not rows:
                    break
                for r in rows:
                    ids[r.signal_type].append(int(r.id))
                    signals[r.signal_type].append(r.signal)
                after = int(rows[-1].id)
            self._pdq = PdqIndex.from_entries(
                np.array(ids[PDQ], dtype=np.int64), pdq_array(signals[PDQ]), checkpoint=head
            )
            digests = {}
            for name, width in DIGEST_WIDTHS.items():
                index = DigestIndex(width)
                if ids[name]:
                    index.add(
                        np.array(ids[name], dtype=np.int64),
                        digest_array(signals[name], width),
                        checkpoint=head,
                    )
                digests[name] = index
            self._digests = digests
            self._checkpoint = head
            self._loaded = True
            self._loaded_from = "database"
            self._built_at = self.clock.now()
            self._settings_changed(conn)
            self.save_snapshot()
            return sum(len(v) for v in ids.values())

    def _settings_changed(self, conn: Connection) -> None:
        self._live_banks = repo.live_bank_ids(conn)
        self._max_threshold = repo.max_pdq_threshold(conn)

    # ------------------------------------------------------------------ refreshing

    def refresh(self, conn: Connection) -> int:
        """Catch up with the banks' change log; returns how many changes were applied."""
        with self._lock:
            if not self._loaded:
                if self._load_snapshot():
                    self._loaded = True
                    self._settings_changed(conn)
                else:
                    self.rebuild(conn)
            head = repo.head_seq(conn)
            if head < self._checkpoint:
                # The change log is behind the index: another database (restored or replaced)
                # under the same address. Nothing of the index can be trusted.
                log.warning(
                    "bank change log at %d, behind the match index at %d: rebuilding",
                    head,
                    self._checkpoint,
                )
                self.rebuild(conn)
            self._head = head
            applied = 0
            while self._checkpoint < head:
                changes = repo.changes_since(conn, self._checkpoint, _CHANGES_PER_READ)
                if not changes:
                    break
                for change in changes:
                    self._apply(conn, change)
                    self._checkpoint = change.seq
                    applied += 1
            if applied:
                self._settings_changed(conn)
                if (
                    self.snapshot_dir is not None
                    and time.monotonic() - self._saved_at >= self.snapshot_seconds
                ):
                    self._save_in_background()
            self._refreshed_at = self.clock.now()
            return applied

    def refresh_with(self, engine: Engine) -> int:
        """:meth:`refresh` in a read transaction of its own."""
        with read(engine) as conn:
            return self.refresh(conn)

    def _apply(self, conn: Connection, change: repo.Change) -> None:
        if change.entry_id_from is not None and change.entry_id_to is not None:
            after = change.entry_id_from - 1
            while True:
                rows = repo.entries_state(
                    conn,
                    bank_id=change.bank_id,
                    id_from=change.entry_id_from,
                    id_to=change.entry_id_to,
                    after_id=after,
                    limit=_LOAD_CHUNK,
                )
                if not rows:
                    return
                self._sync(rows)
                after = int(rows[-1].id)
        live = repo.bank_live(conn, change.bank_id)
        if live == (change.bank_id in self._live_banks):
            return  # thresholds and options are read at match time
        after = 0
        while True:
            rows = repo.entries_state(
                conn, bank_id=change.bank_id, after_id=after, limit=_LOAD_CHUNK
            )
            if not rows:
                break
            self._sync(rows)
            after = int(rows[-1].id)
        if live:
            self._live_banks.add(change.bank_id)
        else:
            self._live_banks.discard(change.bank_id)

    def _sync(self, rows: Sequence[Any]) -> None:
        add_ids: dict[str, list[int]] = defaultdict(list)
        add_signals: dict[str, list[str]] = defaultdict(list)
        drop: dict[str, list[int]] = defaultdict(list)
        for r in rows:
            if r.signal_type not in SIGNAL_TYPES:
                continue
            if r.indexed:
                add_ids[r.signal_type].append(int(r.id))
                add_signals[r.signal_type].append(r.signal)
            else:
                drop[r.signal_type].append(int(r.id))
        for name, ids in drop.items():
            arr = np.array(ids, dtype=np.int64)
            if name == PDQ:
                self._pdq.disable(arr, checkpoint=self._pdq.checkpoint)
            else:
                self._digests[name].disable(arr, checkpoint=self._digests[name].checkpoint)
        for name, ids in add_ids.items():
            arr = np.array(ids, dtype=np.int64)
            if name == PDQ:
                self._pdq.add(arr, pdq_array(add_signals[name]), checkpoint=self._pdq.checkpoint)
            else:
                index = self._digests[name]
                index.add(
                    arr,
                    digest_array(add_signals[name], DIGEST_WIDTHS[name]),
                    checkpoint=index.checkpoint,
                )

    # ------------------------------------------------------------------ matching

    def candidates(
        self, queries: Sequence[Query], threshold: int | None = None
    ) -> list[list[tuple[str, int, int]]]:
        """For each query, ``(variant, entry id, distance)`` of every indexed entry within
        ``threshold`` (default: the largest threshold of the live banks) of any of its hashes."""
        limit = self._max_threshold if threshold is None else threshold
        return candidates(self._pdq, self._digests, queries, limit)

    def match(
        self,
        conn: Connection,
        queries: Sequence[Query],
        *,
        banks: Collection[int] | None = None,
        refresh: bool = True,
    ) -> list[list[Hit]]:
        """Every match of each query, closest first, by the banks' own rules (see
        :func:`resolve`). ``banks`` narrows the banks considered (for suppression too)."""
        if refresh:
            self.refresh(conn)
        found = self.candidates(queries)
        return resolve(conn, queries, found, banks=banks)


def candidates(
    pdq: PdqIndex,
    digests: dict[str, DigestIndex],
    queries: Sequence[Query],
    threshold: int,
) -> list[list[tuple[str, int, int]]]:
    """``(variant, entry id, distance)`` per query from these indexes (see
    :meth:`Matcher.candidates`)."""
    out: list[list[tuple[str, int, int]]] = [[] for _ in queries]
    pdq_hashes: list[str] = []
    pdq_owner: list[tuple[int, str]] = []
    by_digest: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for qi, q in enumerate(queries):
        if q.signal_type == PDQ:
            for variant, signal in q.pdq_hashes():
                pdq_hashes.append(signal)
                pdq_owner.append((qi, variant))
        elif q.signal_type in digests:
            by_digest[q.signal_type].append((qi, q.signal))
    if pdq_hashes and threshold >= 0 and len(pdq):
        # A small index (a bank change's new entries) is scanned faster on this thread than by
        # a team of threads, which also waits for cores other processes hold.
        parallel = None if len(pdq) >= SCAN_BELOW else False
        result = pdq.search(pdq_array(pdq_hashes), threshold, parallel=parallel)
        for k, (ids, dists) in enumerate(result):
            qi, variant = pdq_owner[k]
            for entry_id, d in zip(ids.tolist(), dists.tolist(), strict=True):
                out[qi].append((variant, int(entry_id), int(d)))
    for name, items in by_digest.items():
        index = digests[name]
        if not len(index):
            continue
        found = index.lookup(digest_array([s for _, s in items], index.width))
        for (qi, _), ids in zip(items, found, strict=True):
            out[qi].extend((ORIGINAL, int(e), 0) for e in ids.tolist())
    return out


def resolve(
    conn: Connection,
    queries: Sequence[Query],
    found: Sequence[Sequence[tuple[str, int, int]]],
    *,
    banks: Collection[int] | None = None,
) -> list[list[Hit]]:
    """Turn index candidates into matches by each bank's rules.

    * the entry must still be enabled and its bank live;
    * PDQ: distance ≤ the bank's own threshold; a query of quality below 50 only where the bank
      matches low quality; a dihedral variant only where the bank matches dihedral copies, a
      trimmed one only where it matches trimmed copies;
    * one hit per entry: the closest of the query's hashes (the plain one on a tie);
    * a hit in a negative bank suppresses the query's hits in the other banks (status
      ``suppressed``); a quarantined entry's hit has status ``quarantined``;
    * classification: the entry's, else the bank's default.
    """
    entry_ids = {e for per in found for _, e, _ in per}
    facts = repo.entry_facts(conn, entry_ids) if entry_ids else {}
    rules = repo.bank_rules(conn, {f.bank_id for f in facts.values()}) if facts else {}
    allowed = None if banks is None else set(banks)
    out: list[list[Hit]] = []
    for q, per in zip(queries, found, strict=True):
        best: dict[int, tuple[int, int, str]] = {}
        for order, (variant, entry_id, distance) in enumerate(per):
            fact = facts.get(entry_id)
            if fact is None or not fact.enabled or fact.signal_type != q.signal_type:
                continue
            bank_rule = rules.get(fact.bank_id)
            if bank_rule is None or not bank_rule.live:
                continue
            if allowed is not None and bank_rule.id not in allowed:
                continue
            if not _admits(bank_rule, q, variant, distance):
                continue
            rank = (distance, 0 if variant == ORIGINAL else 1 + order)
            current = best.get(entry_id)
            if current is None or rank < current[:2]:
                best[entry_id] = (rank[0], rank[1], variant)
        negative = any(rules[facts[e].bank_id].negative and not facts[e].quarantined for e in best)
        hits = [
            _hit(facts[e], rules[facts[e].bank_id], d, variant, negative)
            for e, (d, _, variant) in best.items()
        ]
        hits.sort(key=lambda h: (h.distance, h.bank_name, h.entry_id))
        out.append(hits)
    return out


def _admits(bank_rule: BankRules, q: Query, variant: str, distance: int) -> bool:
    if q.signal_type != PDQ:
        return distance == 0
    if distance > bank_rule.pdq_threshold:
        return False
    if q.quality is not None and q.quality < LOW_QUALITY_BELOW and not bank_rule.match_low_quality:
        return False
    return bank_rule.allows_variant(variant)


def _hit(
    fact: EntryFacts, bank_rule: BankRules, distance: int, variant: str, negative_seen: bool
) -> Hit:
    status: MatchStatus = "active"
    if fact.quarantined:
        status = "quarantined"
    elif negative_seen and not bank_rule.negative:
        status = "suppressed"
    return Hit(
        entry_id=fact.id,
        bank_id=bank_rule.id,
        bank_name=bank_rule.name,
        signal_type=fact.signal_type,
        distance=distance,
        variant=variant,
        classification=fact.classification or bank_rule.default_classification,
        negative=bank_rule.negative,
        status=status,
    )


# ---------------------------------------------------------------------- one matcher per process

_SHARED: dict[tuple[str, str], Matcher] = {}
_SHARED_LOCK = threading.Lock()


def shared_matcher(engine: Engine, clock: Clock, settings: Settings) -> Matcher:
    """The process's matcher for this database (the API and the stages share it)."""
    snapshot_dir = settings.matching.snapshot_dir
    key = (engine.url.render_as_string(hide_password=True), str(snapshot_dir or ""))
    with _SHARED_LOCK:
        matcher = _SHARED.get(key)
        if matcher is None:
            matcher = Matcher(
                clock,
                snapshot_dir=snapshot_dir,
                snapshot_seconds=settings.matching.snapshot_seconds,
            )
            _SHARED[key] = matcher
        return matcher


def readiness_probe(
    engine: Engine, clock: Clock, settings: Settings
) -> Callable[[], dict[str, Any]]:
    """A readiness check for ``/status``: the process's matcher catches up with the banks'
    change log (loading its index on the first call) and reports its freshness; not ready when
    it cannot."""

    def probe() -> dict[str, Any]:
        matcher = shared_matcher(engine, clock, settings)
        try:
            with read(engine) as conn:
                matcher.refresh(conn)
                fresh = matcher.freshness(conn)
        except Exception as exc:  # the index cannot be loaded: not ready, say why
            log.exception("the match index cannot be refreshed")
            return {"ok": False, "error": type(exc).__name__}
        return {"ok": fresh.behind == 0, **fresh.as_dict(clock.now())}

    return probe
