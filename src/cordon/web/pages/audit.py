"""The audit log, for coordinators: events and the log's verification. Reading it is audited."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from cordon.api.auth import CurrentPrincipal
from cordon.api.state import actor_of, app_state
from cordon.audit import log as audit
from cordon.audit import verify as audit_verify
from cordon.domain.permissions import Permission
from cordon.partners import repo as partners
from cordon.web.routing import ConsoleRouter
from cordon.web.templating import render, render_fragment

router = ConsoleRouter()

PAGE_SIZE = 100


def _event_view(e: audit.AuditEvent, orgs: dict[int, str]) -> dict[str, Any]:
    return {
        "seq": e.seq,
        "at": e.at,
        "action": e.action,
        "user": e.actor_user_id,
        "org": orgs.get(e.actor_org_id, "") if e.actor_org_id is not None else "",
        "token": e.token_id,
        "object": f"{e.object_kind or ''} {', '.join(str(i) for i in e.object_ids[:20])}".strip()
        + (" …" if len(e.object_ids) > 20 else ""),
        "request_id": e.request_id,
        "client_ip": e.client_ip,
        "purpose": e.purpose,
        "details": json.dumps(e.details, sort_keys=True, ensure_ascii=False) if e.details else "",
    }


@router.get("/audit", permission=Permission.AUDIT_READ, summary="Console: the audit log")
def events(
    request: Request,
    principal: CurrentPrincipal,
    action: str = "",
    org_id: str = "",
    before_seq: int | None = None,
) -> Response:
    """Newest first, in pages, filtered by action prefix and acting organisation."""
    state = app_state(request)
    org_filter = int(org_id) if org_id.isdigit() else None
    with state.write() as conn:
        orgs = {o.id: o.name for o in partners.list_orgs(conn)}
        items = audit.list_events(
            conn,
            action_prefix=action.strip() or None,
            org_id=org_filter,
            limit=PAGE_SIZE,
            before_seq=before_seq,
        )
        audit.record(
            conn,
            state.clock,
            actor_of(request, principal),
            "ui:audit:read",
            object_kind="audit_event",
            object_ids=[e.seq for e in items],
            details={"filter": {"action": action or None, "org_id": org_filter}},
        )
    from urllib.parse import urlencode

    older = None
    if len(items) == PAGE_SIZE:
        older = urlencode(
            {k: v for k, v in (("action", action), ("org_id", org_id)) if v}
            | {"before_seq": items[-1].seq}
        )
    return render(
        request,
        "audit.html",
        {
            "events": [_event_view(e, orgs) for e in items],
            "orgs": sorted(orgs.items(), key=lambda kv: kv[1]),
            "action": action,
            "org_id": org_id,
            "older": older,
        },
    )


@router.get(
    "/audit/verify",
    permission=Permission.AUDIT_READ,
    summary="Console: verify the audit log against itself and every stored checkpoint",
)
def verify(request: Request, principal: CurrentPrincipal) -> Response:
    state = app_state(request)
    with state.write() as conn:
        heads = audit_verify.stored_checkpoints(conn)
        result = audit_verify.verify(conn, heads, state.keys.audit_public_key)
        audit.record(
            conn,
            state.clock,
            actor_of(request, principal),
            "ui:audit:verify",
            details={"ok": result.ok, "events": result.events},
        )
    context = {"result": result, "root": result.root.hex()}
    if "hx-request" in request.headers:
        return render_fragment("_verification.html", context)
    return render(request, "audit_verify.html", context)
