"""Console routes: API routes' rules plus the console's own.

Every page is registered through :class:`ConsoleRouter`, a :class:`CordonRouter`: it declares its
permission, is published in the OpenAPI document (tag ``console``) and is checked by the same
start-up walk as the API (:func:`cordon.api.routing.check_routes`). On top of that every
state-changing page carries the CSRF check, published as ``x-csrf``, and the walk refuses an
application where a page outside ``/v1`` changes state without it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Depends
from fastapi.responses import HTMLResponse

from cordon.api.routing import CSRF_KEY, UNSAFE_METHODS, CordonRouter
from cordon.domain.permissions import Permission
from cordon.web.session import check_csrf

CONSOLE_TAG = "console"


class ConsoleRouter(CordonRouter):
    """A router of console pages: HTML responses, and a CSRF check on every POST."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("tags", [CONSOLE_TAG])
        kwargs.setdefault("default_response_class", HTMLResponse)
        super().__init__(**kwargs)

    def _verb(
        self, method: str, path: str, permission: Permission, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        if method in UNSAFE_METHODS:
            deps = list(kwargs.pop("dependencies", None) or [])
            deps.append(Depends(check_csrf))
            kwargs["dependencies"] = deps
            kwargs["openapi_extra"] = {**(kwargs.get("openapi_extra") or {}), CSRF_KEY: True}
        return super()._verb(method, path, permission, **kwargs)
