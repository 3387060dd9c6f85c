"""Cross-deployment deconfliction through keyed hashes.

Every deployment of the coalition holds one shared secret key (``deconfliction.key`` in the
key directory). An export lists, for each entity of the deployment's open cases (or, with
``everything``, of every identifier it knows), ``HMAC-SHA256(key, "<kind>\\n<key>")`` in hex:
the same entity gives the same value in every deployment with the key, and nothing can be
read back from it without the key. A deployment that receives an export computes the same
values over its own entities and reports exactly those that match, with its own cases holding
them. A file made with another key has another ``key_id`` and is refused with that reason.

The document is self-describing and authenticated::

    {"format": "cordon-deconfliction", "version": 1, "key_id": "…", "created_at": "…",
     "scope": "open_cases" | "all", "kinds": ["crypto_address", "domain", …], "count": 3,
     "hmacs": {"domain": ["9f…", …], …}, "mac": "…"}

``mac`` is HMAC-SHA256 under a key derived from the coalition key over the canonical JSON of
every other field: a file altered on its way, or made by someone without the key, fails it.
Network ids are local to a deployment and are never exported; a network's member sites are.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from cordon.audit import log as audit
from cordon.cases import deconfliction, repo
from cordon.cases.entities import Entity, EntityKind
from cordon.clock import Clock
from cordon.keys import deconfliction_key_id
from cordon.store.tables_cases import case_file

FORMAT = "cordon-deconfliction"
VERSION = 1
SCOPES = ("open_cases", "all")


class ExchangeError(ValueError):
    """A file that cannot be used; the message says why."""


def entity_hmac(key: bytes, e: Entity) -> str:
    """The keyed hash of one entity."""
    return hmac.new(key, f"{e.kind.value}\n{e.key}".encode(), hashlib.sha256).hexdigest()


def _mac_key(key: bytes) -> bytes:
    return hmac.new(key, b"cordon-deconfliction-file/v1", hashlib.sha256).digest()


def _canonical(doc: dict[str, Any]) -> bytes:
    body = {k: v for k, v in doc.items() if k != "mac"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def open_case_entities(conn: Connection) -> dict[Entity, list[int]]:
    """Every entity of every open case, with the cases holding it (networks left out)."""
    ids = [
        int(i)
        for i in conn.execute(select(case_file.c.id).where(case_file.c.status == "open")).scalars()
    ]
    out: dict[Entity, list[int]] = defaultdict(list)
    for case_id, entities in deconfliction.entities_of(conn, ids).items():
        for e in entities:
            if e.kind is not EntityKind.NETWORK:
                out[e].append(case_id)
    return out


def our_entities(conn: Connection, scope: str) -> dict[Entity, list[int]]:
    if scope not in SCOPES:
        raise ExchangeError(f"unknown scope {scope!r}; use one of {', '.join(SCOPES)}")
    held = open_case_entities(conn)
    if scope == "all":
        from cordon.search.repo import all_known

        for e in all_known(conn):
            held.setdefault(e, [])
    return held


def build_export(
    conn: Connection, clock: Clock, actor: audit.Actor, key: bytes, *, scope: str = "open_cases"
) -> dict[str, Any]:
    """The export document (audited: counts and kinds, never the entities)."""
    held = our_entities(conn, scope)
    by_kind: dict[str, list[str]] = defaultdict(list)
    for e in held:
        by_kind[e.kind.value].append(entity_hmac(key, e))
    doc: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "key_id": deconfliction_key_id(key),
        "created_at": clock.now().isoformat(),
        "scope": scope,
        "kinds": sorted(by_kind),
        "count": sum(len(v) for v in by_kind.values()),
        "hmacs": {k: sorted(v) for k, v in sorted(by_kind.items())},
    }
    doc["mac"] = hmac.new(_mac_key(key), _canonical(doc), hashlib.sha256).hexdigest()
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:deconfliction:export",
        object_kind="deconfliction_file",
        object_ids=[],
        details={
            "scope": scope,
            "key_id": doc["key_id"],
            "count": doc["count"],
            "kinds": {k: len(v) for k, v in doc["hmacs"].items()},
        },
    )
    return doc


def read_document(text: str | bytes) -> dict[str, Any]:
    """Parse and shape-check an export (not its key or MAC). Raises :class:`ExchangeError`."""
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ExchangeError(f"the file is not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ExchangeError(f"the file is not a {FORMAT} document")
    if doc.get("version") != VERSION:
        raise ExchangeError(
            f"unsupported version {doc.get('version')!r}; this Cordon reads {VERSION}"
        )
    hmacs = doc.get("hmacs")
    if not isinstance(hmacs, dict) or not isinstance(doc.get("key_id"), str):
        raise ExchangeError("the file lacks key_id or hmacs")
    for kind, values in hmacs.items():
        if kind not in {k.value for k in EntityKind} or not isinstance(values, list):
            raise ExchangeError(f"the file names an unknown kind {kind!r}")
        for v in values:
            if not isinstance(v, str) or len(v) != 64:
                raise ExchangeError(f"the file holds a malformed hash under {kind!r}")
    if not isinstance(doc.get("mac"), str):
        raise ExchangeError("the file is not authenticated (no mac)")
    return doc


@dataclass(frozen=True)
class Overlap:
    entity: Entity
    cases: list[dict[str, Any]]


@dataclass(frozen=True)
class CheckResult:
    their_key_id: str
    our_key_id: str
    their_count: int
    our_count: int
    overlaps: list[Overlap]

    def as_dict(self) -> dict[str, Any]:
        return {
            "key_id": self.our_key_id,
            "their_count": self.their_count,
            "our_count": self.our_count,
            "overlaps": [
                {"kind": o.entity.kind.value, "key": o.entity.key, "cases": o.cases}
                for o in self.overlaps
            ],
        }


def check(
    conn: Connection,
    clock: Clock,
    actor: audit.Actor,
    key: bytes,
    doc: dict[str, Any],
    *,
    scope: str = "open_cases",
) -> CheckResult:
    """Which of our entities the other deployment's file also holds, and in which of our cases.

    Raises :class:`ExchangeError` when the key id differs (another key) or the MAC fails.
    The check is audited: the file's key id and count, and how many of ours overlap in which
    cases (not the entities).
    """
    ours_id = deconfliction_key_id(key)
    if doc["key_id"] != ours_id:
        raise ExchangeError(
            f"the key id differs: the file was made with key {doc['key_id']}, ours is {ours_id}; "
            "nothing can be compared (both deployments must hold the same coalition key)"
        )
    expected = hmac.new(_mac_key(key), _canonical(doc), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, str(doc["mac"])):
        raise ExchangeError(
            "the file's mac does not verify: it was altered or not made with our key"
        )
    theirs = {(k, v) for k, values in doc["hmacs"].items() for v in values}
    held = our_entities(conn, scope)
    overlaps: list[Overlap] = []
    for e in sorted(held):
        if (e.kind.value, entity_hmac(key, e)) in theirs:
            overlaps.append(Overlap(e, _cases(conn, held[e])))
    case_ids = sorted({c["id"] for o in overlaps for c in o.cases})
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:deconfliction:check",
        object_kind="case",
        object_ids=list(case_ids),
        details={
            "key_id": ours_id,
            "scope": scope,
            "their_count": len(theirs),
            "our_count": len(held),
            "overlaps": len(overlaps),
            "purpose": [repo.purpose(c) for c in case_ids],
        },
    )
    return CheckResult(doc["key_id"], ours_id, len(theirs), len(held), overlaps)


def _cases(conn: Connection, case_ids: Iterable[int]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for cid in sorted(set(case_ids)):
        c = repo.load(conn, cid)
        if c is not None:
            out.append(
                {"id": c.id, "owner": c.owner_name, "contact": c.contact, "tlp": c.tlp.value}
            )
    return out
