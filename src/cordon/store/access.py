"""The access policy: who may read which shared record. The only place that decides it.

Every read path (get, list, search, count, export, feed, UI) of every kind of shared record
filters with :func:`visible`, so that a record one path hides is hidden by all of them. The rules
(DESIGN.md, "Users and what they do"):

* payment providers, hosting providers and ISPs never browse intelligence: of shared records they
  see their own submissions only (addressed records such as notices have rules of their own);
* CLEAR and GREEN: every other member organisation;
* AMBER: the owner and the organisations it shares the record with, by name or sharing group;
* AMBER+STRICT: the owner organisation only;
* RED: the named users only, whatever their organisation.

A record the policy hides is answered exactly as a missing one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    delete,
    exists,
    false,
    or_,
    select,
)

from cordon.domain.partners import ADDRESSEE_ONLY_TYPES, Principal
from cordon.domain.tlp import Tlp
from cordon.store.tables import (
    organisation,
    record_red_user,
    record_share,
    sharing_group,
    sharing_group_member,
)

#: Reads of records with these markings are written to the audit log.
SENSITIVE_TLP = frozenset({Tlp.AMBER_STRICT, Tlp.RED})


def _named_user(principal: Principal, kind: str, id_col: Any) -> ColumnElement[bool]:
    return exists().where(
        record_red_user.c.record_kind == kind,
        record_red_user.c.record_id == id_col,
        record_red_user.c.user_id == principal.user_id,
    )


def _shared_with_org(principal: Principal, kind: str, id_col: Any) -> ColumnElement[bool]:
    groups_of_org = select(sharing_group_member.c.group_id).where(
        sharing_group_member.c.org_id == principal.org_id
    )
    return exists().where(
        record_share.c.record_kind == kind,
        record_share.c.record_id == id_col,
        or_(
            record_share.c.org_id == principal.org_id,
            record_share.c.group_id.in_(groups_of_org),
        ),
    )


def visible(
    principal: Principal, kind: str, *, id_col: Any, owner_col: Any, tlp_col: Any
) -> ColumnElement[bool]:
    """A WHERE clause admitting exactly the records of ``kind`` that ``principal`` may read."""
    red = and_(tlp_col == Tlp.RED.value, _named_user(principal, kind, id_col))
    own = owner_col == principal.org_id
    if principal.org_type in ADDRESSEE_ONLY_TYPES:
        return or_(and_(own, tlp_col != Tlp.RED.value), red)
    return or_(
        tlp_col.in_([Tlp.CLEAR.value, Tlp.GREEN.value]),
        and_(tlp_col == Tlp.AMBER.value, or_(own, _shared_with_org(principal, kind, id_col))),
        and_(tlp_col == Tlp.AMBER_STRICT.value, own),
        red,
    )


def nothing() -> ColumnElement[bool]:
    """A WHERE clause admitting no record."""
    return false()


def set_sharing(
    conn: Connection,
    kind: str,
    record_id: int,
    *,
    org_ids: Iterable[int] = (),
    group_ids: Iterable[int] = (),
    red_user_ids: Iterable[int] = (),
) -> None:
    """Replace whom a record is shared with (AMBER) and who is named on it (RED).

    Raises ``ValueError`` naming an organisation or group that does not exist.
    """
    org_ids, group_ids, red_user_ids = list(org_ids), list(group_ids), list(red_user_ids)
    if org_ids:
        found = set(
            conn.execute(select(organisation.c.id).where(organisation.c.id.in_(org_ids))).scalars()
        )
        missing = sorted(set(org_ids) - found)
        if missing:
            raise ValueError(f"no organisation with id {missing[0]}")
    if group_ids:
        found = set(
            conn.execute(
                select(sharing_group.c.id).where(sharing_group.c.id.in_(group_ids))
            ).scalars()
        )
        missing = sorted(set(group_ids) - found)
        if missing:
            raise ValueError(f"no sharing group with id {missing[0]}")
    conn.execute(
        delete(record_share).where(
            record_share.c.record_kind == kind, record_share.c.record_id == record_id
        )
    )
    conn.execute(
        delete(record_red_user).where(
            record_red_user.c.record_kind == kind, record_red_user.c.record_id == record_id
        )
    )
    rows: list[dict[str, Any]] = [
        {"record_kind": kind, "record_id": record_id, "org_id": o, "group_id": None}
        for o in sorted(set(org_ids))
    ] + [
        {"record_kind": kind, "record_id": record_id, "org_id": None, "group_id": g}
        for g in sorted(set(group_ids))
    ]
    if rows:
        conn.execute(record_share.insert(), rows)
    if red_user_ids:
        conn.execute(
            record_red_user.insert(),
            [
                {"record_kind": kind, "record_id": record_id, "user_id": u}
                for u in sorted(set(red_user_ids))
            ],
        )
