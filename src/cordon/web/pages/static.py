"""The console's own files: its stylesheet, its script and the vendored libraries."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles

from cordon.domain.permissions import Permission
from cordon.web.routing import ConsoleRouter
from cordon.web.templating import STATIC

router = ConsoleRouter()
_files = StaticFiles(directory=STATIC)


@router.get(
    "/static/{path:path}",
    permission=Permission.PUBLIC,
    summary="Console: a stylesheet, script or licence file of the console",
    response_class=Response,
)
async def static(path: str, request: Request) -> Response:
    """Files of the package's static folder only; nothing outside it is ever served."""
    try:
        response = await _files.get_response(path, request.scope)
    except HTTPException:
        raise HTTPException(404, f"no file {path}") from None
    response.headers["cache-control"] = "no-cache"
    return response
