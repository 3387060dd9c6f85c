"""The entitlement matrix: organisation types × roles × TLP × every read path.

Each record kind joins this matrix in the change that adds it. The expected answer of every cell
comes from an oracle written here from DESIGN.md's rules, independently of the policy module;
any cell where the API shows more (a leak) or less (a miss) fails the test.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from cordon.audit.log import Actor
from cordon.clock import FrozenClock
from cordon.domain.partners import OrgType, Principal, Role
from cordon.domain.tlp import Tlp
from cordon.keys import Keys
from cordon.reports import repo as reports
from cordon.reports.model import ReportIn
from cordon.store import access
from cordon.store.db import write
from cordon.store.tables import sharing_group, sharing_group_member
from support import make_member, token_for

ADDRESSEE_ONLY = {OrgType.PAYMENT_PROVIDER, OrgType.HOSTING_PROVIDER, OrgType.ISP}


@dataclass(frozen=True)
class Record:
    id: int
    tlp: Tlp
    owner_org: int
    shared_orgs: frozenset[int]
    named_users: frozenset[int]


def expected(p: Principal, r: Record) -> bool:
    """DESIGN.md's rules, restated."""
    if r.tlp is Tlp.RED:
        return p.user_id in r.named_users
    if p.org_type in ADDRESSEE_ONLY:
        return p.org_id == r.owner_org
    if r.tlp in (Tlp.CLEAR, Tlp.GREEN):
        return True
    if r.tlp is Tlp.AMBER:
        return p.org_id == r.owner_org or p.org_id in r.shared_orgs
    return p.org_id == r.owner_org  # AMBER+STRICT


def _read_paths(client: TestClient, token: str, all_ids: list[int]) -> dict[str, set[int]]:
    h = {"Authorization": f"Bearer {token}"}
    got = {"get": set(), "list": set(), "export": set(), "count": set()}
    for rid in all_ids:
        response = client.get(f"/v1/reports/{rid}", headers=h)
        assert response.status_code in (200, 404)
        if response.status_code == 200:
            got["get"].add(rid)
        else:
            assert response.json()["detail"] == f"no report with id {rid}"
    listed = client.get("/v1/reports", params={"limit": 500}, headers=h)
    assert listed.status_code == 200
    got["list"] = {item["id"] for item in listed.json()["items"]}
    count = client.get("/v1/reports/count", headers=h).json()["count"]
    exported = client.get("/v1/reports/export", headers=h)
    if exported.status_code == 403:  # viewers may not export: nothing leaks through it
        got["export"] = set()
    else:
        got["export"] = {json.loads(line)["id"] for line in exported.text.splitlines() if line}
    # A count reveals a number, not ids: it must equal the number of records the caller sees.
    got["count"] = set(range(count))
    return got


def test_reports_entitlement_matrix(
    client: TestClient, engine: Engine, clock: FrozenClock, keys: Keys
) -> None:
    principals: list[Principal] = []
    tokens: dict[int, str] = {}
    with write(engine) as conn:
        owner = make_member(conn, clock, org_type="hotline", role="analyst", country="NL")
        share_target = make_member(conn, clock, org_type="law_enforcement", country="DE")
        group_member = make_member(conn, clock, org_type="technology", country="US")
        named = make_member(conn, clock, org_type="law_enforcement", country="FR")
        named_payment = make_member(conn, clock, org_type="payment_provider", country="GB")
        principals += [owner, share_target, group_member, named, named_payment]
        for org_type in OrgType:
            for role in Role:
                principals.append(
                    make_member(conn, clock, org_type=org_type.value, role=role.value)
                )
        for p in principals:
            tokens[p.user_id] = token_for(conn, clock, keys, p)
        group_id = conn.execute(
            sharing_group.insert()
            .values(owner_org_id=owner.org_id, name="tech partners", created_at=clock.now())
            .returning(sharing_group.c.id)
        ).scalar_one()
        conn.execute(
            sharing_group_member.insert().values(group_id=group_id, org_id=group_member.org_id)
        )
        actor = Actor.of(owner, source="cli")
        records: list[Record] = []
        for tlp in Tlp:
            body = ReportIn(
                urls=[f"https://{tlp.name.lower()}.example.test/"],
                tlp=tlp,
                share_with=[share_target.org_id] if tlp is Tlp.AMBER else [],
                red_users=[named.user_id, named_payment.user_id] if tlp is Tlp.RED else [],
            )
            done = reports.submit(conn, clock, owner, actor, body, channel="cli")
            records.append(
                Record(
                    done.report.id,
                    tlp,
                    owner.org_id,
                    frozenset([share_target.org_id]) if tlp is Tlp.AMBER else frozenset(),
                    frozenset([owner.user_id, named.user_id, named_payment.user_id])
                    if tlp is Tlp.RED
                    else frozenset(),
                )
            )
        grouped = reports.submit(
            conn,
            clock,
            owner,
            actor,
            ReportIn(urls=["https://group.example.test/"], tlp=Tlp.AMBER),
            channel="cli",
        )
        access.set_sharing(conn, reports.KIND, grouped.report.id, group_ids=[group_id])
        records.append(
            Record(
                grouped.report.id,
                Tlp.AMBER,
                owner.org_id,
                frozenset([group_member.org_id]),
                frozenset(),
            )
        )
        # A report of a payment provider's own, to show it sees its own submissions.
        own = reports.submit(
            conn,
            clock,
            named_payment,
            Actor.of(named_payment, source="cli"),
            ReportIn(urls=["https://pp.example.test/"], tlp=Tlp.AMBER),
            channel="cli",
        )
        records.append(
            Record(own.report.id, Tlp.AMBER, named_payment.org_id, frozenset(), frozenset())
        )

    all_ids = [r.id for r in records]
    problems: list[str] = []
    cells = 0
    for p in principals:
        want = {r.id for r in records if expected(p, r)}
        got = _read_paths(client, tokens[p.user_id], all_ids)
        for path in ("get", "list", "export"):
            cells += len(records)
            if path == "export" and p.role is Role.VIEWER:
                if got[path]:
                    problems.append(f"{p.org_type}/{p.role} export: viewer exported {got[path]}")
                continue
            leaks, misses = got[path] - want, want - got[path]
            for rid in sorted(leaks):
                tlp = next(r.tlp for r in records if r.id == rid)
                problems.append(f"LEAK {p.org_type}/{p.role} {path}: report {rid} ({tlp})")
            for rid in sorted(misses):
                problems.append(f"MISS {p.org_type}/{p.role} {path}: report {rid}")
        cells += 1
        if len(got["count"]) != len(want):
            problems.append(f"{p.org_type}/{p.role} count: {len(got['count'])} != {len(want)}")
    print(
        f"entitlement matrix (reports): {len(principals)} principals, {cells} cells, "
        f"{len(problems)} problems"
    )
    assert not problems, "\n".join(problems)
