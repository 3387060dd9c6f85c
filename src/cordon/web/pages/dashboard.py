"""The dashboard: figures and charts of what the member may see, and nothing else.

Every report figure is taken through the reports feature's own reads (``count`` and
``list_page``), which apply the access policy; the pipeline's queues are shown to members who
may read them through the API (``work:read``). Hosting countries count the attributions the
member may read; notice and money figures are aggregates in the scope of the money metrics (an
addressee-only organisation sees only its own). Each chart is shown only to members holding the
permission of the API route that gives the same figures.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from cordon.api.auth import CurrentPrincipal
from cordon.api.state import actor_of, app_state
from cordon.domain.partners import ADDRESSEE_ONLY_TYPES, Principal
from cordon.domain.permissions import Permission
from cordon.domain.tlp import Tlp
from cordon.money import metrics
from cordon.pipeline import repo as work
from cordon.reports import repo as reports
from cordon.web import repo
from cordon.web.routing import ConsoleRouter
from cordon.web.templating import render

router = ConsoleRouter()

DAYS = 30
#: The registrable-domain chart covers the member's newest reports, up to this many.
DOMAIN_WINDOW = 1000
TOP_DOMAINS = 10
TOP_PROVIDERS = 10
TOP_COUNTRIES = 15


@router.get("/", permission=Permission.SELF_READ, summary="Console: the dashboard")
def dashboard(request: Request, principal: CurrentPrincipal) -> Response:
    state = app_state(request)
    now = state.clock.now()
    today = datetime(now.year, now.month, now.day, tzinfo=UTC)
    first = today - timedelta(days=DAYS - 1)
    can_report = principal.can(Permission.REPORT_READ.value)
    data: dict[str, Any] = {}
    figures: dict[str, int] = {}
    if can_report:
        with state.write() as conn:
            everything = reports.ReportFilter()
            figures["visible"] = reports.count(conn, principal, everything)
            figures["own"] = reports.count(conn, principal, reports.ReportFilter(own_only=True))
            figures["recent"] = reports.count(conn, principal, reports.ReportFilter(since=first))
            per_day = []
            for offset in range(DAYS):
                start = first + timedelta(days=offset)
                window = reports.ReportFilter(since=start, until=start + timedelta(days=1))
                per_day.append(
                    {
                        "label": start.strftime("%Y-%m-%d"),
                        "value": reports.count(conn, principal, window),
                    }
                )
            per_tlp = [
                {
                    "label": t.value,
                    "value": reports.count(conn, principal, reports.ReportFilter(tlp=t)),
                }
                for t in Tlp
            ]
            urls_by_domain: dict[str, set[int]] = {}
            seen = 0
            before: int | None = None
            actor = actor_of(request, principal)
            while seen < DOMAIN_WINDOW:
                page = reports.list_page(
                    conn,
                    state.clock,
                    principal,
                    actor,
                    everything,
                    limit=min(500, DOMAIN_WINDOW - seen),
                    before_id=before,
                )
                for r in page:
                    for u in r.urls:
                        urls_by_domain.setdefault(u.registrable_domain, set()).add(u.id)
                seen += len(page)
                if len(page) < 500:
                    break
                before = page[-1].id
        data["per_day"] = per_day
        data["per_tlp"] = per_tlp
        domains = Counter({d: len(ids) for d, ids in urls_by_domain.items()})
        data["domains"] = [{"label": d, "value": n} for d, n in domains.most_common(TOP_DOMAINS)]
        figures["domain_window"] = seen
    if principal.can(Permission.WORK_READ.value):
        with state.read() as conn:
            queues = work.counts(conn)
        data["queues"] = [
            {
                "label": q.stage,
                "pending": q.pending,
                "leased": q.leased,
                "done": q.done,
                "dead": q.dead,
            }
            for q in queues
        ]
    data.update(_outcomes(request, principal))
    return render(
        request,
        "dashboard.html",
        {
            "data": data,
            "figures": figures,
            "days": DAYS,
            "domain_limit": DOMAIN_WINDOW,
            "addressee_only": principal.org_type in ADDRESSEE_ONLY_TYPES,
        },
    )


def _outcomes(request: Request, principal: Principal) -> dict[str, Any]:
    """Hosting countries, providers by open notices, the payment-method mix over time and the
    time-to-closure distribution, each for members who may read its figures."""
    state = app_state(request)
    out: dict[str, Any] = {}
    with state.read() as conn:
        if principal.can(Permission.ATTRIBUTION_READ.value):
            out["countries"] = [
                {"label": c, "value": n}
                for c, n in repo.hosting_countries(conn, principal, limit=TOP_COUNTRIES)
            ]
        if principal.can(Permission.NOTICE_READ.value):
            per_org: dict[str, int] = {}
            for t in repo.notice_tallies(conn, principal):
                if t.open:
                    per_org[t.recipient] = per_org.get(t.recipient, 0) + t.open
            ranked = sorted(per_org.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_PROVIDERS]
            out["providers"] = [{"label": name, "value": n} for name, n in ranked]
        if principal.can(Permission.MONEY_METRICS_READ.value):
            mix = metrics.payment_method_mix(conn, principal)
            methods = sorted({r.payment_method for r in mix})
            periods: dict[str, dict[str, int]] = {}
            for r in mix:
                periods.setdefault(r.period, {m: 0 for m in methods})[r.payment_method] = (
                    r.identifiers
                )
            out["mix"] = [{"label": p, "series": v} for p, v in sorted(periods.items())]
            out["mix_methods"] = methods
            out["closure"] = [
                {"label": label, "value": n}
                for label, n in repo.closure_distribution(conn, principal)
            ]
    return out
