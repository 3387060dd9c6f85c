"""Console sessions on the wire: the cookie, CSRF tokens and the middleware that resolves them.

The session cookie holds only a random secret; the session itself lives in the database
(:mod:`cordon.web.repo`), so logging out, a new password or a deactivated member ends it at
once. The cookie is ``HttpOnly``, ``SameSite=Lax`` and, unless ``api.secure_cookies`` is off for
plain-HTTP loopback, ``Secure`` with the ``__Host-`` prefix.

Every state-changing console request carries a CSRF token bound to its session (before login, to
a random nonce in a short-lived cookie) and must come from Cordon's own origin.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import cookie_parser
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cordon.api.problems import Problem
from cordon.api.routing import UNSAFE_METHODS
from cordon.api.state import AppState
from cordon.domain.partners import Principal
from cordon.web import repo

SESSION_COOKIE = "cordon_session"
LOGIN_COOKIE = "cordon_login"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
LOGIN_NONCE_SECONDS = 3600
#: Paths the session middleware leaves alone: the API's own documents and static files.
_SKIP_PREFIXES = ("/static/", "/status", "/openapi.json")


@dataclass(frozen=True)
class CookieNames:
    session: str
    login: str


def cookie_names(secure: bool) -> CookieNames:
    """``__Host-`` names need ``Secure``; plain-HTTP loopback uses plain names."""
    prefix = "__Host-" if secure else ""
    return CookieNames(prefix + SESSION_COOKIE, prefix + LOGIN_COOKIE)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _mac(key: bytes, label: str, value: bytes) -> str:
    return _b64(hmac.new(key, label.encode() + b"\x00" + value, hashlib.sha256).digest())


def session_csrf_token(key: bytes, session: repo.WebSession) -> str:
    """The CSRF token of every form of one session."""
    return _mac(key, "csrf", session.id.to_bytes(8, "big") + session.secret_hash)


def login_csrf_token(key: bytes, nonce: str) -> str:
    """The CSRF token of the login form, bound to the nonce in the login cookie."""
    return _mac(key, "login", nonce.encode())


def new_login_nonce() -> str:
    return secrets.token_urlsafe(32)


def is_api_path(path: str) -> bool:
    return path == "/v1" or path.startswith("/v1/")


def set_session_cookie(response: Response, state: AppState, secret: str) -> None:
    names = cookie_names(state.settings.api.secure_cookies)
    response.set_cookie(
        names.session,
        secret,
        max_age=state.settings.api.session_max_age_seconds,
        path="/",
        secure=state.settings.api.secure_cookies,
        httponly=True,
        samesite="lax",
    )
    response.delete_cookie(
        names.login, path="/", secure=state.settings.api.secure_cookies, httponly=True
    )


def clear_session_cookie(response: Response, state: AppState) -> None:
    names = cookie_names(state.settings.api.secure_cookies)
    response.delete_cookie(
        names.session,
        path="/",
        secure=state.settings.api.secure_cookies,
        httponly=True,
        samesite="lax",
    )


def set_login_cookie(response: Response, state: AppState, nonce: str) -> None:
    response.set_cookie(
        cookie_names(state.settings.api.secure_cookies).login,
        nonce,
        max_age=LOGIN_NONCE_SECONDS,
        path="/",
        secure=state.settings.api.secure_cookies,
        httponly=True,
        samesite="strict",
    )


def web_session_of(request: Request) -> repo.WebSession | None:
    """The session of this request, when it came with a valid session cookie."""
    found = getattr(request.state, "web_session", None)
    return found if isinstance(found, repo.WebSession) else None


def _same_origin(request: Request) -> bool:
    """False when the browser says the request comes from another site or origin.

    Browsers send ``Sec-Fetch-Site``; ``Origin`` is checked as well when it names an origin
    (some send ``null`` for form posts under a strict referrer policy).
    """
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return fetch_site is not None or origin is None
    host = request.headers.get("host", "")
    return urlsplit(origin).netloc.lower() == host.lower()


async def check_csrf(request: Request) -> None:
    """Refuse (403) a state-changing request that is not from Cordon's own pages: it must come
    from Cordon's origin and carry the CSRF token of its session, or of the login form."""
    if request.method not in UNSAFE_METHODS:
        return
    if not _same_origin(request):
        raise Problem(403, "the request did not come from Cordon's own pages")
    presented = request.headers.get(CSRF_HEADER)
    if presented is None:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            presented = value if isinstance(value, str) else None
    state: AppState = request.app.state.cordon
    key = state.keys.session_key
    session = web_session_of(request)
    expected: str | None
    if session is not None:
        expected = session_csrf_token(key, session)
    else:
        nonce = request.cookies.get(cookie_names(state.settings.api.secure_cookies).login)
        expected = login_csrf_token(key, nonce) if nonce else None
    if not presented or expected is None or not hmac.compare_digest(presented, expected):
        raise Problem(
            403, "the form's security token is missing or stale: reload the page and try again"
        )


class SessionMiddleware:
    """Resolve the session cookie of every request into ``request.state.session_principal``.

    A session opens console pages and the API's reading routes; a state-changing API request
    is authenticated by it only with the session's CSRF token in ``X-CSRF-Token``. An invalid
    cookie is cleared in the response.
    """

    def __init__(self, app: ASGIApp, state: AppState) -> None:
        self.app = app
        self.state = state
        self.names = cookie_names(state.settings.api.secure_cookies)

    def _resolve(self, secret: str) -> tuple[repo.WebSession, Principal] | None:
        with self.state.read() as conn:
            return repo.resolve_session(conn, self.state.clock, self.state.keys.session_key, secret)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_SKIP_PREFIXES):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        cookies = cookie_parser(headers.get(b"cookie", b"").decode("latin-1"))
        secret = cookies.get(self.names.session)
        state = scope.setdefault("state", {})
        path: str = scope["path"]
        if not is_api_path(path):
            state["audit_source"] = "ui"
        if not secret:
            await self.app(scope, receive, send)
            return
        found = await run_in_threadpool(self._resolve, secret)
        if found is None:
            await self.app(scope, receive, _clearing(send, self.names.session, self.state))
            return
        session, principal = found
        state["web_session"] = session
        if is_api_path(path) and scope["method"] in UNSAFE_METHODS:
            token = headers.get(CSRF_HEADER.encode(), b"").decode("latin-1")
            expected = session_csrf_token(self.state.keys.session_key, session)
            if not hmac.compare_digest(token, expected):
                await self.app(scope, receive, send)
                return
        state["session_principal"] = principal
        await self.app(scope, receive, send)


def _clearing(send: Send, name: str, state: AppState) -> Send:
    """A send that tells the browser to forget a cookie that no longer opens a session."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            probe = Response()
            probe.delete_cookie(
                name, path="/", secure=state.settings.api.secure_cookies, httponly=True
            )
            for value in probe.headers.getlist("set-cookie"):
                headers.append("set-cookie", value)
        await send(message)

    return wrapped
