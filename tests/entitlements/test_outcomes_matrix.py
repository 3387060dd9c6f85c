"""The entitlement matrix of outcomes: organisation types × roles × TLP × every read path of
assessments (list, count, get), takedown notices and referrals (inbox list, count, get,
export), outcome statistics and the block list.

The oracle is written here from DESIGN.md's rules, independently of the policy module:

* an assessment is a shared record under its own marking and owner;
* a notice is read by its recipient organisation only; a notice to a party outside the
  coalition (an abuse mailbox) by the organisation that issued it;
* statistics are CLEAR aggregates for every member (networks are intelligence: no per-network
  rows for payment providers, hosts and ISPs);
* the block list is for every member; publishing it is the coordinator's admins'.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from cordon.audit.log import Actor
from cordon.clock import FrozenClock
from cordon.config import Settings
from cordon.domain.partners import OrgType, Principal, Role
from cordon.domain.tlp import Tlp
from cordon.keys import Keys
from cordon.notices import repo as notices
from cordon.outcomes import assess
from cordon.store.db import read, write
from cordon.store.tables_money import notice
from outcomes.helpers import reported_url, run
from support import make_member, token_for

ADDRESSEE_ONLY = {OrgType.PAYMENT_PROVIDER, OrgType.HOSTING_PROVIDER, OrgType.ISP}


@dataclass(frozen=True)
class Marked:
    id: int
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


def test_outcomes_entitlement_matrix(
    client: TestClient, engine: Engine, clock: FrozenClock, keys: Keys, settings: Settings
) -> None:
    principals: list[Principal] = []
    tokens: dict[int, str] = {}
    marked: list[Marked] = []
    with write(engine) as conn:
        hotline = make_member(conn, clock, org_type="hotline")
        share_target = make_member(conn, clock, org_type="law_enforcement", country="DE")
        host = make_member(conn, clock, org_type="hosting_provider", role="admin")
        other_host = make_member(conn, clock, org_type="hosting_provider", role="admin")
        police = make_member(conn, clock, org_type="law_enforcement", country="NL")
        principals += [hotline, share_target, host, other_host, police]
        for org_type in OrgType:
            for role in Role:
                principals.append(
                    make_member(conn, clock, org_type=org_type.value, role=role.value)
                )
        for p in principals:
            tokens[p.user_id] = token_for(conn, clock, keys, p)
        notices.add_endpoint(
            conn,
            clock,
            host,
            Actor.of(host, source="cli"),
            channel="email",
            target="abuse@member-host.test",
            key_dir=settings.key_dir,
        )
        actor = Actor.of(hotline, source="cli")
        for n, tlp in enumerate(Tlp):
            url_id = reported_url(
                conn,
                clock,
                hotline,
                f"https://assessed-{n}.test/",
                abuse="abuse@member-host.test",
                routes=[police],
            )
            made = assess.record(
                conn,
                clock,
                hotline,
                actor,
                settings,
                url_id=url_id,
                classification="A1",
                tlp=tlp,
                share_with=[share_target.org_id] if tlp is Tlp.AMBER else [],
            )
            marked.append(
                Marked(
                    made.assessment.id,
                    tlp,
                    hotline.org_id,
                    frozenset([share_target.org_id]) if tlp is Tlp.AMBER else frozenset(),
                    frozenset([hotline.user_id]) if tlp is Tlp.RED else frozenset(),
                )
            )
    run(engine, clock, settings)
    clock.advance(timedelta(minutes=61))
    run(engine, clock, settings)
    with read(engine) as conn:
        sent = conn.execute(select(notice).where(notice.c.state != "draft")).all()
    kinds = {r.kind for r in sent}
    assert {"host_takedown", "registrar_notice", "le_referral"} <= kinds
    # Who reads each notice: its recipient organisation, else (an outside party) its issuer.
    reader = {
        int(r.id): int(r.recipient_org_id if r.recipient_org_id is not None else r.issuer_org_id)
        for r in sent
    }
    assert set(reader.values()) == {host.org_id, hotline.org_id, police.org_id}

    checked = 0
    for p in principals:
        auth = {"Authorization": f"Bearer {tokens[p.user_id]}"}
        # Assessments: list, count, get.
        expected = sorted(m.id for m in marked if sees(p, m))
        listed = client.get("/v1/assessments", params={"limit": 500}, headers=auth)
        assert listed.status_code == 200, (p, listed.text)
        assert sorted(a["id"] for a in listed.json()["items"]) == expected, p
        assert client.get("/v1/assessments/count", headers=auth).json()["count"] == len(expected)
        for m in marked:
            got = client.get(f"/v1/assessments/{m.id}", headers=auth)
            assert got.status_code == (200 if sees(p, m) else 404), (p, m)
        # Notices: the inbox list, count, each get, export.
        mine = sorted(i for i, org in reader.items() if org == p.org_id)
        inbox = client.get("/v1/notices", params={"limit": 500}, headers=auth)
        assert inbox.status_code == 200
        outcome_ids = sorted(n["id"] for n in inbox.json()["items"] if n["id"] in reader)
        assert outcome_ids == mine, p
        assert set(mine) <= {n["id"] for n in inbox.json()["items"]}
        for i in reader:
            got = client.get(f"/v1/notices/{i}", headers=auth)
            assert got.status_code == (200 if i in mine else 404), (p, i)
            if got.status_code == 200:
                for report in got.json()["evidence"].get("xarf", []):
                    assert "evidence" not in report
        if p.can("notice:export"):
            lines = client.get("/v1/notices/export", headers=auth).text.splitlines()
            exported = {int(json.loads(x)["id"]) for x in lines}
            assert exported & set(reader) == set(mine), p
        # Statistics: every member; no per-network rows for addressee-only partners.
        stats = client.get("/v1/stats/outcomes", headers=auth)
        assert stats.status_code == 200
        assert ("by_network" in stats.json()["time_to_removal"]) is (
            p.org_type not in ADDRESSEE_ONLY
        )
        # The block list: every member reads; only a coordinator's admin publishes.
        publishes = p.org_type is OrgType.COORDINATOR and p.role is Role.ADMIN
        published = client.post("/v1/blocklist/publish", headers=auth)
        assert published.status_code == (200 if publishes else 403), p
        assert client.get("/v1/blocklist", headers=auth).status_code in (200, 404)
        checked += 1
    assert checked == len(principals)
    assert client.get("/v1/blocklist").status_code == 401
