"""Errors of console pages as pages: a browser that is not logged in is sent to the login page,
and other errors are shown in the console's frame. API callers keep their problem documents."""

from __future__ import annotations

import inspect
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from cordon.api.problems import TITLES, Problem, problem_response
from cordon.web.session import is_api_path

_NOT_PAGES = ("/static/", "/status", "/openapi.json")


def is_page_request(request: Request) -> bool:
    """True for a browser asking for a console page (or htmx asking for part of one)."""
    path = request.url.path
    if is_api_path(path) or path.startswith(_NOT_PAGES):
        return False
    return "text/html" in request.headers.get("accept", "") or "hx-request" in request.headers


def safe_next(target: str | None) -> str:
    """A place to return to after login: a path on this site, never another site."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(c in target for c in "\r\n\\"):
        return "/"
    return target


def _page(request: Request, status: int, detail: str, headers: dict[str, str] | None) -> Response:
    from cordon.web.templating import render

    if status == 401:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        location = "/login?next=" + quote(safe_next(target), safe="/")
        if "hx-request" in request.headers:
            return Response(status_code=401, headers={"HX-Redirect": location})
        return RedirectResponse(location, status_code=303)
    response = render(
        request,
        "error.html",
        {"status": status, "title": TITLES.get(status, "Error"), "detail": detail},
        status=status,
    )
    for name, value in (headers or {}).items():
        if name.lower() != "www-authenticate":
            response.headers[name] = value
    return response


def install(app: FastAPI) -> None:
    """Answer console page requests with pages; everything else as before."""

    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        if is_page_request(request):
            return await run_in_threadpool(_page, request, exc.status, exc.detail, exc.headers)
        return problem_response(
            exc.status,
            exc.detail,
            errors=exc.errors,
            headers=exc.headers,
            extra=exc.extra,
            request=request,
        )

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "")
        headers = dict(exc.headers) if exc.headers else None
        if is_page_request(request):
            return await run_in_threadpool(_page, request, exc.status_code, detail, headers)
        return problem_response(exc.status_code, detail, headers=headers, request=request)

    original_validation = app.exception_handlers.get(RequestValidationError)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        if is_page_request(request):
            # A malformed address of a page (a report id that is not a number) names no page.
            return await run_in_threadpool(_page, request, 404, "there is no such page", None)
        assert original_validation is not None
        response = original_validation(request, exc)
        if inspect.isawaitable(response):
            response = await response
        assert isinstance(response, Response)
        return response

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
