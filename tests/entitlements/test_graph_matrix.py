"""The entity graph and its networks in the entitlement matrix: organisation types × roles × TLP
× every read path (network list, count, get, picture, explain, export, a node's neighbours).

A network is derived from the records that prove its edges; here each network's two sites were
captured from one report (or two) under one marking, so a member sees the network exactly when it
may read every report its captures derive from, and never when its organisation only acts on what
is addressed to it (payment providers, hosts, ISPs). The oracle restates DESIGN.md,
independently of the policy module.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from cordon.audit.log import Actor
from cordon.clock import FrozenClock
from cordon.config import Settings
from cordon.crawl import repo as captures
from cordon.domain.partners import OrgType, Principal, Role
from cordon.domain.tlp import Tlp
from cordon.graph import service
from cordon.keys import Keys
from cordon.reports import repo as reports
from cordon.reports.model import ReportIn
from cordon.store import access
from cordon.store.db import write
from cordon.store.tables import report_url, sharing_group, sharing_group_member
from cordon.store.tables_graph import graph_node, network_member
from graph.helpers import page_result
from support import make_member, token_for

ADDRESSEE_ONLY = {OrgType.PAYMENT_PROVIDER, OrgType.HOSTING_PROVIDER, OrgType.ISP}
PATHS = ("list", "get", "graph", "explain", "export", "neighbours")


@dataclass(frozen=True)
class Input:
    tlp: Tlp
    owner_org: int
    shared_orgs: frozenset[int]
    named_users: frozenset[int]


@dataclass(frozen=True)
class NetworkRecord:
    id: int
    sites: tuple[str, str]
    node_id: int
    inputs: tuple[Input, ...]


def may_read_report(p: Principal, r: Input) -> bool:
    if r.tlp is Tlp.RED:
        return p.user_id in r.named_users
    if p.org_type in ADDRESSEE_ONLY:
        return p.org_id == r.owner_org
    if r.tlp in (Tlp.CLEAR, Tlp.GREEN):
        return True
    if r.tlp is Tlp.AMBER:
        return p.org_id == r.owner_org or p.org_id in r.shared_orgs
    return p.org_id == r.owner_org


def expected(p: Principal, n: NetworkRecord) -> bool:
    """Graph reads are intelligence: never for addressee-only partners; otherwise the network is
    seen when its captures are (every input readable)."""
    if p.org_type in ADDRESSEE_ONLY:
        return False
    return all(may_read_report(p, r) for r in n.inputs)


def _paths(client: TestClient, token: str, records: list[NetworkRecord], p: Principal) -> dict:  # type: ignore[type-arg]
    h = {"Authorization": f"Bearer {token}"}
    got: dict[str, set[int]] = {k: set() for k in PATHS}
    denied = p.org_type in ADDRESSEE_ONLY
    listed = client.get("/v1/networks", params={"status": "all", "limit": 200}, headers=h)
    count = client.get("/v1/networks/count", params={"status": "all"}, headers=h)
    if denied:
        assert listed.status_code == count.status_code == 403
    else:
        assert listed.status_code == 200, listed.text
        got["list"] = {i["id"] for i in listed.json()["items"]}
        got["count"] = set(range(count.json()["count"]))
    for n in records:
        for path, url, params in (
            ("get", f"/v1/networks/{n.id}", {}),
            ("graph", f"/v1/networks/{n.id}/graph", {}),
            ("explain", "/v1/networks/explain", {"a": n.sites[0], "b": n.sites[1]}),
            ("export", f"/v1/networks/{n.id}/export", {}),
            ("neighbours", f"/v1/graph/nodes/{n.node_id}/neighbours", {"hops": 2}),
        ):
            response = client.get(url, params=params, headers=h)
            if denied or (path == "export" and p.role is Role.VIEWER):
                assert response.status_code == 403, (path, response.text)
                continue
            assert response.status_code in (200, 404), (path, response.text)
            if response.status_code == 200:
                got[path].add(n.id)
                if path == "explain":
                    assert response.json()["linked"]
                if path == "get":
                    assert {m["site"] for m in response.json()["members"]} == set(n.sites)
    return got


def test_graph_and_networks_entitlement_matrix(
    client: TestClient, engine: Engine, clock: FrozenClock, keys: Keys, settings: Settings
) -> None:
    principals: list[Principal] = []
    tokens: dict[int, str] = {}
    pending: list[tuple[tuple[str, str], tuple[Input, ...]]] = []
    with write(engine) as conn:
        owner = make_member(conn, clock, org_type="hotline", country="NL")
        other_owner = make_member(conn, clock, org_type="law_enforcement", country="BE")
        share_target = make_member(conn, clock, org_type="law_enforcement", country="DE")
        group_member = make_member(conn, clock, org_type="technology", country="US")
        named = make_member(conn, clock, org_type="law_enforcement", country="FR")
        named_payment = make_member(conn, clock, org_type="payment_provider", country="GB")
        principals += [owner, other_owner, share_target, group_member, named, named_payment]
        for org_type in OrgType:
            for role in Role:
                principals.append(
                    make_member(conn, clock, org_type=org_type.value, role=role.value)
                )
        for p in principals:
            tokens[p.user_id] = token_for(conn, clock, keys, p)
        group_id = conn.execute(
            sharing_group.insert()
            .values(owner_org_id=owner.org_id, name="graph partners", created_at=clock.now())
            .returning(sharing_group.c.id)
        ).scalar_one()
        conn.execute(
            sharing_group_member.insert().values(group_id=group_id, org_id=group_member.org_id)
        )

        def report(p: Principal, url: str, tlp: Tlp, **extra: object) -> tuple[int, Input]:
            body = ReportIn(urls=[url], tlp=tlp, **extra)
            done = reports.submit(conn, clock, p, Actor.of(p, source="cli"), body, channel="cli")
            named_users = frozenset([p.user_id, *body.red_users]) if tlp is Tlp.RED else frozenset()
            return done.report.urls[0].id, Input(
                tlp, p.org_id, frozenset(body.share_with), named_users
            )

        def pair(tag: str, reporters: list[tuple[Principal, Tlp, dict[str, object]]]) -> None:
            """Two sites showing one e-mail, each reported by ``reporters`` and captured."""
            sites = (f"{tag}-one-graph.test", f"{tag}-two-graph.test")
            inputs: list[Input] = []
            for site in sites:
                url = f"https://{site}/"
                url_id = 0
                for p, tlp, extra in reporters:
                    url_id, made = report(p, url, tlp, **extra)
                    inputs.append(made)
                result = page_result(url_id, url, clock, indicators=[("email", f"ops@{tag}.test")])
                captures.store_capture(conn, clock, Actor(source="stage"), result, settings)
            pending.append((sites, tuple(dict.fromkeys(inputs))))

        for tlp in Tlp:
            extra: dict[str, object] = {}
            if tlp is Tlp.AMBER:
                extra["share_with"] = [share_target.org_id]
            if tlp is Tlp.RED:
                extra["red_users"] = [named.user_id, named_payment.user_id]
            pair(tlp.name.lower().replace("+", "-"), [(owner, tlp, extra)])
        # AMBER shared through a sharing group.
        pair("group", [(owner, Tlp.AMBER, {})])
        for url_id in conn.execute(
            select(report_url.c.url_id, report_url.c.report_id).where(
                report_url.c.url_id.in_(
                    select(report_url.c.url_id).order_by(report_url.c.url_id.desc()).limit(2)
                )
            )
        ).all():
            access.set_sharing(conn, reports.KIND, url_id.report_id, group_ids=[group_id])
        sites, inputs = pending[-1]
        with_group = Input(Tlp.AMBER, owner.org_id, frozenset([group_member.org_id]), frozenset())
        pending[-1] = (sites, (with_group,))
        # Two reports of different markings: only the readers of both.
        pair("both", [(other_owner, Tlp.GREEN, {}), (owner, Tlp.AMBER_STRICT, {})])
        # A payment provider's own report: it may read the captures, never the graph.
        pair("pp-own", [(named_payment, Tlp.AMBER, {})])
    service.run_all(engine, clock, Actor(source="cli"), settings.graph)
    records: list[NetworkRecord] = []
    with write(engine) as conn:
        for sites, inputs in pending:
            rows = conn.execute(
                select(network_member.c.network_id, graph_node.c.id)
                .join(graph_node, graph_node.c.id == network_member.c.node_id)
                .where(graph_node.c.key.in_(sites), network_member.c.until.is_(None))
            ).all()
            assert len(rows) == 2
            assert len({r.network_id for r in rows}) == 1
            records.append(NetworkRecord(rows[0].network_id, sites, rows[0].id, inputs))

    problems: list[str] = []
    cells = 0
    for p in principals:
        want = {n.id for n in records if expected(p, n)}
        got = _paths(client, tokens[p.user_id], records, p)
        for path in PATHS:
            cells += len(records)
            if p.org_type in ADDRESSEE_ONLY or (path == "export" and p.role is Role.VIEWER):
                continue
            for nid in sorted(got[path] - want):
                problems.append(f"LEAK {p.org_type}/{p.role} {path}: network {nid}")
            for nid in sorted(want - got[path]):
                problems.append(f"MISS {p.org_type}/{p.role} {path}: network {nid}")
        cells += 1
        if p.org_type not in ADDRESSEE_ONLY and len(got["count"]) != len(want):
            problems.append(f"{p.org_type}/{p.role} count: {len(got['count'])} != {len(want)}")
    print(
        f"entitlement matrix (graph and networks): {len(principals)} principals, {cells} cells, "
        f"{len(problems)} problems"
    )
    assert not problems, "\n".join(problems)
