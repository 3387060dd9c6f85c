"""Storing and reading attributions, hops, jurisdiction coverage and routes.

Access. An attribution is a record derived from the reports that name its URL, so it has no
marking of its own: at every read it takes the strictest marking of those reports
(:func:`cordon.domain.tlp.strictest`, computed in SQL) and the organisations that own them.
Every read filters through :func:`cordon.store.access.visible` with

* ``tlp_col``: the strictest marking of the reports naming the URL (none: nobody may read it);
* ``owner_col``: the reader's own organisation when it owns one of those reports;
* sharing keyed by the URL (kind ``url_attribution``): an owner may share a URL's attributions
  wider (AMBER) with :func:`share`; for RED, the users named on the RED reports about the URL are
  named on its attributions too (refreshed at every new attribution).

So a new report about a URL changes who may read its attributions at once, in both directions,
and a hop (derived from the same URL) is read under the same rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    ScalarSelect,
    and_,
    case,
    delete,
    func,
    select,
)

from cordon.attribution.jurisdiction import COORDINATOR, COVERING_TYPES, Decision, Partner
from cordon.attribution.model import HostAttribution
from cordon.audit import log as audit
from cordon.audit.reads import record_sensitive_reads
from cordon.clock import Clock
from cordon.domain.partners import Principal, parse_country
from cordon.domain.tlp import Tlp
from cordon.pipeline import repo as work
from cordon.store import access
from cordon.store.tables import (
    attribution,
    attribution_hop,
    jurisdiction_coverage,
    jurisdiction_route,
    organisation,
    record_red_user,
    record_share,
    report,
    report_url,
    url,
)
from cordon.store.tables_crawl import capture

#: Audit object kind of an attribution.
KIND = "attribution"
#: Audit object kind of a hop.
HOP_KIND = "attribution_hop"
#: Sharing kind: AMBER shares and RED names of a URL's attributions, keyed by the URL's id.
ACCESS_KIND = "url_attribution"
#: The pipeline stage that attributes URLs.
STAGE = "attribute"
#: Changes that make a new observation a hop (a move), compared only when both sides are known.
HOP_FIELDS = ("domain", "provider", "asn", "country", "registrar", "cdn", "origin_provider")


class AttributionError(ValueError):
    """A request about attributions that cannot be carried out; the message says why."""


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class UrlTarget:
    """A stored URL as attribution needs it."""

    id: int
    url: str
    host: str
    registrable_domain: str


@dataclass(frozen=True)
class RouteRecord:
    org_id: int
    org_name: str
    org_type: str
    country: str | None
    reason: str


@dataclass(frozen=True)
class AttributionRecord:
    """A stored attribution, with the marking it has for the reader."""

    id: int
    url_id: int
    url: str
    host: str
    registrable_domain: str
    basis: str
    capture_id: int | None
    observed_at: datetime
    status: str
    address: str | None
    asn: int | None
    as_org: str | None
    prefix: str | None
    country: str | None
    provider: str | None
    abuse_email: str | None
    cdn: str | None
    origin_status: str
    origin_address: str | None
    origin_provider: str | None
    origin_country: str | None
    registrar: str | None
    registrar_iana_id: int | None
    registrar_abuse_email: str | None
    registrar_country: str | None
    chain: dict[str, Any]
    failures: list[dict[str, str]]
    routing: dict[str, Any]
    tlp: Tlp
    routes: list[RouteRecord] = field(default_factory=list)


@dataclass(frozen=True)
class HopRecord:
    """A move of a URL's hosting: what changed, from which observation to which."""

    id: int
    url_id: int
    at: datetime
    from_attribution_id: int
    to_attribution_id: int
    changes: list[str]
    old_host: str
    new_host: str
    old_provider: str | None
    new_provider: str | None
    old_asn: int | None
    new_asn: int | None
    old_country: str | None
    new_country: str | None
    tlp: Tlp


@dataclass(frozen=True)
class Stored:
    """What :func:`store` wrote."""

    attribution_id: int
    hop_id: int | None
    changes: list[str]


# --------------------------------------------------------------------------- access

_RANKS = {tlp.value: tlp.rank for tlp in Tlp}
_LABELS = {tlp.rank: tlp.value for tlp in Tlp}


def _strictest_rank(url_id_col: Any) -> ScalarSelect[Any]:
    rank = case(*((report.c.tlp == label, r) for label, r in _RANKS.items()), else_=len(_RANKS))
    return (
        select(func.max(rank))
        .select_from(report_url.join(report, report.c.id == report_url.c.report_id))
        .where(report_url.c.url_id == url_id_col)
        .scalar_subquery()
    )


