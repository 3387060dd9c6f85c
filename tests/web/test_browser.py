"""The console in Debian's Chromium against a real server on loopback.

The seeded coalition (conftest.py): Hotline North reported five sites, one per TLP marking
(its AMBER report shared with Police Central); Card Scheme East, a payment provider, reported
one site of its own. Tests that store reports do so as Hotline South, whose AMBER reports no
other member may see, so that the figures the other tests check stay as seeded.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the chromium fixture skips these tests, or under CI fails them, saying why
    expect = None

from web.helpers import ROOT, Pages, Seeded

AXE = ROOT / "tests" / "web" / "vendor" / "axe-core" / "axe.min.js"
OUTPUT = ROOT / "test-output" / "web"
MAIN_PAGES = [
    "/login",
    "/",
    "/reports",
    "/reports/new",
    "/reports/upload",
    "/partners",
    "/audit",
    "/account",
    "/account/tokens",
]


def _figure(page: object, name: str) -> int:
    return int(page.locator(f"#figure-{name}").inner_text())  # type: ignore[attr-defined]


def _dashboard_data(page: object) -> dict[str, list[dict[str, object]]]:
    raw = page.locator("#dashboard-data").text_content()  # type: ignore[attr-defined]
    data: dict[str, list[dict[str, object]]] = json.loads(raw or "{}")
    return data


@pytest.mark.parametrize(
    ("member", "visible", "menu", "not_in_menu"),
    [
        ("hotline", 5, ["Reports", "Report URLs", "API tokens"], ["Audit"]),
        ("police", 3, ["Reports", "Partners"], ["Audit"]),
        ("payment", 1, ["Reports", "Report URLs"], ["Audit"]),
        ("coordinator", 2, ["Reports", "Partners", "Audit"], []),
    ],
)
def test_members_of_each_type_log_in_to_their_own_menu_and_figures(
    pages: Pages, member: str, visible: int, menu: list[str], not_in_menu: list[str]
) -> None:
    page = pages.open(member, fresh=True)
    nav = page.get_by_role("navigation", name="Main")
    for label in menu:
        assert nav.get_by_role("link", name=label, exact=True).count() == 1, label
    for label in not_in_menu:
        assert nav.get_by_role("link", name=label, exact=True).count() == 0, label
    assert _figure(page, "visible") == visible
    per_tlp = _dashboard_data(page)["per_tlp"]
    assert sum(int(str(row["value"])) for row in per_tlp) == visible
    page.locator("section.chart.drawn").first.wait_for()
    assert page.locator("section.chart.drawn").count() >= 3
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r".*/login$"))
    page.goto("/")
    assert urlsplit(page.url).path == "/login"


def test_a_submitted_report_is_listed_and_shown_in_detail(pages: Pages) -> None:
    page = pages.open("intake")
    page.get_by_role("link", name="Report URLs").click()
    page.get_by_label("URLs, one per line").fill(
        "http://www.submitted-shop.test/catalogue\nhxxps://pay[.]submitted-shop[.]test/checkout"
    )
    page.get_by_label("TLP:AMBER", exact=True).check()
    page.get_by_label("Hashes seen at the URLs").fill("photo_md5:" + "ab" * 16)
    page.get_by_label("Your reference").fill("CASE-77")
    page.get_by_label("Note").fill("<b>seen twice</b>")
    page.get_by_role("button", name="Report", exact=True).click()
    page.wait_for_url(re.compile(r".*/reports/\d+$"))
    report_id = page.url.rsplit("/", 1)[1]
    urls = page.locator("#report-urls")
    assert "hxxp://www[.]submitted-shop[.]test/catalogue" in urls.inner_text()
    assert "hxxps://pay[.]submitted-shop[.]test/checkout" in urls.inner_text()
    assert urls.locator("li.state-pending").count() == 2  # each URL waits for the crawl
    assert "ab" * 16 in page.locator("#report-hashes").inner_text()
    assert page.get_by_text("<b>seen twice</b>").count() == 1  # the note is text, not markup
    page.get_by_role("link", name="Reports", exact=True).click()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=f"#{report_id}"))
    assert "CASE-77" in row.inner_text()
    assert "TLP:AMBER" in row.inner_text()


def test_an_upload_with_a_bad_row_stores_nothing_and_names_line_and_field(
    pages: Pages, tmp_path: Path
) -> None:
    page = pages.open("intake")
    page.goto("/reports")
    before = page.locator("#report-count").inner_text()
    bad = tmp_path / "intake.csv"
    bad.write_text(
        "url,tlp,source_ref\n"
        "http://upload-one.test/a,AMBER,U-1\n"
        "ftp://upload-two.test/b,AMBER,U-2\n"
        "http://upload-three.test/c,PURPLE,U-3\n",
        encoding="utf-8",
    )
    page.goto("/reports/upload")
    page.get_by_label("File (.csv, .jsonl or .ndjson)").set_input_files(str(bad))
    page.get_by_role("button", name="Upload").click()
    errors = page.locator("#row-errors tbody tr")
    assert errors.count() == 2
    assert errors.nth(0).locator("td").all_inner_texts()[:2] == ["3", "urls[0]"]
    assert errors.nth(1).locator("td").all_inner_texts()[:2] == ["4", "tlp"]
    assert "nothing was stored" in page.get_by_role("alert").inner_text()
    page.goto("/reports")
    assert page.locator("#report-count").inner_text() == before
    good = tmp_path / "intake.jsonl"
    good.write_text(
        '{"urls": ["http://upload-one.test/a"], "tlp": "AMBER", "idempotency_key": "u-1"}\n'
        '{"urls": ["http://upload-two.test/b"], "tlp": "AMBER", "idempotency_key": "u-2"}\n',
        encoding="utf-8",
    )
    page.goto("/reports/upload")
    page.get_by_label("File (.csv, .jsonl or .ndjson)").set_input_files(str(good))
    page.get_by_role("button", name="Upload").click()
    assert page.locator("#upload-results tbody tr").count() == 2
    page.goto("/reports?domain=upload-two.test")
    assert page.locator("#report-count").inner_text() == "1 report match."


def test_a_payment_provider_sees_no_other_organisations_reports_on_any_page(
    pages: Pages, served: Seeded
) -> None:
    page = pages.open("payment")
    others = [d for label, d in served.domains.items() if label != "payment-own"]
    texts = []
    assert _figure(page, "visible") == 1
    assert _figure(page, "own") == 1
    data = _dashboard_data(page)
    assert [row["label"] for row in data["domains"]] == ["payment-own-shop.test"]
    assert sum(int(str(row["value"])) for row in data["per_day"]) == 1
    assert "queues" not in data
    texts.append(page.content())
    page.goto("/reports")
    assert page.locator("#report-count").inner_text() == "1 report match."
    texts.append(page.content())
    for tlp in ("CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"):
        page.goto(f"/reports?tlp={tlp.replace('+', '%2B')}")
        texts.append(page.content())
    for label, report_id in served.report_ids.items():
        response = page.goto(f"/reports/{report_id}")
        assert response is not None
        assert response.status == (200 if label == "payment-own" else 404), label
        texts.append(page.content())
    for path in ("/partners", "/account", "/account/tokens", "/reports/new"):
        page.goto(path)
        texts.append(page.content())
    for text in texts:
        for domain in others:
            assert domain not in text
            assert domain.replace(".", "[.]") not in text
    assert page.goto("/audit").status == 403  # type: ignore[union-attr]


def test_a_post_without_the_csrf_token_is_refused(pages: Pages, served: Seeded) -> None:
    page = pages.open("intake")
    page.goto("/reports/new")
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert token
    body = {"urls": "http://csrf-probe.test/", "tlp": "AMBER"}
    refused = page.request.post("/reports/new", form=body)
    assert refused.status == 403
    forged = page.request.post("/reports/new", form={**body, "csrf_token": "x" * len(token)})
    assert forged.status == 403
    other_site = page.request.post(
        "/reports/new",
        form={**body, "csrf_token": token},
        headers={"Origin": "http://attacker.test"},
    )
    assert other_site.status == 403
    page.goto("/reports?domain=csrf-probe.test")
    assert page.locator("#report-count").inner_text() == "0 reports match."
    accepted = page.request.post(
        "/reports/new", form={**body, "csrf_token": token}, max_redirects=0
    )
    assert accepted.status == 303


def test_pages_carry_a_strict_content_security_policy(pages: Pages) -> None:
    pages.expected_violations.append("R0lGODlhAQABAAAAACw")  # the probe below
    page = pages.open()
    response = page.goto("/login")
    assert response is not None
    policy = response.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["img-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in policy
    assert "data:" not in policy
    blocked = page.evaluate(
        """() => new Promise(resolve => {
            document.addEventListener('securitypolicyviolation',
                e => resolve(e.violatedDirective), {once: true});
            const img = document.createElement('img');
            img.src = 'data:image/gif;base64,R0lGODlhAQABAAAAACw=';
            document.body.appendChild(img);
            setTimeout(() => resolve(null), 2000);
        })"""
    )
    assert blocked == "img-src"


def test_no_data_images_and_no_live_links_to_reported_urls(pages: Pages, served: Seeded) -> None:
    page = pages.open("hotline")
    origin = served.url
    reported_hosts = {d for d in served.domains.values()} | {
        f"www.{d}" for d in served.domains.values()
    }
    paths = ["/", "/reports", *(f"/reports/{i}" for i in served.report_ids.values())]
    for path in paths:
        page.goto(path)
        assert page.locator("img").count() == 0, path
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
        for href in hrefs:
            assert href.startswith(origin), f"{path}: a link leaves Cordon: {href}"
            assert urlsplit(href).hostname not in reported_hosts
        text = page.locator("main").inner_text()
        for domain in served.domains.values():
            assert f"://{domain}" not in text
            assert f"://www.{domain}" not in text
    page.goto(f"/reports/{served.report_ids['green']}")
    assert "hxxp://www[.]green-shop[.]test/gallery/1" in page.locator("#report-urls").inner_text()


def test_report_filters_update_the_list_in_place(pages: Pages) -> None:
    page = pages.open("hotline")
    page.goto("/reports")
    assert page.locator("#report-count").inner_text() == "5 reports match."
    page.get_by_label("TLP", exact=True).select_option("RED")
    expect(page.locator("#report-count")).to_have_text("1 report match.")
    expect(page).to_have_url(re.compile(r"tlp=RED"))
    assert page.locator("table.list tbody tr").count() == 1
    page.get_by_label("Registrable domain").fill("green-shop.test")
    page.get_by_label("TLP", exact=True).select_option("")
    expect(page).to_have_url(re.compile(r"domain=green-shop\.test(&|$)"))
    expect(page.locator("#report-count")).to_have_text("1 report match.")
    assert "green-shop[.]test" in page.locator("#report-results").inner_text()


def test_api_tokens_are_shown_once_and_revocation_takes_effect(
    pages: Pages, served: Seeded
) -> None:
    page = pages.open("police")
    page.goto("/account/tokens")
    page.get_by_label("What it is for").fill("case tooling")
    page.get_by_role("button", name="Issue").click()
    token = page.get_by_label("Token", exact=True).input_value()
    assert token.startswith("cdn_")
    me = page.request.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status == 200
    page.goto("/account/tokens")
    assert token not in page.content()
    row = page.get_by_role("row").filter(has_text="case tooling")
    assert "active" in row.inner_text()
    row.get_by_role("button", name="Revoke").click()
    page.wait_for_url(re.compile(r".*/account/tokens$"))
    assert "revoked" in page.get_by_role("row").filter(has_text="case tooling").inner_text()
    gone = page.request.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert gone.status == 401


def test_a_coordinator_admits_an_organisation_and_verifies_the_audit_log(pages: Pages) -> None:
    page = pages.open("coordinator")
    page.goto("/partners")
    page.get_by_label("Name", exact=True).fill("Transit Networks")
    page.get_by_label("Type").select_option("isp")
    page.get_by_label("Country (ISO 3166-1 alpha-2)").fill("FR")
    page.get_by_role("button", name="Admit").click()
    page.wait_for_url(re.compile(r".*/partners/\d+$"))
    assert page.get_by_role("heading", name="Transit Networks").count() == 1
    page.get_by_label("E-mail address").fill("noc@transit.test")
    page.get_by_label("Role").select_option("admin")
    page.get_by_role("button", name="Add").click()
    assert "noc@transit.test" in page.locator("#members").inner_text()
    page.goto("/audit?action=ui:org")
    events = page.locator("#audit-events tbody")
    assert "ui:org:create" in events.inner_text()
    page.get_by_role("button", name="Verify the log against every checkpoint").click()
    result = page.locator("#verification-result")
    result.wait_for()
    assert "The log verifies." in result.inner_text()


def test_axe_finds_no_serious_or_critical_violations_on_the_main_pages(
    pages: Pages, served: Seeded
) -> None:
    anonymous = pages.open(init_script=AXE)
    page = pages.open("coordinator", init_script=AXE)
    found: dict[str, list[str]] = {}
    for path in [*MAIN_PAGES, f"/reports/{served.report_ids['green']}", "/audit/verify"]:
        target = anonymous if path == "/login" else page
        target.goto(path)
        result = target.evaluate(
            "async () => await axe.run(document, {resultTypes: ['violations']})"
        )
        bad = [
            f"{v['id']} ({v['impact']}): {v['help']}"
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        if bad:
            found[path] = bad
    assert not found, found


NEW_PAGES = ["/inbox", "/notices", "/money/identifiers", "/money/test-purchases"]


def _shot(page: object, name: str) -> None:
    """A screenshot of one step of a walk, beside those of whole tests."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def _axe(page: object) -> list[str]:
    result = page.evaluate(  # type: ignore[attr-defined]
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_a_payment_provider_answers_its_alert_in_the_inbox_and_the_dashboard_updates(
    pages: Pages, served: Seeded
) -> None:
    world = served.world
    own_name = world.provider_a.email.split("@")[0]
    others = [world.provider_b.email.split("@")[0], world.host_a.email.split("@")[0]]
    page = pages.open("shop-provider_a", fresh=True)
    texts = [page.content()]
    providers = page.locator("#table-providers")
    assert own_name in providers.inner_text()
    assert "No alert has been closed yet." in page.locator("#closure-none").inner_text()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Inbox").click()
    page.wait_for_url(re.compile(r".*/inbox$"))
    rows = page.locator("#inbox tbody tr")
    assert rows.count() == 1
    assert "unread" in rows.first.inner_text()
    texts.append(page.content())
    _shot(page, "walk-1-inbox")
    rows.first.get_by_role("link").click()
    page.wait_for_url(re.compile(rf".*/inbox/{world.alert_a}$"))
    _shot(page, "walk-2-alert")
    assert "hxxps://www[.]" in page.locator("#notice-body").inner_text()
    page.get_by_label(re.compile(r"^account closed")).check()
    page.get_by_label("Note (optional)").fill("Merchant terminated.")
    page.get_by_role("button", name="Send the answer").click()
    page.wait_for_url(re.compile(r".*answered=1$"))
    assert "Your answer was recorded." in page.get_by_role("status").inner_text()
    assert "closed" in page.locator("#notice-state").inner_text()
    assert page.locator("#answer-form").count() == 0
    _shot(page, "walk-3-answered")
    texts.append(page.content())
    page.get_by_role("link", name="Dashboard").click()
    page.wait_for_url(re.compile(r".*/$"))
    assert page.locator("#providers-none").count() == 1
    closures = page.locator("#table-closure tbody tr").filter(has_text="1-6 hours")
    assert closures.locator("td").nth(1).inner_text() == "1"
    page.locator("section.chart.drawn").first.wait_for()
    _shot(page, "walk-4-dashboard")
    texts.append(page.content())
    for path in [*NEW_PAGES, f"/money/identifiers/{world.ident_a}"]:
        page.goto(path)
        texts.append(page.content())
    for path in (f"/inbox/{world.alert_b}", f"/money/identifiers/{world.ident_b}"):
        response = page.goto(path)
        assert response is not None
        assert response.status == 404, path
    for text in texts:
        for name in others:
            assert name not in text
        assert f'href="/inbox/{world.alert_b}"' not in text


def test_the_url_page_shows_hashes_and_hosting_without_imagery_or_live_links(
    pages: Pages, served: Seeded
) -> None:
    world = served.world
    page = pages.open("shop-hotline")
    page.goto(f"/reports?domain={world.site}")
    page.locator("a.url-link").first.click()
    page.wait_for_url(re.compile(rf".*/urls/{world.url_id}$"))
    assert page.locator("img").count() == 0
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    assert all(h.startswith(served.url) for h in hrefs), hrefs
    media = page.locator("#capture-media").inner_text()
    assert "f0" * 32 in media
    assert "sales<b>@shop.test" in page.locator("#capture-indicators").inner_text()
    chain = page.locator("#attribution-chain").inner_text()
    assert "AS64501" in chain
    assert "Example Registrar Ltd" in chain
    assert f"://www.{world.site}" not in page.locator("main").inner_text()


def test_axe_finds_no_serious_or_critical_violations_on_the_new_pages(
    pages: Pages, served: Seeded
) -> None:
    world = served.world
    provider = pages.open("shop-provider_b", init_script=AXE)
    hotline = pages.open("shop-hotline", init_script=AXE)
    found: dict[str, list[str]] = {}
    visits = [(provider, path) for path in ["/", *NEW_PAGES]]
    visits += [
        (provider, f"/inbox/{world.alert_b}"),
        (provider, f"/money/identifiers/{world.ident_b}"),
        (hotline, f"/urls/{world.url_id}"),
        (hotline, "/networks"),
        (hotline, "/cases"),
        (hotline, "/deconfliction"),
        (hotline, "/banks"),
        (hotline, f"/networks/explain?a={world.site}&b={world.mirror_site}"),
        (hotline, "/"),
    ]
    for target, path in visits:
        target.goto(path)
        if path == "/":
            target.locator("section.chart.drawn").first.wait_for()
        bad = _axe(target)
        if bad:
            found[path] = bad
        slug = re.sub(r"[^a-z0-9]+", "-", path.split("?")[0].lower()).strip("-") or "dashboard"
        _shot(target, f"page-{'provider' if target is provider else 'hotline'}-{slug}")
    assert not found, found


def test_a_sites_network_graph_is_drawn_from_its_url_page(pages: Pages, served: Seeded) -> None:
    world = served.world
    page = pages.open("shop-hotline")
    page.goto(f"/urls/{world.url_id}")
    page.locator("#url-network").get_by_role("link").click()
    page.wait_for_url(re.compile(r".*/networks/\d+$"))
    page.locator("#network-graph.drawn").wait_for()
    assert page.locator("#network-graph canvas").count() >= 1
    assert page.locator("img").count() == 0
    nodes = page.locator("#graph-nodes").text_content() or ""
    assert world.mirror_site.replace(".", "[.]") in nodes
    _shot(page, "network-graph")
    page.get_by_role("button", name="Explain the link").click()
    page.wait_for_url(re.compile(r".*/networks/explain\?.*"))
    assert page.locator("#explain-chain li").count() >= 2


def test_a_police_force_finds_no_other_countrys_referral_on_any_page(
    pages: Pages, served: Seeded
) -> None:
    page = pages.open("police")
    texts = []
    for path in ["/", *NEW_PAGES, f"/inbox/{served.referrals['own']}"]:
        page.goto(path)
        texts.append(page.content())
    page.goto("/inbox")
    assert page.locator(f'a[href="/inbox/{served.referrals["own"]}"]').count() == 1
    assert page.locator(f'a[href="/inbox/{served.referrals["other"]}"]').count() == 0
    response = page.goto(f"/inbox/{served.referrals['other']}")
    assert response is not None
    assert response.status == 404
    for text in texts:
        assert "Referral NL" not in text
        assert served.other_police not in text
    assert any("Referral DE" in text for text in texts)
