"""The entitlement matrix of following the money: organisation types × roles × TLP × every
read path of payment identifiers, test purchases and alerts (get, lookup, list, count, export,
the inbox and the signed webhook).

The oracle is written here from DESIGN.md's rules, independently of the policy module: a
payment provider sees its own alerts and identifiers (and its own submissions) and nothing of
another provider's; everyone else sees an identifier through a report or test purchase it may
see; an alert is read by its recipient organisation only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from cordon.audit.log import Actor
from cordon.clock import FrozenClock
from cordon.config import Settings
from cordon.domain.partners import OrgType, Principal, Role
from cordon.domain.tlp import Tlp
from cordon.keys import Keys
from cordon.money import purchases, repo, sightings
from cordon.money.model import PurchaseIn
from cordon.notices import repo as notices
from cordon.notices.policy import NoticePolicy
from cordon.pipeline.runner import StageContext, run_until_idle
from cordon.plugins import plugin_manager, stages
from cordon.reports import repo as reports
from cordon.reports.model import ReportIn
from cordon.store.db import write
from notices.servers import WEBHOOK_NETWORK, WebhookReceiver, webhook_receiver
from support import make_member, token_for

ADDRESSEE_ONLY = {OrgType.PAYMENT_PROVIDER, OrgType.HOSTING_PROVIDER, OrgType.ISP}
STAGE = Actor(source="stage")


@dataclass(frozen=True)
class Marked:
    """A report or test purchase: what decides who sees the sightings it carries."""

    tlp: Tlp
    owner_org: int
    shared_orgs: frozenset[int]
    named_users: frozenset[int]


def sees(p: Principal, r: Marked) -> bool:
    """DESIGN.md's rules for a shared record, restated."""
    if r.tlp is Tlp.RED:
        return p.user_id in r.named_users
    if p.org_type in ADDRESSEE_ONLY:
        return p.org_id == r.owner_org
    if r.tlp in (Tlp.CLEAR, Tlp.GREEN):
        return True
    if r.tlp is Tlp.AMBER:
        return p.org_id == r.owner_org or p.org_id in r.shared_orgs
    return p.org_id == r.owner_org


@dataclass
class Ident:
    id: int
    key: str
    owner_org: int | None
    seen_through: list[Marked]


@pytest.fixture
def hooks() -> Iterator[tuple[WebhookReceiver, WebhookReceiver]]:
    with webhook_receiver("/a") as a, webhook_receiver("/b") as b:
        yield a, b


