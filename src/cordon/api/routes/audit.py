"""The audit log, for coordinators: events, checkpoints and verification."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request

from cordon.api.auth import CurrentPrincipal
from cordon.api.routing import CordonRouter
from cordon.api.state import actor_of, app_state
from cordon.audit import log as audit
from cordon.audit import verify as audit_verify
from cordon.domain.permissions import Permission

router = CordonRouter(prefix="/v1/audit", tags=["audit"])


def _event_json(e: audit.AuditEvent) -> dict[str, Any]:
    return {
        "seq": e.seq,
        "at": e.at.isoformat().replace("+00:00", "Z"),
        "action": e.action,
        "actor_user_id": e.actor_user_id,
        "actor_org_id": e.actor_org_id,
        "token_id": e.token_id,
        "object_kind": e.object_kind,
        "object_ids": e.object_ids,
        "request_id": e.request_id,
        "client_ip": e.client_ip,
        "purpose": e.purpose,
        "details": e.details,
    }


@router.get("/events", permission=Permission.AUDIT_READ, summary="Audit events, newest first")
def events(
    request: Request,
    principal: CurrentPrincipal,
    action: str | None = None,
    org_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_seq: int | None = None,
) -> dict[str, Any]:
    """Reading the audit log is itself audited."""
    state = app_state(request)
    with state.write() as conn:
        items = audit.list_events(
            conn, action_prefix=action, org_id=org_id, limit=limit, before_seq=before_seq
        )
        audit.record(
            conn,
            state.clock,
            actor_of(request, principal),
            "api:audit:read",
            object_kind="audit_event",
            object_ids=[e.seq for e in items][:1000],
            details={"filter": {"action": action, "org_id": org_id}},
        )
    return {
        "items": [_event_json(e) for e in items],
        "next_before_seq": items[-1].seq if len(items) == limit else None,
    }


@router.get(
    "/verify",
    permission=Permission.AUDIT_READ,
    summary="Recompute the log's Merkle tree and check it against every stored checkpoint",
)
def verify(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    state = app_state(request)
    with state.write() as conn:
        heads = audit_verify.stored_checkpoints(conn)
        result = audit_verify.verify(conn, heads, state.keys.audit_public_key)
        audit.record(
            conn,
            state.clock,
            actor_of(request, principal),
            "api:audit:verify",
            details={"ok": result.ok, "events": result.events},
        )
    return {
        "ok": result.ok,
        "events": result.events,
        "root_hash": result.root.hex(),
        "checkpoints_checked": result.checkpoints,
        "findings": [{"kind": f.kind, "seq": f.seq, "message": f.message} for f in result.findings],
    }
