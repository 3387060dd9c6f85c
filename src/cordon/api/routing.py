"""Routes that cannot exist without a permission.

Every route is registered through :class:`CordonRouter`, whose verbs take a required
``permission``; the permission becomes a dependency that refuses callers without it and is
published in the OpenAPI document as ``x-permission``. :func:`check_routes` runs at start-up and
refuses an application with any route that slipped past, and any console page (a route outside
``/v1``) that changes state without the console's CSRF check (``x-csrf``).

A route outside ``/v1`` that changes state may instead be declared ``token_only`` (published as
``x-token-only``): it then refuses every caller that does not send ``Authorization: Bearer``,
so a browser's cookies can never act on it and a cross-site request cannot forge it (HMA's
routes, which HMA clients call with a token).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request

from cordon.domain.permissions import Permission

PERMISSION_KEY = "x-permission"
#: Published on console operations that change state: they carry the console's CSRF check.
CSRF_KEY = "x-csrf"
#: Published on operations that accept a bearer token only (never a session cookie).
TOKEN_ONLY_KEY = "x-token-only"  # noqa: S105  # an OpenAPI extension name
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class RouteWithoutPermission(RuntimeError):
    """A route was registered without declaring its permission."""


def bearer_only(request: Request) -> None:
    """Refuse a caller that does not send a bearer token (a session cookie is not enough)."""
    from cordon.api.problems import Problem

    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise Problem(
            401,
            "this route accepts a bearer token only: send Authorization: Bearer <token>",
            headers={"WWW-Authenticate": 'Bearer realm="cordon"'},
        )


class CordonRouter(APIRouter):
    """An APIRouter whose every route declares the permission it needs."""

    def _verb(
        self, method: str, path: str, permission: Permission, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        from cordon.api.auth import require

        if kwargs.get("include_in_schema") is False:
            raise RouteWithoutPermission(f"route {path} may not be hidden from the API document")
        token_only = bool(kwargs.pop("token_only", False))
        extra = dict(kwargs.pop("openapi_extra", None) or {})
        extra[PERMISSION_KEY] = permission.value
        deps = list(kwargs.pop("dependencies", None) or [])
        if permission is not Permission.PUBLIC:
            # First: a caller is refused for who it is before anything else is looked at.
            deps.insert(0, Depends(require(permission)))
        if token_only:
            if permission is Permission.PUBLIC:
                raise RouteWithoutPermission(f"route {path}: a token-only route needs a token")
            extra[TOKEN_ONLY_KEY] = True
            deps.insert(0, Depends(bearer_only))
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


HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    """Every operation of the application as ``(METHOD, path, OpenAPI operation)``."""
    out = []
    for path, item in app.openapi().get("paths", {}).items():
        for method in HTTP_METHODS:
            if method in item:
                out.append((method.upper(), path, item[method]))
    return out


def check_routes(app: FastAPI) -> None:
    """Raise :class:`RouteWithoutPermission` if any route lacks a declared permission, or a
    console route (any route outside ``/v1``) that changes state lacks the CSRF check and is not
    token-only.

    Routes are read from the OpenAPI document, which lists every route however it was
    included; a route hidden from the document is refused too.
    """
    known = {p.value for p in Permission}
    for method, path, operation in operations(app):
        perm = operation.get(PERMISSION_KEY)
        if perm not in known:
            raise RouteWithoutPermission(
                f"route {method} {path} declares no permission: register it through "
                "CordonRouter with permission=..."
            )
        console = path != "/v1" and not path.startswith("/v1/")
        if (
            console
            and method in UNSAFE_METHODS
            and operation.get(CSRF_KEY) is not True
            and operation.get(TOKEN_ONLY_KEY) is not True
        ):
            raise RouteWithoutPermission(
                f"console route {method} {path} changes state without the CSRF check: "
                "register it through cordon.web.routing.ConsoleRouter, or declare it "
                "token_only=True so that it accepts bearer tokens only"
            )