def derived_tlp(url_id_col: Any) -> ColumnElement[Any]:
    """The strictest marking of the reports naming the URL, as its label (NULL: no report)."""
    return case(_LABELS, value=_strictest_rank(url_id_col), else_=None)


def _owner_as_seen_by(principal: Principal, url_id_col: Any) -> ScalarSelect[Any]:
    """The reader's organisation when it owns a report naming the URL, else NULL."""
    return (
        select(report.c.owner_org_id)
        .select_from(report_url.join(report, report.c.id == report_url.c.report_id))
        .where(report_url.c.url_id == url_id_col, report.c.owner_org_id == principal.org_id)
        .limit(1)
        .scalar_subquery()
    )


def visible_clause(principal: Principal, url_id_col: Any) -> ColumnElement[bool]:
    """The access policy's clause for records derived from the URL in ``url_id_col``."""
    return access.visible(
        principal,
        ACCESS_KIND,
        id_col=url_id_col,
        owner_col=_owner_as_seen_by(principal, url_id_col),
        tlp_col=derived_tlp(url_id_col),
    )


def _refresh_red_users(conn: Connection, url_id: int) -> None:
    """Name on the URL's attributions the users named on the RED reports about it."""
    named = set(
        conn.execute(
            select(record_red_user.c.user_id)
            .select_from(
                record_red_user.join(
                    report_url,
                    and_(
                        record_red_user.c.record_kind == "report",
                        record_red_user.c.record_id == report_url.c.report_id,
                    ),
                ).join(report, report.c.id == report_url.c.report_id)
            )
            .where(report_url.c.url_id == url_id, report.c.tlp == Tlp.RED.value)
        ).scalars()
    )
    current = set(
        conn.execute(
            select(record_red_user.c.user_id).where(
                record_red_user.c.record_kind == ACCESS_KIND,
                record_red_user.c.record_id == url_id,
            )
        ).scalars()
    )
    gone = current - named
    if gone:
        conn.execute(
            delete(record_red_user).where(
                record_red_user.c.record_kind == ACCESS_KIND,
                record_red_user.c.record_id == url_id,
                record_red_user.c.user_id.in_(gone),
            )
        )
    new = named - current
    if new:
        conn.execute(
            record_red_user.insert(),
            [{"record_kind": ACCESS_KIND, "record_id": url_id, "user_id": u} for u in sorted(new)],
        )


def share(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    url_id: int,
    org_ids: Iterable[int],
) -> None:
    """Share a URL's attributions (when AMBER) with more organisations. Only an owner of a
    report naming the URL may release them wider (DESIGN.md, derived records)."""
    owned = conn.execute(
        select(report.c.id)
        .select_from(report_url.join(report, report.c.id == report_url.c.report_id))
        .where(report_url.c.url_id == url_id, report.c.owner_org_id == principal.org_id)
        .limit(1)
    ).first()
    if owned is None:
        raise AttributionError(f"only the owners of reports naming URL {url_id} may share it")
    red = list(
        conn.execute(
            select(record_red_user.c.user_id).where(
                record_red_user.c.record_kind == ACCESS_KIND,
                record_red_user.c.record_id == url_id,
            )
        ).scalars()
    )
    org_list = sorted(set(org_ids))
    try:
        access.set_sharing(conn, ACCESS_KIND, url_id, org_ids=org_list, red_user_ids=red)
    except ValueError as exc:
        raise AttributionError(str(exc)) from None
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:attribution:share",
        object_kind="url",
        object_ids=[url_id],
        details={"org_ids": org_list},
    )


def shared_with(conn: Connection, url_id: int) -> list[int]:
    """Organisations a URL's attributions are shared with by name."""
    return sorted(
        conn.execute(
            select(record_share.c.org_id).where(
                record_share.c.record_kind == ACCESS_KIND,
                record_share.c.record_id == url_id,
                record_share.c.org_id.is_not(None),
            )
        ).scalars()
    )


# --------------------------------------------------------------------------- urls, partners


def url_target(conn: Connection, url_id: int) -> UrlTarget | None:
    """The stored URL with this id, or None."""
    row = conn.execute(
        select(url.c.id, url.c.url, url.c.host, url.c.registrable_domain).where(url.c.id == url_id)
    ).first()
    if row is None:
        return None
    return UrlTarget(int(row.id), row.url, row.host, row.registrable_domain)


