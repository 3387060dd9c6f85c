"""The console's pages of URLs, money and notices, and the dashboard's outcome charts, on both
database backends: what each member sees, what is absent for others (on every page, count and
chart), answering a payment alert through the inbox, and the login rate limit.

The coalition and its records are in seed.py.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from conftest import (
    BACKENDS,
    Template,
    _pg_template,
    create_pg_database,
    drop_pg_database,
    require_postgres,
)
from cordon.api.app import create_app
from cordon.clock import FrozenClock
from cordon.config import Settings, load_settings
from cordon.keys import Keys
from cordon.notices import repo as notices
from cordon.store.db import make_engine, read
from cordon.web.security import CONTENT_SECURITY_POLICY
from web.helpers import HTML, PASSWORD, Console, csrf_of, plain_http
from web.seed import MARKUP_EMAIL, MD5, PDQ, SHA256, World, seed


@dataclass
class Site:
    console: Console
    world: World

    def as_(self, who: str) -> TestClient:
        member = getattr(self.world, who)
        return self.console.session_for(member.user_id, member.org_id)


@pytest.fixture
def site(settings: Settings, clock: FrozenClock, engine: Engine, keys: Keys) -> Iterator[Site]:
    """A coalition of its own, for tests that change what they find."""
    settings = plain_http(settings)
    world = seed(engine, clock, settings)
    console = Console(create_app(settings, clock, engine, keys), engine, clock, keys, settings)
    yield Site(console, world)
    for client in console.clients:
        client.__exit__(None, None, None)


@pytest.fixture(scope="module", params=BACKENDS)
def seen(
    request: pytest.FixtureRequest,
    templates: dict[str, Template],
    tmp_path_factory: pytest.TempPathFactory,
    key_dir: Path,
    keys: Keys,
) -> Iterator[Site]:
    """One coalition per backend shared by the tests that only read (they change nothing)."""
    backend = str(request.param)
    if backend == "postgres":
        require_postgres()
        url = create_pg_database(template=_pg_template(templates).pg_name)
    else:
        path = tmp_path_factory.mktemp("pages") / "cordon.db"
        shutil.copy(templates["sqlite"].url.removeprefix("sqlite:///"), path)
        url = f"sqlite:///{path}"
    engine = make_engine(url)
    clock = FrozenClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    settings = plain_http(
        load_settings(environ={}, overrides={"database_url": url, "key_dir": str(key_dir)})
    )
    try:
        world = seed(engine, clock, settings)
        console = Console(create_app(settings, clock, engine, keys), engine, clock, keys, settings)
        yield Site(console, world)
        for client in console.clients:
            client.__exit__(None, None, None)
    finally:
        engine.dispose()
        if backend == "postgres":
            drop_pg_database(url)


def _page(client: TestClient, path: str, status: int = 200) -> str:
    response = client.get(path, headers=HTML)
    assert response.status_code == status, f"{path}: {response.status_code}"
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    return response.text


def _no_live_links_or_images(html: str, hosts: list[str]) -> None:
    for src in re.findall(r"<img\b[^>]*>", html):
        raise AssertionError(f"a page holds an image: {src}")
    for href in re.findall(r'href="([^"]*)"', html):
        assert href.startswith(("/", "#")), f"a link leaves Cordon: {href}"
    for host in hosts:
        assert f"://{host}" not in html
        assert f"://www.{host}" not in html


def _data(html: str) -> dict[str, object]:
    found = re.search(r'<script type="application/json" id="dashboard-data">(.*?)</script>', html)
    assert found
    data: dict[str, object] = json.loads(unescape(found.group(1)))
    return data


def test_the_url_page_shows_captures_hashes_indicators_hosting_and_money(seen: Site) -> None:
    site = seen
    w = site.world
    client = site.as_("hotline")
    html = _page(client, f"/urls/{w.url_id}")
    assert f"hxxps://www[.]{w.site.replace('.', '[.]')}/pay" in html
    assert 'id="url-captures"' in html
    assert re.search(r'id="url-confirmation">confirmed [^<]* by a hash-list match', html)
    # Pictures as hex hashes only, never as pictures.
    for digest in (PDQ, MD5, SHA256):
        assert digest in html
    # Indicators, with markup captured from the page shown as text.
    assert "sales&lt;b&gt;@shop.test" in html
    assert MARKUP_EMAIL not in html
    assert "G-SHOP123" in html
    # The attribution chain: DNS, IP, ASN, provider, country, CDN, registrar.
    chain = html[html.index('id="attribution-chain"') :]
    for part in (
        "198.51.100.7",
        "AS64501",
        "Example Edge Inc.",
        "US",
        "Example Edge",
        "cdn[.]edge[.]test",
        "Example Registrar Ltd",
        "IANA 9999",
    ):
        assert part in chain, part
    # Both providers' accounts are seen on the site; the hotline receives no alert.
    assert f"/money/identifiers/{w.ident_a}" in html
    assert f"/money/identifiers/{w.ident_b}" in html
    assert "No notice about this URL" in html
    _no_live_links_or_images(html, [w.site])
    # The report links to the URL's page.
    report = _page(client, f"/reports/{w.report_id}")
    assert f'href="/urls/{w.url_id}"' in report
    assert f'href="/urls/{w.url_id}"' in _page(client, "/reports")
    # Another capture's details are chosen by id; a capture of another URL is not found.
    assert "Capture #1 of" in _page(client, f"/urls/{w.url_id}?capture={w.capture_id}")
    _page(client, f"/urls/{w.url_id}?capture=999999", 404)


def test_a_url_only_its_readers_may_open(seen: Site) -> None:
    site = seen
    w = site.world
    for who in ("hotline", "police", "provider_a", "host_a"):
        client = site.as_(who)
        body = _page(client, f"/urls/{w.strict_url_id}", 404)
        assert w.strict_site.replace(".", "[.]") not in body
    owner = site.as_("other_hotline")
    assert w.strict_site.replace(".", "[.]") in _page(owner, f"/urls/{w.strict_url_id}")
    # A payment provider reported nothing: the shop's page is not its to open.
    _page(site.as_("provider_a"), f"/urls/{w.url_id}", 404)
    _page(site.as_("hotline"), "/urls/999999", 404)


def test_a_payment_provider_sees_no_other_providers_alert_on_any_page_count_or_chart(
    seen: Site,
) -> None:
    site = seen
    w = site.world
    client = site.as_("provider_a")
    other_names = [w.provider_b.email.split("@")[0], w.host_a.email.split("@")[0]]
    texts = []
    inbox = _page(client, "/inbox")
    assert f'href="/inbox/{w.alert_a}"' in inbox
    assert f'href="/inbox/{w.alert_b}"' not in inbox
    assert "1 notice match" in inbox
    texts.append(inbox)
    _page(client, f"/inbox/{w.alert_b}", 404)
    _page(client, f"/inbox/{w.host_notice_a}", 404)
    alert = _page(client, f"/inbox/{w.alert_a}")
    assert "account closed" in alert  # the kind's answers are offered
    texts.append(alert)
    identifiers = _page(client, "/money/identifiers")
    assert "1 identifier match" in identifiers
    assert f"/money/identifiers/{w.ident_a}" in identifiers
    assert f"/money/identifiers/{w.ident_b}" not in identifiers
    texts.append(identifiers)
    texts.append(_page(client, "/money/identifiers?type=checkout_account"))
    _page(client, f"/money/identifiers/{w.ident_b}", 404)
    detail = _page(client, f"/money/identifiers/{w.ident_a}")
    assert f'href="/inbox/{w.alert_a}"' in detail
    texts.append(detail)
    purchases = _page(client, "/money/test-purchases")
    assert "0 test purchases match" in purchases  # provider B's purchase is B's
    texts.append(purchases)
    overview = _page(client, "/notices")
    texts.append(overview)
    dashboard = _page(client, "/")
    data = _data(dashboard)
    assert data["providers"] == [{"label": w.provider_a.email.split("@")[0], "value": 1}]
    assert data["countries"] == []  # it may read no attribution
    mix = data["mix"]
    assert isinstance(mix, list)
    assert sum(sum(row["series"].values()) for row in mix) == 1  # its own identifier only
    texts.append(dashboard)
    for text in texts:
        for name in other_names:
            assert name not in text
        assert w.site.replace(".", "[.]") not in text or text is detail or text is alert


def test_a_host_sees_only_the_notices_addressed_to_it(site: Site) -> None:
    w = site.world
    client = site.as_("host_a")
    inbox = _page(client, "/inbox")
    assert f'href="/inbox/{w.host_notice_a}"' in inbox
    assert f'href="/inbox/{w.host_notice_b}"' not in inbox
    assert f'href="/inbox/{w.alert_a}"' not in inbox
    _page(client, f"/inbox/{w.host_notice_b}", 404)
    notice = _page(client, f"/inbox/{w.host_notice_a}")
    assert f"hxxps://www[.]{w.site.replace('.', '[.]')}/pay" in notice
    _no_live_links_or_images(notice, [w.site])
    overview = _page(client, "/notices")
    assert w.host_a.email.split("@")[0] in overview
    assert w.host_b.email.split("@")[0] not in overview
    assert w.provider_a.email.split("@")[0] not in overview
    _page(client, "/money/identifiers")  # a host owns no identifier: an empty list
    assert "0 identifiers match" in _page(client, "/money/identifiers")


def test_a_payment_provider_answers_its_alert_and_the_dashboard_follows(site: Site) -> None:
    w = site.world
    client = site.as_("provider_a")
    page = _page(client, f"/inbox/{w.alert_a}")
    token = csrf_of(page)
    before = _data(_page(client, "/"))
    assert before["providers"] == [{"label": w.provider_a.email.split("@")[0], "value": 1}]
    assert sum(row["value"] for row in before["closure"]) == 0  # type: ignore[attr-defined]
    # Without the token, or from another site: refused, nothing changes.
    refused = client.post(
        f"/inbox/{w.alert_a}/answer", data={"answer": "account_closed"}, headers=HTML
    )
    assert refused.status_code == 403
    cross = client.post(
        f"/inbox/{w.alert_a}/answer",
        data={"answer": "account_closed", "csrf_token": token},
        headers={**HTML, "sec-fetch-site": "cross-site"},
    )
    assert cross.status_code == 403
    # Another provider cannot answer it: the same answer as for a notice that does not exist.
    other = site.as_("provider_b")
    other_token = csrf_of(_page(other, f"/inbox/{w.alert_b}"))
    stranger = other.post(
        f"/inbox/{w.alert_a}/answer",
        data={"answer": "account_closed", "csrf_token": other_token},
        headers=HTML,
    )
    assert stranger.status_code == 404
    with read(site.console.engine) as conn:
        assert notices.notices_about(conn, "payment_identifier", [w.ident_a])[0].state == "sent"
    # An answer the kind does not know is refused with the allowed ones named.
    wrong = client.post(
        f"/inbox/{w.alert_a}/answer",
        data={"answer": "removed", "csrf_token": token},
        headers=HTML,
    )
    assert wrong.status_code == 409
    assert "account_closed" in wrong.text
    site.console.clock.advance(timedelta(hours=3))
    done = client.post(
        f"/inbox/{w.alert_a}/answer",
        data={"answer": "account_closed", "note": "closed <today>", "csrf_token": token},
        headers=HTML,
        follow_redirects=False,
    )
    assert done.status_code == 303
    shown = _page(client, done.headers["location"])
    assert "Your answer was recorded." in shown
    assert "closed &lt;today&gt;" in shown
    assert 'id="answer-form"' not in shown  # a closed alert takes no further answer
    after = _data(_page(client, "/"))
    assert after["providers"] == []
    assert {r["label"]: r["value"] for r in after["closure"]}["1-6 hours"] == 1  # type: ignore[union-attr]
    again = client.post(
        f"/inbox/{w.alert_a}/answer",
        data={"answer": "disputed", "csrf_token": token},
        headers=HTML,
    )
    assert again.status_code == 409
    assert "takes no further answer" in again.text
    # Provider B's figures did not move.
    other_data = _data(_page(other, "/"))
    assert other_data["providers"] == [{"label": w.provider_b.email.split("@")[0], "value": 1}]
    assert sum(row["value"] for row in other_data["closure"]) == 0  # type: ignore[attr-defined]


def test_the_dashboard_ranks_hosting_countries_and_providers_with_tables(seen: Site) -> None:
    site = seen
    w = site.world
    client = site.as_("hotline")
    html = _page(client, "/")
    data = _data(html)
    assert {"label": "US", "value": 1} in data["countries"]  # type: ignore[operator]
    providers = {row["label"]: row["value"] for row in data["providers"]}  # type: ignore[attr-defined]
    assert providers[w.provider_a.email.split("@")[0]] == 1
    assert providers[w.host_b.email.split("@")[0]] == 1
    for table in ("table-countries", "table-providers", "table-mix", "table-closure"):
        assert f'id="{table}"' in html, table
    # A host may not read the shop's report: no country from it, and only its own notices.
    host = _data(_page(site.as_("host_a"), "/"))
    assert host["countries"] == []
    assert host["providers"] == [{"label": w.host_a.email.split("@")[0], "value": 1}]


def test_the_identifier_page_shows_sightings_sites_owner_and_purchases(seen: Site) -> None:
    site = seen
    w = site.world
    police = site.as_("police")
    html = _page(police, f"/money/identifiers/{w.ident_b}")
    assert w.provider_b.email.split("@")[0] in html  # the owner
    assert w.site.replace(".", "[.]") in html
    assert "No alert about it is addressed to your organisation" in html
    assert "No test purchase you may see revealed it" in html  # B's purchase is AMBER, B's own
    _no_live_links_or_images(html, [w.site])
    owner = _page(site.as_("provider_b"), f"/money/identifiers/{w.ident_b}")
    assert 'id="purchases"' in owner
    assert "19.95 EUR" in owner
    purchases = _page(site.as_("provider_b"), "/money/test-purchases?own=1")
    assert "1 test purchase match" in purchases
    assert w.site.replace(".", "[.]") in purchases
    _no_live_links_or_images(purchases, [w.site])
    assert "is not a date" in _page(police, "/money/test-purchases?since=yesterday")
    listing = _page(police, "/money/identifiers?site=" + w.site)
    assert "2 identifiers match" in listing
    bad = _page(police, "/money/identifiers?type=bitcoin")
    assert "is not a type of identifier" in bad


def test_the_notices_overview_counts_awaiting_and_overdue(seen: Site) -> None:
    site = seen
    w = site.world
    client = site.as_("police")
    html = _page(client, "/notices")
    assert 'id="figure-awaiting">4<' in html
    assert 'id="figure-overdue">0<' in html
    with read(site.console.engine) as conn:
        assert notices.count(conn, site.world.police.principal, notices.NoticeFilter()) == 0
    assert f"/inbox/{w.alert_a}" not in html  # figures only, never a notice


# --- the login rate limit ---------------------------------------------------------------------


def _try(client: TestClient, email: str, password: str) -> int:
    form = client.get("/login", headers=HTML)
    response = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(form.text)},
        headers=HTML,
        follow_redirects=False,
    )
    return response.status_code


def test_logins_lock_after_too_many_failures_for_an_account_then_unlock(site: Site) -> None:
    settings = site.console.settings.api
    email = site.world.police.email
    client = site.console.client()
    for _ in range(settings.login_max_failures_per_account):
        assert _try(client, email, "wrong-password") == 403
    # Locked: even the right password is refused, with the window named.
    form = client.get("/login", headers=HTML)
    locked = client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "csrf_token": csrf_of(form.text)},
        headers=HTML,
    )
    assert locked.status_code == 429
    assert "Too many failed logins for this account" in locked.text
    assert "15 more minutes" in locked.text
    assert int(locked.headers["retry-after"]) == settings.login_lockout_seconds
    # Another account from the same address is not locked by these.
    assert _try(client, site.world.hotline.email, PASSWORD) == 303
    site.console.clock.advance(timedelta(seconds=settings.login_lockout_seconds + 1))
    assert _try(site.console.client(), email, PASSWORD) == 303
    # A successful login starts the count again.
    for _ in range(settings.login_max_failures_per_account - 1):
        assert _try(client, email, "wrong-password") == 403
    assert _try(site.console.client(), email, PASSWORD) == 303
    assert _try(client, email, "wrong-password") == 403
    assert _try(site.console.client(), email, PASSWORD) == 303


def test_logins_lock_after_too_many_failures_from_one_address(site: Site) -> None:
    limit = 3
    api = site.console.settings.api.model_copy(update={"login_max_failures_per_address": limit})
    settings = site.console.settings.model_copy(update={"api": api})
    console = Console(
        create_app(settings, site.console.clock, site.console.engine, site.console.keys),
        site.console.engine,
        site.console.clock,
        site.console.keys,
        settings,
    )
    try:
        client = console.client()
        for n in range(limit):
            assert _try(client, f"nobody-{n}@guess.test", "guess") == 403
        form = client.get("/login", headers=HTML)
        locked = client.post(
            "/login",
            data={
                "email": site.world.hotline.email,
                "password": PASSWORD,
                "csrf_token": csrf_of(form.text),
            },
            headers=HTML,
        )
        assert locked.status_code == 429
        assert "Too many failed logins for your address" in locked.text
        console.clock.advance(timedelta(seconds=api.login_lockout_seconds + 1))
        assert _try(client, site.world.hotline.email, PASSWORD) == 303
    finally:
        for c in console.clients:
            c.__exit__(None, None, None)


# --- networks -------------------------------------------------------------------------------------


def test_networks_are_ranked_with_reasons_drawn_and_explained(seen: Site) -> None:
    site = seen
    w = site.world
    client = site.as_("police")
    listing = _page(client, "/networks")
    found = re.search(r'href="/networks/(\d+)"', listing)
    assert found, listing
    assert 'id="networks"' in listing
    network_id = int(found.group(1))
    page = _page(client, f"/networks/{network_id}")
    for s in (w.site, w.mirror_site):
        assert s.replace(".", "[.]") in page
    graph = re.search(
        r'<script type="application/json" id="network-graph-data">(.*?)</script>', page
    )
    assert graph
    elements = json.loads(unescape(graph.group(1)))
    sites = {n["data"]["label"] for n in elements["nodes"] if n["data"]["kind"] == "site"}
    assert sites == {w.site.replace(".", "[.]"), w.mirror_site.replace(".", "[.]")}
    assert elements["edges"]
    _no_live_links_or_images(page, [w.site, w.mirror_site])
    assert "cytoscape.min.js" in page
    explained = _page(client, f"/networks/explain?a={w.site}&b={w.mirror_site}")
    assert 'id="explain-chain"' in explained
    chain = explained[explained.index('id="explain-chain"') :]
    assert chain.count("<li>") >= 2  # site → shared identifier → site, each with its proof
    assert "proof: capture" in chain
    # Whoever may see no site of it finds no network, and no way to explain the link.
    for who in ("provider_a", "host_a"):
        other = site.as_(who)
        response = other.get("/networks", headers=HTML)
        if response.status_code == 200:
            assert "0 networks you may see" in response.text
            assert f'href="/networks/{network_id}"' not in response.text
        else:
            assert response.status_code == 403
        assert other.get(f"/networks/{network_id}", headers=HTML).status_code in (403, 404)


# --- cases ----------------------------------------------------------------------------------------


def test_cases_and_deconfliction_hits_show_only_what_each_side_may_learn(site: Site) -> None:
    from cordon.audit.log import Actor
    from cordon.cases import deconfliction
    from cordon.cases import repo as cases
    from cordon.domain.tlp import Tlp
    from cordon.notices.policy import NoticePolicy
    from cordon.store.db import write

    w = site.world
    made: dict[str, int] = {}
    with write(site.console.engine) as conn:
        for who, title in (("police", "Shop <operators>"), ("other_hotline", "Undercover buy")):
            member = getattr(w, who)
            actor = Actor.of(member.principal, source="cli")
            found = cases.open_case(
                conn,
                site.console.clock,
                member.principal,
                actor,
                cases.CaseIn(title=title, tlp=Tlp.AMBER, subjects=[("domain", w.site)]),
                deconflict=deconfliction.Deconflictor(
                    site.console.clock, actor, NoticePolicy.from_settings(site.console.settings)
                ),
            )
            made[who] = found.id
        cases.add_note(
            conn,
            site.console.clock,
            w.police.principal,
            Actor.of(w.police.principal, source="cli"),
            made["police"],
            "<script>alert(1)</script>",
        )
    police = site.as_("police")
    listing = _page(police, "/cases")
    assert f'href="/cases/{made["police"]}"' in listing
    assert f'href="/cases/{made["other_hotline"]}"' not in listing
    assert "Shop &lt;operators&gt;" in listing
    _page(police, f"/cases/{made['other_hotline']}", 404)
    case = _page(police, f"/cases/{made['police']}")
    assert w.site.replace(".", "[.]") in case
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in case
    assert "<script>alert" not in case
    hits = _page(police, "/deconfliction")
    assert 'id="deconfliction-hits"' in hits
    assert w.other_hotline.email.split("@")[0] in hits  # whom to contact
    assert "Undercover buy" not in hits  # but not what the other case is
    assert "not yours to read" in hits
    _no_live_links_or_images(case + hits, [w.site])
    for who in ("provider_a", "host_a"):
        response = site.as_(who).get("/cases", headers=HTML)
        assert response.status_code in (200, 403)
        assert "Shop &lt;operators&gt;" not in response.text


# --- banks ----------------------------------------------------------------------------------------


def test_banks_are_listed_imported_thresholded_and_exported_by_their_owner(site: Site) -> None:
    from cordon.audit.log import Actor
    from cordon.banks import model
    from cordon.banks import repo as banks
    from cordon.store.db import write

    w = site.world
    name = f"SHOP_{w.tag.upper()}"
    with write(site.console.engine) as conn:
        banks.create_bank(
            conn,
            site.console.clock,
            w.hotline.principal,
            Actor.of(w.hotline.principal, source="cli"),
            model.BankIn(name=name, tlp="AMBER"),
        )
    owner = site.as_("hotline")
    listing = _page(owner, "/banks")
    assert f'href="/banks/{name}"' in listing
    page = _page(owner, f"/banks/{name}")
    token = csrf_of(page)
    # A file with a bad line imports nothing and names the line.
    bad = owner.post(
        f"/banks/{name}/import",
        data={"format": "pytx", "csrf_token": token},
        files={"file": ("list.txt", f"pdq {PDQ}\npdq not-a-hash\n", "text/plain")},
        headers=HTML,
    )
    assert bad.status_code == 422
    assert "Nothing was imported" in bad.text
    assert 'id="import-errors"' in bad.text
    assert PDQ not in bad.text.split('id="bank-entry-list"')[-1] or "No entries yet" in bad.text
    good = owner.post(
        f"/banks/{name}/import",
        data={"format": "pytx", "csrf_token": token},
        files={"file": ("list.txt", f"pdq {PDQ}\n", "text/plain")},
        headers=HTML,
    )
    assert good.status_code == 200, good.text
    assert "1 added" in good.text
    assert PDQ in good.text  # as a hash, never a picture
    _no_live_links_or_images(good.text, [])
    # The threshold: checked, then changed.
    refused = owner.post(
        f"/banks/{name}/threshold",
        data={"pdq_threshold": "300", "csrf_token": token},
        headers=HTML,
    )
    assert refused.status_code == 422
    changed = owner.post(
        f"/banks/{name}/threshold", data={"pdq_threshold": "20", "csrf_token": token}, headers=HTML
    )
    assert changed.status_code == 200
    assert "20 bits of 256" in changed.text
    exported = owner.get(f"/v1/banks/{name}/export?format=pytx")
    assert exported.status_code == 200
    assert PDQ in exported.text
    # An AMBER bank shared with no one: absent for others, and no one else may change it.
    police = site.as_("police")
    assert f'href="/banks/{name}"' not in _page(police, "/banks")
    _page(police, f"/banks/{name}", 404)
    police_token = csrf_of(_page(police, "/banks"))
    stranger = police.post(
        f"/banks/{name}/threshold",
        data={"pdq_threshold": "5", "csrf_token": police_token},
        headers=HTML,
    )
    assert stranger.status_code in (403, 404)
    assert "20 bits of 256" in _page(owner, f"/banks/{name}")


def test_the_url_page_shows_a_capture_s_matches_with_bank_and_distance(site: Site) -> None:
    from cordon.audit.log import Actor
    from cordon.banks import model
    from cordon.banks import repo as banks
    from cordon.pipeline.runner import StageContext, run_until_idle
    from cordon.plugins import plugin_manager, stages
    from cordon.store.db import write

    w = site.world
    name = f"MATCH_{w.tag.upper()}"
    with write(site.console.engine) as conn:
        actor = Actor.of(w.hotline.principal, source="cli")
        banks.create_bank(
            conn,
            site.console.clock,
            w.hotline.principal,
            actor,
            model.BankIn(name=name, tlp="GREEN"),
        )
        banks.add_entries(
            conn,
            site.console.clock,
            w.hotline.principal,
            actor,
            name,
            [model.EntryIn(signal_type="pdq", signal=PDQ)],
        )
    run_until_idle(
        site.console.engine,
        [s for s in stages(plugin_manager()) if s.name in ("match", "retro_match")],
        StageContext(clock=site.console.clock, settings=site.console.settings),
    )
    html = _page(site.as_("hotline"), f"/urls/{w.url_id}")
    matched = html[html.index('id="h-matches"') :]
    assert 'id="capture-matches"' in matched
    assert name in matched
    assert PDQ in matched


def test_a_host_answers_its_notice_with_the_answers_of_its_kind(site: Site) -> None:
    w = site.world
    client = site.as_("host_a")
    page = _page(client, f"/inbox/{w.host_notice_a}")
    with read(site.console.engine) as conn:
        kind = notices.notices_about(conn, "url", [w.url_id])[0].kind
    from cordon.notices.kinds import get_kind

    answers = [a.name for a in get_kind(kind).answers]
    for name in answers:
        assert f'value="{name}"' in page
    done = client.post(
        f"/inbox/{w.host_notice_a}/answer",
        data={"answer": answers[0], "csrf_token": csrf_of(page)},
        headers=HTML,
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert "Your answer was recorded." in _page(client, done.headers["location"])
    # The other host's notice is untouched and still not this host's to answer.
    stranger = client.post(
        f"/inbox/{w.host_notice_b}/answer",
        data={"answer": answers[0], "csrf_token": csrf_of(page)},
        headers=HTML,
    )
    assert stranger.status_code == 404


def test_a_notice_to_a_party_outside_the_coalition_is_followed_by_its_issuer_only(
    site: Site,
) -> None:
    from cordon.notices.kinds import KINDS, PAYMENT_ALERT
    from cordon.notices.policy import NoticePolicy
    from cordon.store.db import write
    from web.seed import STAGE

    w = site.world
    with write(site.console.engine) as conn:
        sent = notices.issue(
            conn,
            site.console.clock,
            STAGE,
            NoticePolicy.from_settings(site.console.settings),
            kind=KINDS.get("host_takedown", PAYMENT_ALERT),
            recipient_org_id=None,
            recipient_address="abuse@edge.test",
            recipient_name="Example Edge Inc.",
            subject_kind="url",
            subject_id=w.strict_url_id,
            title="Takedown request",
            body="Please remove the content.",
            payload={},
            issuer_org_id=w.hotline.org_id,
        )
    inbox = _page(site.as_("hotline"), "/inbox")
    assert f'href="/inbox/{sent.id}"' in inbox
    assert "(sent by you)" in inbox
    assert "abuse@edge.test" in _page(site.as_("hotline"), f"/inbox/{sent.id}")
    _page(site.as_("police"), f"/inbox/{sent.id}", 404)
    overview = _page(site.as_("police"), "/notices")
    assert "Example Edge Inc." in overview  # a figure of the coalition's, not the notice
    assert f"/inbox/{sent.id}" not in overview


def test_a_police_force_sees_no_other_countrys_referrals_on_any_page_or_count(
    site: Site, clock: FrozenClock, engine: Engine, settings: Settings
) -> None:
    from cordon.audit.log import Actor
    from cordon.notices.kinds import LE_REFERRAL
    from cordon.notices.policy import NoticePolicy
    from cordon.store.db import write
    from web.seed import _member

    w = site.world
    policy = NoticePolicy.from_settings(settings)
    with write(engine) as conn:
        police_nl = _member(conn, clock, "law_enforcement", "nl", "NL")
        referral = {}
        for who, member in (("de", w.police), ("nl", police_nl)):
            referral[who] = notices.issue(
                conn,
                clock,
                Actor(source="stage"),
                policy,
                kind=LE_REFERRAL,
                recipient_org_id=member.org_id,
                subject_kind="url",
                subject_id=w.url_id,
                title=f"Referral for {who.upper()}: confirmed URLs hosted in your country",
                body="Confirmed URLs, for your action.",
                payload={"country": who.upper()},
            ).id
    de = site.as_("police")
    inbox = _page(de, "/inbox")
    assert f'href="/inbox/{referral["de"]}"' in inbox
    assert f'href="/inbox/{referral["nl"]}"' not in inbox
    assert "Referral for NL" not in inbox
    _page(de, f"/inbox/{referral['nl']}", 404)
    assert "Referral for DE" in _page(de, f"/inbox/{referral['de']}")
    tallies = _page(de, "/notices")
    assert police_nl.email.split("@")[0] not in tallies
    dashboard = _page(de, "/")
    assert police_nl.email.split("@")[0] not in dashboard
    # The other force sees its own and not this one's.
    nl = site.console.session_for(police_nl.user_id, police_nl.org_id)
    assert f'href="/inbox/{referral["nl"]}"' in _page(nl, "/inbox")
    _page(nl, f"/inbox/{referral['de']}", 404)
