"""Sharing groups: an AMBER report shared with a group is readable by its members only."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from cordon.clock import FrozenClock
from cordon.keys import Keys
from cordon.store.db import write
from support import make_member, token_for


def test_an_amber_report_shared_with_a_group_reaches_its_members_only(
    client: TestClient, engine: Engine, clock: FrozenClock, keys: Keys
) -> None:
    with write(engine) as conn:
        owner = make_member(conn, clock, org_type="hotline", role="admin")
        inside = make_member(conn, clock, org_type="law_enforcement")
        outside = make_member(conn, clock, org_type="law_enforcement")
        tokens = {p.user_id: token_for(conn, clock, keys, p) for p in (owner, inside, outside)}

    def h(p: object) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[p.user_id]}"}  # type: ignore[attr-defined]

    made = client.post(
        "/v1/sharing-groups",
        json={"name": "Partners", "member_org_ids": [inside.org_id]},
        headers=h(owner),
    )
    assert made.status_code == 201, made.text
    group = made.json()
    assert group["member_org_ids"] == [inside.org_id]
    again = client.post("/v1/sharing-groups", json={"name": "Partners"}, headers=h(owner))
    assert again.status_code == 422
    bad = client.post(
        f"/v1/sharing-groups/{group['id']}/members", json={"org_id": 999999}, headers=h(owner)
    )
    assert bad.status_code == 422
    foreign = client.post(
        f"/v1/sharing-groups/{group['id']}/members",
        json={"org_id": outside.org_id},
        headers=h(outside),
    )
    assert foreign.status_code in (403, 404)  # not an admin, and not the group's owner

    from cordon.audit.log import Actor
    from cordon.domain.tlp import Tlp
    from cordon.reports import repo as reports
    from cordon.reports.model import ReportIn
    from cordon.store import access

    with write(engine) as conn:
        done = reports.submit(
            conn,
            clock,
            owner,
            Actor.of(owner, source="cli"),
            ReportIn(urls=["https://g.example.test/"], tlp=Tlp.AMBER),
            channel="cli",
        )
        access.set_sharing(conn, reports.KIND, done.report.id, group_ids=[group["id"]])
    rid = done.report.id
    assert client.get(f"/v1/reports/{rid}", headers=h(inside)).status_code == 200
    assert client.get(f"/v1/reports/{rid}", headers=h(outside)).status_code == 404
    listed = client.get("/v1/sharing-groups", headers=h(owner)).json()["items"]
    assert [g["name"] for g in listed] == ["Partners"]
