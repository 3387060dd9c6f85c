"""Rendering pages: one Jinja2 environment, escaping everything, and the context every page has.

Every value reaches a page escaped (autoescape is on for every template and cannot be turned off
by a caller): text taken from reports, captures or partners is shown as text, never as markup.
Reported URLs are shown defanged through the ``defang`` filter and are never links.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from cordon import __version__
from cordon.api.state import app_state
from cordon.domain.partners import Principal
from cordon.domain.permissions import Permission
from cordon.domain.tlp import Tlp
from cordon.domain.urls import defang
from cordon.notices.states import OPEN
from cordon.partners import repo as partners
from cordon.web import repo
from cordon.web.session import login_csrf_token, session_csrf_token, web_session_of

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


def _when(value: datetime | str | None) -> str:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        return parsed.strftime("%Y-%m-%d %H:%M UTC")
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


#: A URL with a scheme inside free text (a notice's text, a CDN's evidence, an indicator).
_URL_IN_TEXT = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s<>\"']+")


def _defang_text(value: object) -> str:
    """Free text with every URL in it defanged, so no viewer turns one into a live link."""
    text = "" if value is None else str(value)
    return _URL_IN_TEXT.sub(lambda m: defang(m.group(0)), text)


def _day(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d")


def _tlp_slug(value: Tlp | str) -> str:
    text = value.value if isinstance(value, Tlp) else str(value)
    return text.lower().replace("+", "-")


def _static(path: str) -> str:
    return f"/static/{path}?v={__version__}"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["defang"] = defang
    env.filters["defang_text"] = _defang_text
    env.filters["when"] = _when
    env.filters["day"] = _day
    env.filters["tlp_slug"] = _tlp_slug
    env.globals["static"] = _static
    env.globals["version"] = __version__
    env.globals["TLPS"] = [t.value for t in Tlp]
    env.globals["OPEN_STATES"] = sorted(s.value for s in OPEN)
    return env


ENV = _environment()


@dataclass(frozen=True)
class NavItem:
    href: str
    label: str
    permission: Permission


NAV = (
    NavItem("/", "Dashboard", Permission.SELF_READ),
    NavItem("/reports", "Reports", Permission.REPORT_READ),
    NavItem("/reports/new", "Report URLs", Permission.REPORT_CREATE),
    NavItem("/reports/upload", "Upload a file", Permission.REPORT_CREATE),
    NavItem("/networks", "Networks", Permission.NETWORK_READ),
    NavItem("/cases", "Cases", Permission.CASE_READ),
    NavItem("/banks", "Hash lists", Permission.BANK_READ),
    NavItem("/inbox", "Inbox", Permission.NOTICE_READ),
    NavItem("/notices", "Notices", Permission.NOTICE_READ),
    NavItem("/money/identifiers", "Payment identifiers", Permission.MONEY_READ),
    NavItem("/money/test-purchases", "Test purchases", Permission.MONEY_READ),
    NavItem("/partners", "Partners", Permission.ORG_READ),
    NavItem("/audit", "Audit", Permission.AUDIT_READ),
    NavItem("/account/tokens", "API tokens", Permission.TOKEN_MANAGE),
    NavItem("/account", "Account", Permission.SELF_READ),
)


def principal_of(request: Request) -> Principal | None:
    found = getattr(request.state, "principal", None) or getattr(
        request.state, "session_principal", None
    )
    return found if isinstance(found, Principal) else None


def _chrome(request: Request, principal: Principal | None) -> dict[str, Any]:
    """What the frame of every page shows: who is logged in, for whom, and what they may open."""
    state = app_state(request)
    session = web_session_of(request)
    if principal is None or session is None:
        return {"me": None, "nav": [], "csrf_token": ""}
    with state.read() as conn:
        org = partners.get_org(conn, principal.org_id)
        memberships = partners.memberships(conn, principal.user_id)
        email = repo.user_email(conn, principal.user_id)
    path = request.url.path
    nav = [
        {"href": n.href, "label": n.label, "current": path == n.href}
        for n in NAV
        if principal.can(n.permission.value)
    ]
    return {
        "me": {
            "email": email,
            "org": org,
            "role": principal.role.value,
            "memberships": memberships,
        },
        "nav": nav,
        "csrf_token": session_csrf_token(state.keys.session_key, session),
    }


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    login_nonce: str | None = None,
) -> HTMLResponse:
    """Render ``template`` with the page frame for the request's principal."""
    principal = principal_of(request)
    values: dict[str, Any] = {"request": request, "principal": principal}
    values.update(_chrome(request, principal))
    if login_nonce is not None:
        values["csrf_token"] = login_csrf_token(app_state(request).keys.session_key, login_nonce)
    values.update(context or {})
    html = ENV.get_template(template).render(values)
    return HTMLResponse(html, status_code=status)


def render_fragment(template: str, context: dict[str, Any]) -> HTMLResponse:
    """A part of a page for htmx to swap in; it carries no frame of its own."""
    return HTMLResponse(ENV.get_template(template).render(context))
