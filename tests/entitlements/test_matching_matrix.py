"""Sightings and matches in the entitlement matrix: organisation types × roles × TLP × every read
path (sighting get, list, count; match get, list, count; a sighting's embedded matches; the
banks a match call shows).

A capture's sighting is read through its capture (who may read every report it derives from);
a match call's sighting is a shared record of the caller's organisation under the caller's
marking; a match may be read by who may read both its sighting and its bank. The oracle below
restates that from DESIGN.md, independently of the policy module.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from cordon.audit.log import Actor
from cordon.banks import model as banks_model
from cordon.banks import repo as banks
from cordon.clock import FrozenClock
from cordon.config import Settings
from cordon.domain.partners import OrgType, Principal, Role
from cordon.domain.tlp import Tlp
from cordon.keys import Keys
from cordon.matching.flows import match_for_member
from cordon.matching.model import Query
from cordon.matching.service import Matcher
from cordon.matching.stage import MatchStage
from cordon.pipeline.runner import StageContext, run_until_idle
from cordon.signals.hashing import hash_picture
from cordon.signals.synthetic import encode, photo_like
from cordon.store.db import read, write
from cordon.store.tables_matching import sighting, sighting_match
from matching.captures import store_capture
from support import make_member, token_for

ADDRESSEE_ONLY = {OrgType.PAYMENT_PROVIDER, OrgType.HOSTING_PROVIDER, OrgType.ISP}


@dataclass(frozen=True)
class Marked:
    """A shared record as the oracle sees it."""

    tlp: Tlp
    owner_org: int
    shared_orgs: frozenset[int] = frozenset()
    named_users: frozenset[int] = frozenset()


def may_read(p: Principal, r: Marked) -> bool:
    """DESIGN.md's rules for one record."""
    if r.tlp is Tlp.RED:
        return p.user_id in r.named_users
    if p.org_type in ADDRESSEE_ONLY:
        return p.org_id == r.owner_org
    if r.tlp in (Tlp.CLEAR, Tlp.GREEN):
        return True
    if r.tlp is Tlp.AMBER:
        return p.org_id == r.owner_org or p.org_id in r.shared_orgs
    return p.org_id == r.owner_org


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_sightings_and_matches_entitlement_matrix(
    client: TestClient, engine: Engine, clock: FrozenClock, keys: Keys, settings: Settings
) -> None:
    picture = encode(photo_like(777, 320, 240))
    pdq = hash_picture(picture).pdq.hex
    principals: list[Principal] = []
    tokens: dict[int, str] = {}
    sightings: dict[int, Marked] = {}  # sighting id -> its marking (through its input)
    bank_marks: dict[int, Marked] = {}
    with write(engine) as conn:
        reporter = make_member(conn, clock, org_type="hotline", country="NL")
        searcher = make_member(conn, clock, org_type="law_enforcement", country="BE")
        bank_owner = make_member(conn, clock, org_type="technology", country="US")
        share_target = make_member(conn, clock, org_type="law_enforcement", country="DE")
        named = make_member(conn, clock, org_type="hotline", country="FR")
        named_isp = make_member(conn, clock, org_type="isp", country="GB")
        principals += [reporter, searcher, bank_owner, share_target, named, named_isp]
        for org_type in OrgType:
            for role in Role:
                principals.append(
                    make_member(conn, clock, org_type=org_type.value, role=role.value)
                )
        for p in principals:
            tokens[p.user_id] = token_for(conn, clock, keys, p)
        actor = Actor.of(bank_owner, source="cli")
        for tlp in Tlp:
            spec = banks_model.BankIn(
                name=f"BANK_{tlp.name}",
                tlp=tlp,
                share_with=[share_target.org_id] if tlp is Tlp.AMBER else [],
                red_users=[named.user_id, named_isp.user_id] if tlp is Tlp.RED else [],
            )
            made = banks.create_bank(conn, clock, bank_owner, actor, spec)
            banks.add_entries(
                conn,
                clock,
                bank_owner,
                actor,
                made.name,
                [banks_model.EntryIn(signal_type="pdq", signal=pdq)],
            )
            bank_marks[made.id] = Marked(
                tlp,
                bank_owner.org_id,
                frozenset([share_target.org_id]) if tlp is Tlp.AMBER else frozenset(),
                frozenset([bank_owner.user_id, named.user_id, named_isp.user_id])
                if tlp is Tlp.RED
                else frozenset(),
            )
        # Captures of reported pages showing the picture, one per marking of their report.
        capture_marks: dict[int, Marked] = {}
        for tlp in Tlp:
            capture_id = store_capture(
                conn,
                clock,
                settings,
                reporter,
                f"https://{tlp.name.lower().replace('_', '-')}.sightings.test/",
                [(f"https://{tlp.name.lower().replace('_', '-')}.sightings.test/p.jpg", picture)],
                tlp=tlp,
            )
            capture_marks[capture_id] = Marked(
                tlp,
                reporter.org_id,
                named_users=frozenset([reporter.user_id]) if tlp is Tlp.RED else frozenset(),
            )
        # Match calls by the searcher, one per marking.
        matcher = Matcher(clock)
        for tlp in Tlp:
            ids, _ = match_for_member(
                conn,
                matcher,
                clock,
                Actor.of(searcher, source="api"),
                settings,
                searcher,
                [Query("pdq", pdq, 90)],
                tlp,
            )
            sightings[ids[0]] = Marked(
                tlp,
                searcher.org_id,
                named_users=frozenset([searcher.user_id]) if tlp is Tlp.RED else frozenset(),
            )
    run_until_idle(engine, [MatchStage(matcher)], StageContext(clock=clock, settings=settings))
    with read(engine) as conn:
        for row in conn.execute(select(sighting.c.id, sighting.c.capture_id)).all():
            if row.capture_id is not None:
                sightings[int(row.id)] = capture_marks[int(row.capture_id)]
        matches = {
            int(r.id): (int(r.sighting_id), int(r.bank_id))
            for r in conn.execute(select(sighting_match)).all()
        }
    assert len(sightings) == 5 + 5 * 3  # capture pictures give pdq, md5 and sha256 sightings
    assert len(matches) == 10 * 5  # every PDQ sighting matches every bank

    problems: list[str] = []
    cells = 0
    for p in principals:
        h = _h(tokens[p.user_id])
        want_s = {s for s, m in sightings.items() if may_read(p, m)}
        want_m = {
            mid
            for mid, (sid, bid) in matches.items()
            if sid in want_s and may_read(p, bank_marks[bid])
        }
        got: dict[str, set[int]] = {k: set() for k in ("s_get", "m_get", "embedded")}
        for sid in sightings:
            r = client.get(f"/v1/match-sightings/{sid}", headers=h)
            assert r.status_code in (200, 404), r.text
            if r.status_code == 200:
                got["s_get"].add(sid)
                got["embedded"] |= {m["id"] for m in r.json()["matches"]}
            else:
                assert r.json()["detail"] == f"no sighting with id {sid}"
        for mid in matches:
            r = client.get(f"/v1/matches/{mid}", headers=h)
            assert r.status_code in (200, 404), r.text
            if r.status_code == 200:
                got["m_get"].add(mid)
        got["s_list"] = {
            i["id"]
            for i in client.get("/v1/match-sightings", params={"limit": 500}, headers=h).json()[
                "items"
            ]
        }
        got["m_list"] = {
            i["id"]
            for i in client.get("/v1/matches", params={"limit": 500}, headers=h).json()["items"]
        }
        s_count = client.get("/v1/match-sightings/count", headers=h).json()["count"]
        m_count = client.get("/v1/matches/count", headers=h).json()["count"]
        for path, want in (
            ("s_get", want_s),
            ("s_list", want_s),
            ("m_get", want_m),
            ("m_list", want_m),
            ("embedded", want_m),
        ):
            cells += len(sightings) if path.startswith("s_") else len(matches)
            for rid in sorted(got[path] - want):
                problems.append(f"LEAK {p.org_type}/{p.role} {path}: {rid}")
            for rid in sorted(want - got[path]):
                problems.append(f"MISS {p.org_type}/{p.role} {path}: {rid}")
        cells += 2
        if s_count != len(want_s):
            problems.append(f"{p.org_type}/{p.role} sighting count: {s_count} != {len(want_s)}")
        if m_count != len(want_m):
            problems.append(f"{p.org_type}/{p.role} match count: {m_count} != {len(want_m)}")
        # A match call shows only the banks the caller may read.
        if p.can("match:query"):
            r = client.post(
                "/v1/match",
                json={"signals": [{"signal_type": "pdq", "signal": pdq}], "tlp": "AMBER+STRICT"},
                headers=h,
            )
            assert r.status_code == 200, r.text
            shown = {m["bank_id"] for m in r.json()["results"][0]["matches"]}
            want_banks = {b for b, m in bank_marks.items() if may_read(p, m)}
            cells += len(bank_marks)
            if shown != want_banks:
                problems.append(f"{p.org_type}/{p.role} match call banks: {shown} != {want_banks}")
        else:
            r = client.post(
                "/v1/match", json={"signals": [{"signal_type": "pdq", "signal": pdq}]}, headers=h
            )
            assert r.status_code == 403
    print(
        f"entitlement matrix (sightings, matches): {len(principals)} principals, {cells} cells, "
        f"{len(problems)} problems"
    )
    assert not problems, "\n".join(problems)
