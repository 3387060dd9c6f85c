"""Routes that cannot exist without a permission.

Every route is registered through :class:`CordonRouter`, whose verbs take a required
``permission``; the permission becomes a dependency that refuses callers without it and is
published in the OpenAPI document as ``x-permission``. :func:`check_routes` runs at start-up and
refuses an application with any route that slipped past.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute

from cordon.domain.permissions import Permission

PERMISSION_KEY = "x-permission"


class RouteWithoutPermission(RuntimeError):
    """A route was registered without declaring its permission."""


class CordonRouter(APIRouter):
    """An APIRouter whose every route declares the permission it needs."""

    def _verb(
        self, method: str, path: str, permission: Permission, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        from cordon.api.auth import require

        extra = dict(kwargs.pop("openapi_extra", None) or {})
        extra[PERMISSION_KEY] = permission.value
        deps = list(kwargs.pop("dependencies", None) or [])
        if permission is not Permission.PUBLIC:
            deps.append(Depends(require(permission)))
        return self.api_route(
            path, methods=[method], openapi_extra=extra, dependencies=deps, **kwargs
        )

    def get(  # type: ignore[override]  # permission is required on every verb
        self, path: str, *, permission: Permission, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self._verb("GET", path, permission, **kwargs)

    def post(  # type: ignore[override]  # idem
        self, path: str, *, permission: Permission, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self._verb("POST", path, permission, **kwargs)

    def put(  # type: ignore[override]  # idem
        self, path: str, *, permission: Permission, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self._verb("PUT", path, permission, **kwargs)

    def patch(  # type: ignore[override]  # idem
        self, path: str, *, permission: Permission, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self._verb("PATCH", path, permission, **kwargs)

    def delete(  # type: ignore[override]  # idem
        self, path: str, *, permission: Permission, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self._verb("DELETE", path, permission, **kwargs)


def route_permission(route: APIRoute) -> str | None:
    """The permission a route declared, or None."""
    extra = route.openapi_extra or {}
    value = extra.get(PERMISSION_KEY)
    return value if isinstance(value, str) else None


def check_routes(app: FastAPI) -> None:
    """Raise :class:`RouteWithoutPermission` if any API route lacks a declared permission."""
    known = {p.value for p in Permission}
    for route in app.routes:
        if not isinstance(route, APIRoute):
            continue
        perm = route_permission(route)
        if perm is None or perm not in known:
            methods = ",".join(sorted(route.methods or []))
            raise RouteWithoutPermission(
                f"route {methods} {route.path} declares no permission: register it through "
                "CordonRouter with permission=..."
            )
