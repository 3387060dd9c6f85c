"""Outcome metrics: how long removal took, how often notices were repeated, how often content
came back, and how long payment providers took to close accounts.

Definitions (docs/outcomes.md, "Metrics"):

* **time to removal** of a URL in a host (or CDN) notice: from the first report naming the URL
  to the capture that first showed it gone after the notice (``removed_at``); per provider,
  AS number, country of the hosting, and network (when the entity graph has the site in one);
* **time to closure** of a payment alert: from the alert (or its reopening) to the answer
  ``account_closed``, per payment provider;
* **repeats**: per notice kind, how many times notices were sent again unanswered;
* **reappearance rate**: removed URLs that came back, over removed URLs.

Each group gives ``count``, ``median_hours``, ``p90_hours``, ``mean_hours``, ``max_hours`` and a
``distribution`` over fixed buckets. Aggregates carry no URL and no identifier.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, select

from cordon.domain.partners import ADDRESSEE_ONLY_TYPES, OrgType, Principal
from cordon.notices import repo as notices
from cordon.notices.kinds import HOST_TAKEDOWN, LE_REFERRAL, PAYMENT_ALERT, REGISTRAR_NOTICE
from cordon.outcomes import repo
from cordon.store.tables import organisation
from cordon.store.tables_money import notice

#: Upper bounds (hours) of the distribution buckets; the last bucket is open.
BUCKETS: tuple[tuple[str, float], ...] = (
    ("<1h", 1),
    ("1-6h", 6),
    ("6-24h", 24),
    ("1-3d", 72),
    ("3-7d", 168),
    (">7d", math.inf),
)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) by linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summary(hours: Sequence[float]) -> dict[str, Any]:
    """Count, median, p90, mean, max and the bucket distribution of durations in hours."""

    def r(v: float | None) -> float | None:
        return None if v is None else round(v, 3)

    dist = {name: 0 for name, _ in BUCKETS}
    for h in hours:
        for name, bound in BUCKETS:
            if h < bound:
                dist[name] += 1
                break
    return {
        "count": len(hours),
        "median_hours": r(percentile(hours, 0.5)),
        "p90_hours": r(percentile(hours, 0.9)),
        "mean_hours": r(sum(hours) / len(hours)) if hours else None,
        "max_hours": r(max(hours)) if hours else None,
        "distribution": dist,
    }


def _grouped(pairs: Iterable[tuple[Any, float]]) -> list[dict[str, Any]]:
    groups: dict[Any, list[float]] = defaultdict(list)
    for key, hours in pairs:
        groups[key].append(hours)
    return [
        {"key": key, **summary(values)}
        for key, values in sorted(groups.items(), key=lambda kv: str(kv[0]))
    ]


def _networks(conn: Connection, domains: set[str]) -> dict[str, int]:
    """Registrable domain → network id, when the entity graph is present."""
    try:
        from cordon.store.tables_graph import graph_node, network_member
    except ImportError:  # no entity graph in this installation
        return {}
    if not domains:
        return {}
    rows = conn.execute(
        select(graph_node.c.key, network_member.c.network_id)
        .join(network_member, network_member.c.node_id == graph_node.c.id)
        .where(
            graph_node.c.kind == "site",
            graph_node.c.key.in_(sorted(domains)),
            network_member.c.until.is_(None),
        )
    ).all()
    return {str(r.key): int(r.network_id) for r in rows}


def time_to_removal(conn: Connection, *, with_networks: bool = True) -> dict[str, Any]:
    """Time to removal overall and per provider, AS number, country and network."""
    rows = [r for r in repo.removal_rows(conn) if r.removed_at is not None]
    hours = [(r, (r.removed_at - r.reported_at).total_seconds() / 3600) for r in rows]
    out: dict[str, Any] = {
        "overall": summary([h for _, h in hours]),
        "by_provider": _grouped((r.provider or "unknown", h) for r, h in hours),
        "by_asn": _grouped((r.asn or 0, h) for r, h in hours),
        "by_country": _grouped((r.country or "unknown", h) for r, h in hours),
    }
    if with_networks:
        nets = _networks(conn, {r.registrable_domain for r, _ in hours})
        out["by_network"] = _grouped(
            (nets[r.registrable_domain], h) for r, h in hours if r.registrable_domain in nets
        )
    return out


def repeats(conn: Connection) -> list[dict[str, Any]]:
    """Per takedown kind: notices sent, repeats per notice (median, p90, max, total)."""
    kinds = [HOST_TAKEDOWN.name, REGISTRAR_NOTICE.name, LE_REFERRAL.name, PAYMENT_ALERT.name]
    rows = repo.outcome_notice_rows(conn, kinds)
    out = []
    for kind in kinds:
        values = [float(r.repeats) for r in rows if r.kind == kind]
        out.append(
            {
                "kind": kind,
                "notices": len(values),
                "repeats_total": int(sum(values)),
                "median": percentile(values, 0.5),
                "p90": percentile(values, 0.9),
                "max": max(values) if values else None,
            }
        )
    return out


def reappearance(conn: Connection) -> dict[str, Any]:
    """Removed URLs (host and CDN notices) and how many came back."""
    rows = repo.removal_rows(conn)
    removed = [r for r in rows if r.state in ("removed", "reappeared")]
    back = [r for r in removed if r.state == "reappeared"]
    return {
        "removed": len(removed),
        "reappeared": len(back),
        "rate": round(len(back) / len(removed), 4) if removed else None,
    }


def time_to_closure(conn: Connection, principal: Principal | None = None) -> list[dict[str, Any]]:
    """Hours from a payment alert (or its reopening) to its closure, per payment provider.
    A payment provider sees only its own row."""
    closures = notices.closures(conn, PAYMENT_ALERT.name)
    if not closures:
        return []
    ids = [c[0] for c in closures]
    recipients = dict(
        conn.execute(
            select(notice.c.id, organisation.c.name)
            .join(organisation, organisation.c.id == notice.c.recipient_org_id)
            .where(notice.c.id.in_(ids))
        ).all()
    )
    own: str | None = None
    if principal is not None and principal.org_type is OrgType.PAYMENT_PROVIDER:
        own = repo.org_name(conn, principal.org_id)
    pairs = [
        (recipients[i], seconds / 3600)
        for i, _, seconds in closures
        if i in recipients and (own is None or recipients[i] == own)
    ]
    return _grouped(pairs)


def outcome_stats(conn: Connection, principal: Principal | None = None) -> dict[str, Any]:
    """Every outcome metric, as ``cordon stats`` prints it and ``/v1/stats/outcomes`` serves.

    Networks are intelligence: an addressee-only organisation gets no per-network rows.
    """
    nets = principal is None or principal.org_type not in ADDRESSEE_ONLY_TYPES
    return {
        "time_to_removal": time_to_removal(conn, with_networks=nets),
        "time_to_closure": time_to_closure(conn, principal),
        "repeats": repeats(conn),
        "reappearance": reappearance(conn),
    }
