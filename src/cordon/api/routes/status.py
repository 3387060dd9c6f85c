"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from cordon.api.routing import CordonRouter
from cordon.api.state import app_state
from cordon.domain.permissions import Permission
from cordon.store.migrate import current_revision, head_revision

router = CordonRouter(tags=["status"])


@router.get("/status/live", permission=Permission.PUBLIC, summary="Liveness: the process runs")
def live() -> dict[str, str]:
    """Always 200 while the process can answer."""
    return {"status": "live"}


@router.get(
    "/status",
    permission=Permission.PUBLIC,
    summary="Readiness: 200 when the database is migrated and reachable, else 503",
)
def ready(request: Request) -> JSONResponse:
    """Readiness of the service and of each dependency it needs."""
    state = app_state(request)
    checks: dict[str, Any] = {}
    ok = True
    try:
        current = current_revision(state.engine)
        head = head_revision()
        migrated = current == head
        checks["database"] = {"ok": migrated, "revision": current, "expected": head}
        ok = ok and migrated
    except Exception as exc:  # the database is down: not ready, say why
        checks["database"] = {"ok": False, "error": type(exc).__name__}
        ok = False
    for name, probe in getattr(request.app.state, "readiness_probes", {}).items():
        result = probe()
        checks[name] = result
        ok = ok and bool(result.get("ok"))
    return JSONResponse(
        {"status": "ready" if ok else "not ready", "checks": checks},
        status_code=200 if ok else 503,
    )
