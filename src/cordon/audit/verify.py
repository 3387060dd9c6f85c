"""Checkpoints of the audit log, and verification of the log against itself and them.

``checkpoint`` signs the current tree head with the deployment's Ed25519 key. ``verify``
re-reads every event, recomputes its leaf hash and its link to the event before, rebuilds the
Merkle tree, and compares it with every checkpoint given; it names the first place where the log
was altered, cut, reordered or added to.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, func, select

from cordon.audit import log as audit
from cordon.audit.merkle import (
    CheckpointError,
    MerkleAccumulator,
    SignedTreeHead,
    leaf_hash,
    sign_tree_head,
    verify_tree_head,
)
from cordon.clock import Clock
from cordon.keys import Keys
from cordon.store.tables import audit_checkpoint, audit_event

ORIGIN = "cordon/audit"


class AuditLogAltered(Exception):
    """The log does not verify; a checkpoint of it would vouch for a tampered log."""


@dataclass(frozen=True)
class Finding:
    """One problem found, at the position ``seq`` where it shows."""

    kind: str  # altered, missing, reordered, inserted, truncated, checkpoint, head
    seq: int | None
    message: str


@dataclass
class Verification:
    events: int = 0
    root: bytes = b""
    checkpoints: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first(self) -> Finding | None:
        return self.findings[0] if self.findings else None


def verify(
    conn: Connection,
    heads: list[SignedTreeHead] | None = None,
    public_key: Ed25519PublicKey | None = None,
) -> Verification:
    """Check the whole log, and each of ``heads`` (which must be signed by ``public_key``)."""
    result = Verification()
    wanted: dict[int, list[SignedTreeHead]] = {}
    for head in heads or []:
        if public_key is None:
            raise ValueError("checkpoints need the public key to be verified")
        try:
            verify_tree_head(head, public_key)
        except CheckpointError as exc:
            result.findings.append(Finding("checkpoint", None, str(exc)))
            continue
        wanted.setdefault(head.tree_size, []).append(head)
    acc = MerkleAccumulator()
    roots: dict[int, bytes] = {}
    if 0 in wanted:
        roots[0] = acc.root()
    expected_seq = 1
    prev_stored = audit.GENESIS
    just_missing = False
    for event, stored_leaf in audit.iter_rows(conn):
        if event.seq != expected_seq:
            gap = (
                f"{expected_seq}"
                if event.seq == expected_seq + 1
                else (f"{expected_seq} to {event.seq - 1}")
            )
            result.findings.append(
                Finding("missing", expected_seq, f"event(s) {gap} are missing: deleted")
            )
            just_missing = True
        recomputed = leaf_hash(event.canonical_bytes())
        if recomputed != stored_leaf:
            result.findings.append(
                Finding(
                    "altered",
                    event.seq,
                    f"event {event.seq} was altered: its content does not match its hash",
                )
            )
        if event.prev_leaf != prev_stored and not just_missing:
            result.findings.append(_chain_break(conn, event.seq, event.prev_leaf))
        just_missing = False
        acc.append(recomputed)
        result.events += 1
        if acc.size in wanted:
            roots[acc.size] = acc.root()
        prev_stored = stored_leaf
        expected_seq = event.seq + 1
    result.root = acc.root()
    head_size = audit.head_size(conn)
    stored_max = conn.execute(select(func.max(audit_event.c.seq))).scalar_one_or_none() or 0
    if head_size != stored_max:
        result.findings.append(
            Finding(
                "head",
                None,
                f"the log's head counts {head_size} events but the last stored is {stored_max}",
            )
        )
    for size in sorted(wanted):
        for head in wanted[size]:
            result.checkpoints += 1
            if size > acc.size:
                result.findings.append(
                    Finding(
                        "truncated",
                        acc.size + 1,
                        f"the log was truncated: checkpoint of {head.timestamp:%Y-%m-%d %H:%M}"
                        f" covers {size} events, only {acc.size} remain",
                    )
                )
            elif roots.get(size) != head.root_hash:
                result.findings.append(
                    Finding(
                        "checkpoint",
                        None,
                        f"the first {size} events do not match the checkpoint of "
                        f"{head.timestamp:%Y-%m-%d %H:%M}: an event up to {size} was "
                        "changed, removed or inserted",
                    )
                )
    result.findings.sort(key=lambda f: (f.seq is None, f.seq or 0))
    return result


def _chain_break(conn: Connection, seq: int, prev: bytes) -> Finding:
    linked = audit.seq_of_leaf(conn, prev)
    if linked is None:
        return Finding(
            "inserted", seq, f"event {seq} does not follow any event of the log: inserted or forged"
        )
    if linked == seq - 2:
        return Finding(
            "inserted",
            seq - 1,
            f"event {seq - 1} was inserted: event {seq} follows event {seq - 2}",
        )
    return Finding(
        "reordered", seq, f"events were reordered: event {seq} was written after event {linked}"
    )


def checkpoint(conn: Connection, clock: Clock, keys: Keys) -> SignedTreeHead:
    """Sign the current tree head and keep it in the database; refuses an altered log."""
    state = verify(conn)
    if not state.ok:
        first = state.first
        assert first is not None
        raise AuditLogAltered(f"the audit log does not verify: {first.message}")
    head = sign_tree_head(
        origin=ORIGIN,
        tree_size=state.events,
        root_hash=state.root,
        timestamp=clock.now(),
        private_key=keys.audit_signing_key,
        key_id=keys.audit_key_id,
    )
    conn.execute(
        audit_checkpoint.insert().values(
            tree_size=head.tree_size,
            root_hash=head.root_hash,
            signed_at=head.timestamp,
            key_id=head.key_id,
            text=head.to_checkpoint(),
        )
    )
    return head


def stored_checkpoints(conn: Connection) -> list[SignedTreeHead]:
    """Every checkpoint kept in the database, oldest first."""
    from cordon.audit.merkle import parse_checkpoint

    rows = conn.execute(select(audit_checkpoint.c.text).order_by(audit_checkpoint.c.id)).all()
    return [parse_checkpoint(r.text) for r in rows]