@dataclass(frozen=True)
class CaptureSeen:
    """What a crawler's capture says about where a URL was served from."""

    id: int
    final_host: str | None
    connected_address: str
    headers: dict[str, str]
    finished_at: datetime


def unattributed_capture(conn: Connection, url_id: int) -> CaptureSeen | None:
    """The URL's newest live capture with a connected address, unless it was attributed."""
    row = conn.execute(
        select(
            capture.c.id,
            capture.c.final_host,
            capture.c.connected_address,
            capture.c.headers,
            capture.c.finished_at,
        )
        .where(
            capture.c.url_id == url_id,
            capture.c.outcome == "live",
            capture.c.connected_address.is_not(None),
        )
        .order_by(capture.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    done = conn.execute(
        select(attribution.c.id).where(attribution.c.capture_id == row.id).limit(1)
    ).first()
    if done is not None:
        return None
    headers = row.headers if isinstance(row.headers, dict) else {}
    return CaptureSeen(
        int(row.id),
        row.final_host,
        row.connected_address,
        {str(k): str(v) for k, v in headers.items()},
        row.finished_at,
    )


def partners(conn: Connection) -> list[Partner]:
    """Active hotlines, law-enforcement partners and coordinators with the countries they
    cover (their configured coverage, else their own country)."""
    rows = conn.execute(
        select(organisation.c.id, organisation.c.name, organisation.c.type, organisation.c.country)
        .where(
            organisation.c.active.is_(True),
            organisation.c.type.in_([*COVERING_TYPES, COORDINATOR]),
        )
        .order_by(organisation.c.id)
    ).all()
    configured: dict[int, set[str]] = {}
    for org_id, country in conn.execute(
        select(jurisdiction_coverage.c.org_id, jurisdiction_coverage.c.country)
    ):
        configured.setdefault(int(org_id), set()).add(country)
    return [
        Partner(int(r.id), r.name, r.type, frozenset(configured.get(int(r.id), {r.country})))
        for r in rows
    ]


def coverage(conn: Connection, org_id: int) -> list[str]:
    """Countries an organisation is configured to cover (empty: its own country)."""
    return sorted(
        conn.execute(
            select(jurisdiction_coverage.c.country).where(jurisdiction_coverage.c.org_id == org_id)
        ).scalars()
    )


def set_coverage(
    conn: Connection, clock: Clock, actor: audit.Actor, org_id: int, countries: Sequence[str]
) -> list[str]:
    """Replace the countries a hotline or law-enforcement partner covers (empty: back to its
    own country). Raises :class:`AttributionError` naming a bad country or organisation."""
    row = conn.execute(select(organisation.c.type).where(organisation.c.id == org_id)).first()
    if row is None:
        raise AttributionError(f"no organisation with id {org_id}")
    if row.type not in COVERING_TYPES:
        raise AttributionError(
            f"organisation {org_id} is a {row.type}: only hotlines and law-enforcement partners "
            "cover countries"
        )
    codes: list[str] = []
    for text in countries:
        try:
            codes.append(parse_country(text))
        except ValueError as exc:
            raise AttributionError(str(exc)) from None
    codes = sorted(set(codes))
    conn.execute(delete(jurisdiction_coverage).where(jurisdiction_coverage.c.org_id == org_id))
    if codes:
        conn.execute(
            jurisdiction_coverage.insert(), [{"org_id": org_id, "country": c} for c in codes]
        )
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:jurisdiction:set",
        object_kind="org",
        object_ids=[org_id],
        details={"countries": codes},
    )
    return codes


# --------------------------------------------------------------------------- writing


def _row_values(
    url_id: int, found: HostAttribution, decision: Decision, capture_id: int | None
) -> dict[str, Any]:
    network = found.network
    origin = found.origin.network
    registrar = found.registrar
    return {
        "url_id": url_id,
        "host": found.host,
        "registrable_domain": found.registrable_domain,
        "basis": found.basis,
        "capture_id": capture_id,
        "observed_at": found.observed_at,
        "status": found.status,
        "address": network.address if network else None,
        "asn": network.asn if network else None,
        "as_org": network.as_org if network else None,
        "prefix": network.prefix if network else None,
        "country": network.country if network else None,
        "provider": found.notice_party,
        "abuse_email": found.abuse_email,
        "cdn": found.cdn.id if found.cdn else None,
        "origin_status": found.origin.status,
        "origin_address": origin.address if origin else None,
        "origin_provider": origin.provider if origin else None,
        "origin_country": origin.country if origin else None,
        "registrar": registrar.name if registrar else None,
        "registrar_iana_id": registrar.iana_id if registrar else None,
        "registrar_abuse_email": registrar.abuse.email if registrar and registrar.abuse else None,
        "registrar_country": registrar.country if registrar else None,
        "chain": found.to_dict(),
        "failures": [f.to_dict() for f in found.failures],
        "routing": {"bases": decision.to_dict()["bases"], "reasons": list(decision.reasons)},
    }


def hop_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs between two observations of one URL (both sides known), in the order of
    :data:`HOP_FIELDS`, then ``host`` and ``address``. A hop is any change in HOP_FIELDS."""
    pairs = {
        "domain": "registrable_domain",
        "provider": "provider",
        "asn": "asn",
        "country": "country",
        "registrar": "registrar",
        "cdn": "cdn",
        "origin_provider": "origin_provider",
    }
    out: list[str] = []
    same_asn = old.get("asn") is not None and old.get("asn") == new.get("asn")
    both_asn = old.get("asn") is not None and new.get("asn") is not None
    for name in HOP_FIELDS:
        key = pairs[name]
        a, b = old.get(key), new.get(key)
        if name == "provider" and same_asn:
            continue  # one network, two spellings of its holder (RDAP name, AS name)
        if name == "cdn":
            # Moving behind a CDN, or away from one, is a move; judged only when both
            # observations could see the network.
            if both_asn and a != b:
                out.append(name)
        elif a is not None and b is not None and a != b:
            out.append(name)
    for key in ("host", "address"):
        a, b = old.get(key), new.get(key)
        if a is not None and b is not None and a != b:
            out.append(key)
    return out


def store(
    conn: Connection,
    clock: Clock,
    actor: audit.Actor,
    url_id: int,
    found: HostAttribution,
    decision: Decision,
    *,
    capture_id: int | None = None,
) -> Stored:
    """Store one observation of a URL's host with its routing decision, record a hop when the
    hosting moved since the last successful observation, and audit both, in the caller's
    transaction."""
    values = _row_values(url_id, found, decision, capture_id)
    previous = None
    if found.status != "failed":
        previous = conn.execute(
            select(attribution)
            .where(
                attribution.c.url_id == url_id,
                attribution.c.status != "failed",
                attribution.c.observed_at <= found.observed_at,
            )
            .order_by(attribution.c.observed_at.desc(), attribution.c.id.desc())
            .limit(1)
        ).first()
    attribution_id = int(
        conn.execute(attribution.insert().values(**values).returning(attribution.c.id)).scalar_one()
    )
    if decision.routes:
        conn.execute(
            jurisdiction_route.insert(),
            [
                {
                    "attribution_id": attribution_id,
                    "org_id": r.org_id,
                    "org_type": r.org_type,
                    "country": r.country,
                    "reason": r.reason[:2000],
                }
                for r in decision.routes
            ],
        )
    _refresh_red_users(conn, url_id)
    events: list[tuple[str, str | None, list[int | str], dict[str, Any]]] = [
        (
            f"{actor.source}:attribution:create",
            KIND,
            [attribution_id],
            {
                "url_id": url_id,
                "status": found.status,
                "basis": found.basis,
                "failures": len(found.failures),
                "routes": len(decision.routes),
            },
        )
    ]
    hop_id: int | None = None
    changes: list[str] = []
    if previous is not None:
        changes = hop_changes(dict(previous._mapping), values)
        if any(c in HOP_FIELDS for c in changes):
            hop_id = int(
                conn.execute(
                    attribution_hop.insert()
                    .values(
                        url_id=url_id,
                        at=found.observed_at,
                        from_attribution_id=previous.id,
                        to_attribution_id=attribution_id,
                        changes=changes,
                        old_host=previous.host,
                        new_host=found.host,
                        old_provider=previous.provider,
                        new_provider=values["provider"],
                        old_asn=previous.asn,
                        new_asn=values["asn"],
                        old_country=previous.country,
                        new_country=values["country"],
                    )
                    .returning(attribution_hop.c.id)
                ).scalar_one()
            )
            events.append(
                (
                    f"{actor.source}:attribution:hop",
                    HOP_KIND,
                    [hop_id],
                    {"url_id": url_id, "changes": changes},
                )
            )
    audit.record_many(conn, clock, actor, events)
    return Stored(attribution_id, hop_id, changes)


def request_attribution(
    conn: Connection, now: datetime, url_ids: Sequence[int], *, after: timedelta | None = None
) -> None:
    """Ask the ``attribute`` stage to (re-)attribute these URLs, now or ``after`` from now."""
    work.enqueue(
        conn,
        now,
        STAGE,
        "url",
        list(url_ids),
        run_at=now + after if after else None,
        rearm=True,
    )


# --------------------------------------------------------------------------- reading


def _columns() -> list[Any]:
    return [
        *attribution.c,
        url.c.url.label("url_text"),
        derived_tlp(attribution.c.url_id).label("derived_tlp"),
    ]


def _record(row: Row[Any], routes: list[RouteRecord]) -> AttributionRecord:
    return AttributionRecord(
        id=int(row.id),
        url_id=int(row.url_id),
        url=row.url_text,
        host=row.host,
        registrable_domain=row.registrable_domain,
        basis=row.basis,
        capture_id=row.capture_id,
        observed_at=row.observed_at,
        status=row.status,
        address=row.address,
        asn=row.asn,
        as_org=row.as_org,
        prefix=row.prefix,
        country=row.country,
        provider=row.provider,
        abuse_email=row.abuse_email,
        cdn=row.cdn,
        origin_status=row.origin_status,
        origin_address=row.origin_address,
        origin_provider=row.origin_provider,
        origin_country=row.origin_country,
        registrar=row.registrar,
        registrar_iana_id=row.registrar_iana_id,
        registrar_abuse_email=row.registrar_abuse_email,
        registrar_country=row.registrar_country,
        chain=dict(row.chain),
        failures=list(row.failures),
        routing=dict(row.routing),
        tlp=Tlp(row.derived_tlp),
        routes=routes,
    )


def _routes(conn: Connection, ids: list[int]) -> dict[int, list[RouteRecord]]:
    out: dict[int, list[RouteRecord]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = conn.execute(
        select(
            jurisdiction_route.c.attribution_id,
            jurisdiction_route.c.org_id,
            organisation.c.name,
            jurisdiction_route.c.org_type,
            jurisdiction_route.c.country,
            jurisdiction_route.c.reason,
        )
        .join(organisation, organisation.c.id == jurisdiction_route.c.org_id)
        .where(jurisdiction_route.c.attribution_id.in_(ids))
        .order_by(jurisdiction_route.c.attribution_id, jurisdiction_route.c.id)
    )
    for r in rows:
        out[int(r.attribution_id)].append(
            RouteRecord(int(r.org_id), r.name, r.org_type, r.country, r.reason)
        )
    return out


def _select(principal: Principal) -> Any:
    return (
        select(*_columns())
        .select_from(attribution.join(url, url.c.id == attribution.c.url_id))
        .where(visible_clause(principal, attribution.c.url_id))
    )


def _load(
    conn: Connection, clock: Clock, actor: audit.Actor, stmt: Any, path: str
) -> list[AttributionRecord]:
    rows = conn.execute(stmt).all()
    record_sensitive_reads(
        conn, clock, actor, KIND, path, [(int(r.id), Tlp(r.derived_tlp)) for r in rows]
    )
    routes = _routes(conn, [int(r.id) for r in rows])
    return [_record(r, routes[int(r.id)]) for r in rows]


def get(
    conn: Connection, clock: Clock, principal: Principal, actor: audit.Actor, attribution_id: int
) -> AttributionRecord | None:
    """The attribution, or None when it does not exist *or* may not be read (the same
    answer)."""
    found = _load(
        conn, clock, actor, _select(principal).where(attribution.c.id == attribution_id), "read"
    )
    return found[0] if found else None


def history(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    url_id: int,
    *,
    limit: int = 100,
) -> list[AttributionRecord]:
    """The URL's observations the reader may see, newest first."""
    stmt = (
        _select(principal)
        .where(attribution.c.url_id == url_id)
        .order_by(attribution.c.observed_at.desc(), attribution.c.id.desc())
        .limit(limit)
    )
    return _load(conn, clock, actor, stmt, "list")


def latest(
    conn: Connection, clock: Clock, principal: Principal, actor: audit.Actor, url_id: int
) -> AttributionRecord | None:
    """The URL's newest observation the reader may see."""
    found = history(conn, clock, principal, actor, url_id, limit=1)
    return found[0] if found else None


def for_capture(
    conn: Connection, clock: Clock, principal: Principal, actor: audit.Actor, capture_id: int
) -> AttributionRecord | None:
    """The observation made from a crawler's capture, if the reader may see it."""
    stmt = (
        _select(principal)
        .where(attribution.c.capture_id == capture_id)
        .order_by(attribution.c.id.desc())
        .limit(1)
    )
    found = _load(conn, clock, actor, stmt, "read")
    return found[0] if found else None


@dataclass(frozen=True)
class AttributionFilter:
    """Narrowing of a list or count."""

    country: str | None = None
    asn: int | None = None
    cdn: str | None = None
    status: str | None = None
    since: datetime | None = None


def _filtered(stmt: Any, f: AttributionFilter) -> Any:
    if f.country is not None:
        stmt = stmt.where(attribution.c.country == f.country.upper())
    if f.asn is not None:
        stmt = stmt.where(attribution.c.asn == f.asn)
    if f.cdn is not None:
        stmt = stmt.where(attribution.c.cdn == f.cdn)
    if f.status is not None:
        stmt = stmt.where(attribution.c.status == f.status)
    if f.since is not None:
        stmt = stmt.where(attribution.c.observed_at >= f.since)
    return stmt


def list_page(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    f: AttributionFilter | None = None,
    *,
    limit: int = 50,
    before_id: int | None = None,
) -> list[AttributionRecord]:
    """Newest first; page on with ``before_id`` = the last id of the previous page."""
    stmt = _filtered(_select(principal), f or AttributionFilter())
    if before_id is not None:
        stmt = stmt.where(attribution.c.id < before_id)
    return _load(conn, clock, actor, stmt.order_by(attribution.c.id.desc()).limit(limit), "list")


def count(conn: Connection, principal: Principal, f: AttributionFilter | None = None) -> int:
    """How many attributions the reader may see (counts reveal no record; not audited)."""
    stmt = _filtered(
        select(func.count())
        .select_from(attribution)
        .where(visible_clause(principal, attribution.c.url_id)),
        f or AttributionFilter(),
    )
    return int(conn.execute(stmt).scalar_one())


def hops(
    conn: Connection,
    clock: Clock,
    principal: Principal,
    actor: audit.Actor,
    *,
    url_id: int | None = None,
    since: datetime | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[HopRecord]:
    """Moves of hosting the reader may see, newest first (the feed of networks and metrics)."""
    stmt = select(
        attribution_hop, derived_tlp(attribution_hop.c.url_id).label("derived_tlp")
    ).where(visible_clause(principal, attribution_hop.c.url_id))
    if url_id is not None:
        stmt = stmt.where(attribution_hop.c.url_id == url_id)
    if since is not None:
        stmt = stmt.where(attribution_hop.c.at >= since)
    if before_id is not None:
        stmt = stmt.where(attribution_hop.c.id < before_id)
    rows = conn.execute(
        stmt.order_by(attribution_hop.c.at.desc(), attribution_hop.c.id.desc()).limit(limit)
    ).all()
    record_sensitive_reads(
        conn, clock, actor, HOP_KIND, "list", [(int(r.id), Tlp(r.derived_tlp)) for r in rows]
    )
    return [
        HopRecord(
            id=int(r.id),
            url_id=int(r.url_id),
            at=r.at,
            from_attribution_id=int(r.from_attribution_id),
            to_attribution_id=int(r.to_attribution_id),
            changes=list(r.changes),
            old_host=r.old_host,
            new_host=r.new_host,
            old_provider=r.old_provider,
            new_provider=r.new_provider,
            old_asn=r.old_asn,
            new_asn=r.new_asn,
            old_country=r.old_country,
            new_country=r.new_country,
            tlp=Tlp(r.derived_tlp),
        )
        for r in rows
    ]


def record_as_dict(r: AttributionRecord) -> dict[str, Any]:
    """The JSON form of a stored attribution, as the API gives it."""
    return {
        "id": r.id,
        "url_id": r.url_id,
        "url": r.url,
        "tlp": r.tlp.value,
        "observed_at": r.observed_at.isoformat().replace("+00:00", "Z"),
        "basis": r.basis,
        "capture_id": r.capture_id,
        "status": r.status,
        "chain": r.chain,
        "routing": {
            **r.routing,
            "routes": [
                {
                    "org_id": x.org_id,
                    "name": x.org_name,
                    "org_type": x.org_type,
                    "country": x.country,
                    "reason": x.reason,
                }
                for x in r.routes
            ],
        },
    }