def test_money_entitlement_matrix(
    client: TestClient,
    engine: Engine,
    clock: FrozenClock,
    keys: Keys,
    settings: Settings,
    hooks: tuple[WebhookReceiver, WebhookReceiver],
) -> None:
    hook_a, hook_b = hooks
    settings = settings.model_copy(
        update={
            "notices": settings.notices.model_copy(
                update={"webhook_allow_networks": [WEBHOOK_NETWORK]}
            )
        }
    )
    policy = NoticePolicy.from_settings(settings)
    principals: list[Principal] = []
    tokens: dict[int, str] = {}
    idents: list[Ident] = []
    purchase_marks: dict[int, Marked] = {}
    with write(engine) as conn:
        hotline = make_member(conn, clock, org_type="hotline")
        share_target = make_member(conn, clock, org_type="law_enforcement", country="DE")
        named = make_member(conn, clock, org_type="law_enforcement", country="FR")
        provider_a = make_member(conn, clock, org_type="payment_provider", role="admin")
        provider_b = make_member(conn, clock, org_type="payment_provider", role="admin")
        principals += [hotline, share_target, named, provider_a, provider_b]
        for org_type in OrgType:
            for role in Role:
                principals.append(
                    make_member(conn, clock, org_type=org_type.value, role=role.value)
                )
        for p in principals:
            tokens[p.user_id] = token_for(conn, clock, keys, p)
        for provider, shop, bin_, hook in (
            (provider_a, "paybridge", "540518", hook_a),
            (provider_b, "coinvault", "436907", hook_b),
        ):
            actor = Actor.of(provider, source="cli")
            repo.register_ownership(
                conn, clock, provider, actor, kind="checkout_provider", value=shop
            )
            repo.register_ownership(
                conn, clock, provider, actor, kind="acquirer_bin_range", value=bin_
            )
            notices.add_endpoint(
                conn,
                clock,
                provider,
                actor,
                channel="webhook",
                target=hook.url,
                key_dir=settings.key_dir,
            )
        hotline_actor = Actor.of(hotline, source="cli")
        for n, tlp in enumerate(Tlp):
            site = f"https://{tlp.name.lower().replace('_', '-')}.shop{n}.test/pay"
            done = reports.submit(
                conn,
                clock,
                hotline,
                hotline_actor,
                ReportIn(
                    urls=[site],
                    tlp=tlp,
                    share_with=[share_target.org_id] if tlp is Tlp.AMBER else [],
                    red_users=[named.user_id, provider_a.user_id] if tlp is Tlp.RED else [],
                ),
                channel="cli",
            )
            mark = Marked(
                tlp,
                hotline.org_id,
                frozenset([share_target.org_id]) if tlp is Tlp.AMBER else frozenset(),
                frozenset([hotline.user_id, named.user_id, provider_a.user_id])
                if tlp is Tlp.RED
                else frozenset(),
            )
            url_id = done.report.urls[0].id
            shown: list[tuple[str, int | None]] = [
                (f"https://pay.paybridge.test/checkout/merchant-{n}", provider_a.org_id),
                (f"https://checkout.coinvault.test/m/M1000000{n}", provider_b.org_id),
            ]
            if tlp in (Tlp.GREEN, Tlp.AMBER_STRICT):
                shown.append((f"eth:0x{n + 1:040x}", None))  # owned by nobody
            for text, owner in shown:
                got = sightings.record_sighting(conn, clock, STAGE, text, url_id, policy=policy)
                ident = repo.load_identifier(conn, got.identifier_id)
                assert ident is not None
                idents.append(Ident(ident.id, ident.key, owner, [mark]))
            sightings.mark_url_confirmed(conn, clock, STAGE, url_id, policy=policy)
        # Test purchases: each provider's own (AMBER), and a hotline's (GREEN) that reveals a
        # merchant of provider A's.
        for who, tlp, bin_, mid, owner in (
            (provider_a, Tlp.AMBER, "540518", "111111111111111", provider_a.org_id),
            (provider_b, Tlp.AMBER, "436907", "222222222222222", provider_b.org_id),
            (hotline, Tlp.GREEN, "540518", "333333333333333", provider_a.org_id),
        ):
            bought = purchases.submit(
                conn,
                clock,
                who,
                Actor.of(who, source="cli"),
                PurchaseIn.model_validate(
                    {
                        "date": "2026-02-20T10:00:00Z",
                        "site_url": f"https://bought-{mid[:3]}.test/",
                        "scheme": "visa",
                        "descriptor": f"SHOP{mid[:3]}*DIGITAL",
                        "merchant_id": mid,
                        "acquirer_bin": bin_,
                        "amount": "19.95",
                        "currency": "EUR",
                        "tlp": tlp.value,
                    }
                ),
                channel="cli",
                policy=policy,
            )
            mark = Marked(tlp, who.org_id, frozenset(), frozenset())
            purchase_marks[bought.purchase.id] = mark
            idents.append(
                Ident(bought.purchase.identifier_ids[0], f"card:{bin_}:{mid}", owner, [mark])
            )
            # The purchase's page is confirmed too: its alert goes out.
            sightings.mark_url_confirmed(conn, clock, STAGE, bought.purchase.url_id, policy=policy)
        alert_owner = {
            n.id: n.recipient_org_id
            for n in notices.notices_about(conn, "payment_identifier", [i.id for i in idents])
        }
    run_until_idle(
        engine,
        [s for s in stages(plugin_manager()) if s.name.startswith("notice_")],
        StageContext(clock=clock, settings=settings),
    )
    # Alerts went out on releasable evidence only, each to its owner.
    assert alert_owner
    assert set(alert_owner.values()) == {provider_a.org_id, provider_b.org_id}

    # The webhook: each provider's endpoint received its own alerts, all of them, nothing else.
    for hook, provider in ((hook_a, provider_a), (hook_b, provider_b)):
        got = {json.loads(r.body)["notice"]["id"] for r in hook.received()}
        want = {nid for nid, org in alert_owner.items() if org == provider.org_id}
        assert got == want, f"webhook of {provider.org_id}: {got} != {want}"

    problems: list[str] = []
    cells = 0
    # Visibility never depends on the role, only the permission to export does: every
    # principal walks the list, count and export paths; one principal per organisation type,
    # and each specially placed one, also walks get and lookup over every record.
    record_walkers: set[int] = {p.user_id for p in principals[:5]}
    covered = {p.org_type for p in principals[:5]}
    for org_type in OrgType:
        if org_type not in covered:
            record_walkers.add(next(p.user_id for p in principals[5:] if p.org_type is org_type))

    def check(label: str, kind: str, path: str, got: set[int], want: set[int]) -> None:
        nonlocal cells
        cells += 1
        for rid in sorted(got - want):
            problems.append(f"LEAK {label} {kind} {path}: {rid}")
        for rid in sorted(want - got):
            problems.append(f"MISS {label} {kind} {path}: {rid}")

    for p in principals:
        walks = p.user_id in record_walkers
        h = {"Authorization": f"Bearer {tokens[p.user_id]}"}
        label = f"{p.org_type}/{p.role}"
        exports = p.role is not Role.VIEWER

        # Payment identifiers.
        want = {
            i.id
            for i in idents
            if i.owner_org == p.org_id or any(sees(p, m) for m in i.seen_through)
        }
        got_get = set()
        got_lookup = set()
        for i in idents if walks else []:
            r = client.get(f"/v1/money/identifiers/{i.id}", headers=h)
            assert r.status_code in (200, 404), r.text
            if r.status_code == 200:
                got_get.add(i.id)
                shown = {a["id"] for a in r.json()["alerts"]}
                leaked = {a for a in shown if alert_owner.get(a) != p.org_id}
                if leaked:
                    problems.append(f"LEAK {label} identifier {i.id} alerts: {leaked}")
            r = client.get("/v1/money/identifiers/lookup", params={"value": i.key}, headers=h)
            assert r.status_code in (200, 404), r.text
            if r.status_code == 200:
                got_lookup.add(i.id)
        if walks:
            check(label, "identifier", "get", got_get, want)
            check(label, "identifier", "lookup", got_lookup, want)
        listed = client.get("/v1/money/identifiers", params={"limit": 500}, headers=h).json()
        check(label, "identifier", "list", {x["id"] for x in listed["items"]}, want)
        counted = client.get("/v1/money/identifiers/count", headers=h).json()["count"]
        check(label, "identifier", "count", set(range(counted)), set(range(len(want))))
        exported = client.get("/v1/money/identifiers/export", headers=h)
        if exports:
            got_exp = {json.loads(x)["id"] for x in exported.text.splitlines() if x}
            check(label, "identifier", "export", got_exp, want)
        else:
            assert exported.status_code == 403

        # Test purchases.
        want_tp = {pid for pid, m in purchase_marks.items() if sees(p, m)}
        got_tp = set()
        for pid in purchase_marks if walks else []:
            r = client.get(f"/v1/money/test-purchases/{pid}", headers=h)
            assert r.status_code in (200, 404)
            if r.status_code == 200:
                got_tp.add(pid)
        if walks:
            check(label, "test_purchase", "get", got_tp, want_tp)
        listed = client.get("/v1/money/test-purchases", headers=h).json()
        check(label, "test_purchase", "list", {x["id"] for x in listed["items"]}, want_tp)
        counted = client.get("/v1/money/test-purchases/count", headers=h).json()["count"]
        check(label, "test_purchase", "count", set(range(counted)), set(range(len(want_tp))))
        if exports:
            exported = client.get("/v1/money/test-purchases/export", headers=h)
            got_exp = {json.loads(x)["id"] for x in exported.text.splitlines() if x}
            check(label, "test_purchase", "export", got_exp, want_tp)

        # Alerts: the inbox.
        want_n = {nid for nid, org in alert_owner.items() if org == p.org_id}
        got_n = set()
        for nid in alert_owner if walks else []:
            r = client.get(f"/v1/notices/{nid}", headers=h)
            assert r.status_code in (200, 404)
            if r.status_code == 200:
                got_n.add(nid)
        if walks:
            check(label, "alert", "get", got_n, want_n)
        listed = client.get("/v1/notices", params={"limit": 500}, headers=h).json()
        check(label, "alert", "list", {x["id"] for x in listed["items"]}, want_n)
        counted = client.get("/v1/notices/count", headers=h).json()["count"]
        check(label, "alert", "count", set(range(counted)), set(range(len(want_n))))
        exported = client.get("/v1/notices/export", headers=h)
        if exports:
            got_exp = {json.loads(x)["id"] for x in exported.text.splitlines() if x}
            check(label, "alert", "export", got_exp, want_n)
        else:
            assert exported.status_code == 403
        # Answering is a write path: someone else's alert is answered as if missing.
        foreign = next(nid for nid, org in alert_owner.items() if org != p.org_id)
        if p.can("notice:answer"):
            r = client.post(f"/v1/notices/{foreign}/answer", json={"answer": "not_ours"}, headers=h)
            assert r.status_code == 404, f"{label} answered alert {foreign}: {r.status_code}"
    print(
        f"entitlement matrix (money): {len(principals)} principals, {len(idents)} identifiers, "
        f"{len(purchase_marks)} test purchases, {len(alert_owner)} alerts, {cells} cells, "
        f"{len(problems)} problems"
    )
    assert not problems, "\n".join(problems)
