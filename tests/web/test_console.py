"""The console in-process: sessions, CSRF, error pages, escaping, files.

These share one application on SQLite; what the console stores (its sessions) is checked on
both backends in test_sessions.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from cordon.partners import repo as partners
from cordon.store.db import write
from cordon.store.tables import app_user
from cordon.web.security import CONTENT_SECURITY_POLICY
from web.helpers import CLI, HTML, PASSWORD, Console, csrf_of


def test_a_browser_without_a_session_is_sent_to_login_and_an_api_caller_gets_a_problem(
    console: Console,
) -> None:
    client = console.client()
    page = client.get("/reports?tlp=RED", headers=HTML, follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/reports%3Ftlp%3DRED"
    api_like = client.get("/reports")
    assert api_like.status_code == 401
    assert api_like.headers["content-type"] == "application/problem+json"


def test_login_opens_a_session_and_returns_to_where_the_member_was_going(
    console: Console,
) -> None:
    _, _, email = console.member("hotline", password=PASSWORD)
    client = console.client()
    form = client.get("/login?next=/reports", headers=HTML)
    response = client.post(
        "/login",
        data={
            "email": email,
            "password": PASSWORD,
            "csrf_token": csrf_of(form.text),
            "next": "/reports",
        },
        headers=HTML,
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/reports"
    assert client.get("/reports", headers=HTML).status_code == 200


def test_login_never_sends_a_member_to_another_site(console: Console) -> None:
    _, _, email = console.member("hotline", password=PASSWORD)
    client = console.client()
    form = client.get("/login", headers=HTML)
    response = client.post(
        "/login",
        data={
            "email": email,
            "password": PASSWORD,
            "csrf_token": csrf_of(form.text),
            "next": "https://elsewhere.test/",
        },
        headers=HTML,
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_wrong_credentials_open_nothing_and_are_audited(console: Console) -> None:
    _, _, email = console.member("hotline", password=PASSWORD)
    client = console.client()
    form = client.get("/login", headers=HTML)
    response = client.post(
        "/login",
        data={"email": email, "password": "not-the-password", "csrf_token": csrf_of(form.text)},
        headers=HTML,
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert "do not open a session" in response.text
    assert client.get("/", headers=HTML, follow_redirects=False).status_code == 303
    from cordon.audit.log import list_events

    with write(console.engine) as conn:
        refused = list_events(conn, action_prefix="ui:session:refused")
    assert refused
    assert refused[0].details["email"] == email


def test_session_cookies_are_secure_http_only_and_host_bound_by_default(
    console: Console,
) -> None:
    from cordon.api.app import create_app

    _, _, email = console.member("hotline", password=PASSWORD)
    secure = console.settings.model_copy(
        update={"api": console.settings.api.model_copy(update={"secure_cookies": True})}
    )
    app = create_app(secure, console.clock, console.engine, console.keys)
    with TestClient(app, base_url="https://testserver") as client:
        form = client.get("/login", headers=HTML)
        login_cookie = form.headers["set-cookie"]
        assert login_cookie.startswith("__Host-cordon_login=")
        response = client.post(
            "/login",
            data={"email": email, "password": PASSWORD, "csrf_token": csrf_of(form.text)},
            headers=HTML,
            follow_redirects=False,
        )
        cookie = response.headers.get_list("set-cookie")[0]
        assert cookie.startswith("__Host-cordon_session=")
        for flag in ("HttpOnly", "Secure", "Path=/", "SameSite=lax"):
            assert flag in cookie
        assert "Domain" not in cookie
        assert response.headers["strict-transport-security"].startswith("max-age=")


def test_logout_ends_the_session_on_the_server(console: Console) -> None:
    client, _, _ = console.signed_in("hotline")
    stolen = dict(client.cookies)
    page = client.get("/", headers=HTML)
    client.post("/logout", data={"csrf_token": csrf_of(page.text)}, headers=HTML)
    replay = console.client()
    replay.cookies.update(stolen)
    response = replay.get("/", headers=HTML, follow_redirects=False)
    assert response.status_code == 303
    assert "cordon_session=" in response.headers["set-cookie"]  # the dead cookie is cleared


def test_a_new_password_or_a_deactivated_member_ends_every_session(console: Console) -> None:
    user_id, org_id, _ = console.member("hotline")
    client = console.session_for(user_id, org_id)
    assert client.get("/", headers=HTML).status_code == 200
    with write(console.engine) as conn:
        partners.set_password(conn, console.clock, CLI, user_id, "another-long-password")
    assert client.get("/", headers=HTML, follow_redirects=False).status_code == 303
    client = console.session_for(user_id, org_id)
    with write(console.engine) as conn:
        conn.execute(update(app_user).where(app_user.c.id == user_id).values(active=False))
    assert client.get("/", headers=HTML, follow_redirects=False).status_code == 303


def test_changing_the_password_in_the_console_keeps_this_session_and_ends_the_others(
    console: Console,
) -> None:
    user_id, org_id, email = console.member("hotline", password=PASSWORD)
    here, elsewhere = console.login(email), console.session_for(user_id, org_id)
    page = here.get("/account", headers=HTML)
    response = here.post(
        "/account/password",
        data={
            "current": PASSWORD,
            "new": "a-brand-new-password",
            "repeat": "a-brand-new-password",
            "csrf_token": csrf_of(page.text),
        },
        headers=HTML,
    )
    assert response.status_code == 200
    assert "every other session of yours has ended" in response.text
    assert elsewhere.get("/", headers=HTML, follow_redirects=False).status_code == 303
    assert here.get("/", headers=HTML).status_code == 200


def test_a_session_expires_after_its_lifetime(console: Console) -> None:
    _, _, email = console.member("hotline", password=PASSWORD)
    client = console.login(email)
    console.clock.advance(timedelta(hours=8, seconds=1))
    assert client.get("/", headers=HTML, follow_redirects=False).status_code == 303


def test_posts_without_the_token_or_from_another_origin_are_refused(console: Console) -> None:
    client, _, _ = console.signed_in("hotline")
    token = csrf_of(client.get("/reports/new", headers=HTML).text)
    body = {"urls": "http://refused.test/", "tlp": "GREEN"}
    assert client.post("/reports/new", data=body, headers=HTML).status_code == 403
    assert (
        client.post("/reports/new", data={**body, "csrf_token": "forged"}, headers=HTML)
    ).status_code == 403
    cross = client.post(
        "/reports/new",
        data={**body, "csrf_token": token},
        headers={**HTML, "origin": "https://elsewhere.test"},
    )
    assert cross.status_code == 403
    cross_site = client.post(
        "/reports/new",
        data={**body, "csrf_token": token},
        headers={**HTML, "sec-fetch-site": "cross-site"},
    )
    assert cross_site.status_code == 403
    assert "refused.test" not in client.get("/reports", headers=HTML).text
    fine = client.post(
        "/reports/new",
        data={**body, "csrf_token": token},
        headers={**HTML, "origin": "http://testserver"},
        follow_redirects=False,
    )
    assert fine.status_code == 303


def test_the_login_form_needs_its_own_token(console: Console) -> None:
    _, _, email = console.member("hotline", password=PASSWORD)
    client = console.client()
    client.get("/login", headers=HTML)
    response = client.post("/login", data={"email": email, "password": PASSWORD}, headers=HTML)
    assert response.status_code == 403


def test_a_session_writes_to_the_api_only_with_its_csrf_header(console: Console) -> None:
    client, _, _ = console.signed_in("hotline")
    token = csrf_of(client.get("/", headers=HTML).text)
    body = {"urls": ["http://api-write.test/"], "tlp": "GREEN"}
    assert client.get("/v1/me").status_code == 200
    assert client.post("/v1/reports", json=body).status_code == 401
    assert client.post("/v1/reports", json=body, headers={"X-CSRF-Token": token}).status_code == 201


def test_markup_in_a_report_is_shown_as_text_and_urls_are_defanged(console: Console) -> None:
    client, _, _ = console.signed_in("hotline")
    token = csrf_of(client.get("/reports/new", headers=HTML).text)
    response = client.post(
        "/reports/new",
        data={
            "urls": "http://shop.example.test/<b>x",
            "tlp": "GREEN",
            "csrf_token": token,
            "note": '<script>alert(1)</script><img src="data:image/png;base64,AAAA">',
        },
        headers=HTML,
    )
    assert response.status_code == 200
    html = response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img" in html
    assert "<script>alert" not in html
    assert "<img" not in html
    assert "hxxp://shop[.]example[.]test/" in html
    assert 'href="http://shop' not in html


def test_pages_carry_the_strict_content_security_policy(console: Console) -> None:
    client = console.client()
    response = client.get("/login", headers=HTML)
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "img-src 'self'" in CONTENT_SECURITY_POLICY
    assert "unsafe" not in CONTENT_SECURITY_POLICY
    assert "data:" not in CONTENT_SECURITY_POLICY
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "same-origin"


def test_a_member_of_several_organisations_switches_between_them(console: Console) -> None:
    user_id, first_org, _ = console.member("hotline")
    _, second_org, _ = console.member("ngo")
    with write(console.engine) as conn:
        partners.add_membership(conn, console.clock, CLI, user_id, second_org, "viewer")
    client = console.session_for(user_id, first_org)
    page = client.get("/", headers=HTML)
    assert "Acting for" in page.text
    switched = client.post(
        "/session/organisation",
        data={"org_id": str(second_org), "csrf_token": csrf_of(page.text)},
        headers=HTML,
    )
    assert switched.status_code == 200
    assert client.get("/v1/me").json()["organisation"]["id"] == second_org
    assert client.get("/reports/new", headers=HTML).status_code == 403  # a viewer there
    _, stranger_org, _ = console.member("isp")
    refused = client.post(
        "/session/organisation",
        data={"org_id": str(stranger_org), "csrf_token": csrf_of(page.text)},
        headers=HTML,
    )
    assert refused.status_code == 403
    assert first_org != second_org


def test_unknown_pages_and_malformed_ids_are_not_found_pages(console: Console) -> None:
    client, _, _ = console.signed_in("hotline")
    for path in ("/nowhere", "/reports/not-a-number", "/reports/999999"):
        response = client.get(path, headers=HTML)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    "path", ["../templating.py", "..%2Ftemplating.py", "vendor/../../repo.py", "/etc/passwd"]
)
def test_static_files_never_leave_the_static_folder(console: Console, path: str) -> None:
    client = console.client()
    assert client.get(f"/static/{path}").status_code == 404
    served = client.get("/static/vendor/htmx/htmx.min.js")
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("text/javascript")


def test_a_login_replaces_the_session_the_browser_held(console: Console) -> None:
    _, _, email = console.member("hotline", password=PASSWORD)
    client = console.login(email)
    first = dict(client.cookies)
    form = client.get("/login?next=/account", headers=HTML, follow_redirects=False)
    assert form.status_code == 303  # already logged in: straight on
    page = client.get("/account", headers=HTML)
    response = client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "csrf_token": csrf_of(page.text)},
        headers=HTML,
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert dict(client.cookies) != first
    replay = console.client()
    replay.cookies.update(first)
    assert replay.get("/", headers=HTML, follow_redirects=False).status_code == 303
    assert client.get("/", headers=HTML).status_code == 200
