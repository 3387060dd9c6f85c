"""Auditing reads of sensitive records: written before the data is returned, failing closed."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection

from cordon.audit import log as audit
from cordon.clock import Clock
from cordon.domain.tlp import Tlp
from cordon.store.access import SENSITIVE_TLP


def record_sensitive_reads(
    conn: Connection,
    clock: Clock,
    actor: audit.Actor,
    kind: str,
    path: str,
    records: Iterable[tuple[int, Tlp]],
    *,
    always: bool = False,
) -> None:
    """Write one event naming every AMBER+STRICT or RED record of ``kind`` being read.

    One event per call keeps a page of results to one write, so that reading a list does not
    become a stream of writes. With ``always`` the read is recorded even when nothing in it is
    sensitive (exports, the audit log itself). If the write fails, the caller's transaction
    fails and the data is not returned.
    """
    ids = [rid for rid, tlp in records if tlp in SENSITIVE_TLP]
    if not ids and not always:
        return
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:{kind}:{path}",
        object_kind=kind,
        object_ids=list(ids),
        details={"sensitive": len(ids)},
    )
