"""The entitlement matrix of cases: organisation types × roles × TLP × every read path of
cases (get, list, count, subjects, notes, participants), deconfliction hits (list, get, the
inbox), search and screening.

The oracle is written here from DESIGN.md's rules, independently of the policy module: a case
is read by its member organisations (owner and participants) unless it is RED, by every
organisation that browses intelligence when it is CLEAR or GREEN, and by its named users when
it is RED; a deconfliction hit concerns the owners of its two cases only and shows the other
case only to a side that may read it; search shows a record only to whoever may read the report
behind it; screening tells everyone whether an identifier is known, and the records only to
those who may read them.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from cordon.audit.log import Actor
from cordon.cases import deconfliction
from cordon.cases import repo as cases
from cordon.clock import FrozenClock
from cordon.domain.partners import OrgType, Principal, Role
from cordon.domain.payments import synthetic_address
from cordon.domain.permissions import CASE_OPENING_TYPES
from cordon.domain.tlp import Tlp
from cordon.keys import Keys
from cordon.money import sightings
from cordon.notices.policy import NoticePolicy
from cordon.reports import repo as reports
from cordon.reports.model import ReportIn
from cordon.store.db import write
from support import make_member, token_for

ADDRESSEE_ONLY = {OrgType.PAYMENT_PROVIDER, OrgType.HOSTING_PROVIDER, OrgType.ISP}
STAGE = Actor(source="stage")


@dataclass(frozen=True)
class Marked:
    tlp: Tlp
    owner_org: int
    members: frozenset[int]
    named_users: frozenset[int]


def reads_case(p: Principal, c: Marked) -> bool:
    if c.tlp is Tlp.RED:
        return p.user_id in c.named_users
    if p.org_id in c.members:
        return True
    return p.org_type not in ADDRESSEE_ONLY and c.tlp in (Tlp.CLEAR, Tlp.GREEN)


def reads_report(p: Principal, r: Marked) -> bool:
    if r.tlp is Tlp.RED:
        return p.user_id in r.named_users
    if p.org_type in ADDRESSEE_ONLY:
        return p.org_id == r.owner_org
    if r.tlp in (Tlp.CLEAR, Tlp.GREEN):
        return True
    if r.tlp is Tlp.AMBER:
        return p.org_id == r.owner_org or p.org_id in r.members
    return p.org_id == r.owner_org


def test_cases_entitlement_matrix(
    client: TestClient, engine: Engine, clock: FrozenClock, keys: Keys
) -> None:
    principals: list[Principal] = []
    tokens: dict[int, str] = {}
    case_marks: dict[int, Marked] = {}
    # hit id -> (case a, case b)
    hit_cases: dict[int, tuple[int, int]] = {}
    wallets: dict[str, Marked] = {}
    domains: dict[int, str] = {}
    with write(engine) as conn:
        police = make_member(conn, clock, org_type="law_enforcement")
        hotline = make_member(conn, clock, org_type="hotline", country="DE")
        provider = make_member(conn, clock, org_type="payment_provider")
        named = make_member(conn, clock, org_type="law_enforcement", country="FR")
        share_target = make_member(conn, clock, org_type="technology", country="BE")
        principals += [police, hotline, provider, named, share_target]
        for org_type in OrgType:
            for role in Role:
                principals.append(
                    make_member(conn, clock, org_type=org_type.value, role=role.value)
                )
        for p in principals:
            tokens[p.user_id] = token_for(conn, clock, keys, p)
        policy = NoticePolicy()
        for n, tlp in enumerate(Tlp):
            domain = f"shared{n}.test"
            for owner, title in ((police, "police"), (hotline, "hotline")):
                actor = Actor.of(owner, source="cli")
                d = deconfliction.Deconflictor(clock, actor, policy)
                members = [provider.org_id] if owner is police else []
                made = cases.open_case(
                    conn,
                    clock,
                    owner,
                    actor,
                    cases.CaseIn(
                        title=f"{title} {tlp.value}",
                        tlp=tlp,
                        participants=members,
                        subjects=[f"domain:{domain}"],
                        red_users=[named.user_id] if tlp is Tlp.RED else [],
                    ),
                    deconflict=d,
                )
                cases.add_note(conn, clock, owner, actor, made.id, f"note on {made.id}")
                case_marks[made.id] = Marked(
                    tlp,
                    owner.org_id,
                    frozenset([owner.org_id, *members]),
                    frozenset([owner.user_id, named.user_id]) if tlp is Tlp.RED else frozenset(),
                )
                domains[made.id] = domain
                for h in d.hits:
                    hit_cases[h.id] = (h.case_a_id, h.case_b_id)
            # A report of a site with a wallet, marked the same way, for search and screening.
            wallet = synthetic_address("btc", f"matrix-{n}".encode())
            done = reports.submit(
                conn,
                clock,
                hotline,
                Actor.of(hotline, source="cli"),
                ReportIn(
                    urls=[f"https://{tlp.name.lower().replace('_', '-')}.shop{n}.test/pay"],
                    tlp=tlp,
                    share_with=[share_target.org_id] if tlp is Tlp.AMBER else [],
                    red_users=[named.user_id] if tlp is Tlp.RED else [],
                ),
                channel="cli",
            )
            sightings.record_sighting(conn, clock, STAGE, wallet, done.report.urls[0].id)
            wallets[wallet] = Marked(
                tlp,
                hotline.org_id,
                frozenset([share_target.org_id]) if tlp is Tlp.AMBER else frozenset(),
                frozenset([hotline.user_id, named.user_id]) if tlp is Tlp.RED else frozenset(),
            )
    assert len(hit_cases) == len(Tlp)
    case_of_hit_owner = {cid: m.owner_org for cid, m in case_marks.items()}
    unknown_wallet = synthetic_address("btc", b"matrix-unknown")

    problems: list[str] = []
    cells = 0
    walkers = {p.user_id for p in principals[:5]}
    covered = {p.org_type for p in principals[:5]}
    for org_type in OrgType:
        if org_type not in covered:
            walkers.add(next(p.user_id for p in principals[5:] if p.org_type is org_type))

    def check(label: str, kind: str, path: str, got: set[int], want: set[int]) -> None:
        nonlocal cells
        cells += 1
        for rid in sorted(got - want):
            problems.append(f"LEAK {label} {kind} {path}: {rid}")
        for rid in sorted(want - got):
            problems.append(f"MISS {label} {kind} {path}: {rid}")

    for p in principals:
        h = {"Authorization": f"Bearer {tokens[p.user_id]}"}
        label = f"{p.org_type}/{p.role}"
        walks = p.user_id in walkers
        want = {cid for cid, m in case_marks.items() if reads_case(p, m)}

        # Cases: list, count, get and each part.
        listed = client.get("/v1/cases", params={"limit": 500}, headers=h)
        assert listed.status_code == 200, listed.text
        check(label, "case", "list", {c["id"] for c in listed.json()["items"]}, want)
        counted = client.get("/v1/cases/count", headers=h).json()["count"]
        check(label, "case", "count", set(range(counted)), set(range(len(want))))
        if walks:
            for path in ("", "/subjects", "/notes", "/participants"):
                got = set()
                for cid in case_marks:
                    r = client.get(f"/v1/cases/{cid}{path}", headers=h)
                    assert r.status_code in (200, 404), r.text
                    if r.status_code == 200:
                        got.add(cid)
                check(label, "case", f"get{path}", got, want)
            # Writes on a case not one's own: answered as missing or refused, never done.
            for cid in case_marks:
                r = client.post(
                    f"/v1/cases/{cid}/subjects", json={"subjects": ["x.test"]}, headers=h
                )
                mine = case_marks[cid].owner_org == p.org_id and p.can("case:open")
                assert (r.status_code == 200) is mine, f"{label} added to case {cid}: {r.text}"
                if mine:
                    client.delete(
                        f"/v1/cases/{cid}/subjects/"
                        + str(
                            next(
                                s["id"]
                                for s in client.get(f"/v1/cases/{cid}/subjects", headers=h).json()[
                                    "items"
                                ]
                                if s["key"] == "x.test"
                            )
                        ),
                        headers=h,
                    )

        # Deconfliction hits: only the owners of the two cases, each its own side.
        r = client.get("/v1/deconfliction", headers=h)
        if p.org_type in CASE_OPENING_TYPES:
            assert r.status_code == 200, r.text
            views = r.json()["items"]
            want_hits = {
                hid
                for hid, (a, b) in hit_cases.items()
                if p.org_id in (case_of_hit_owner[a], case_of_hit_owner[b])
            }
            check(label, "deconfliction_hit", "list", {v["id"] for v in views}, want_hits)
            for v in views:
                other = next(c for c in hit_cases[v["id"]] if c != v["your_case"]["id"])
                shown = v["other_case"] is not None
                if shown != reads_case(p, case_marks[other]):
                    problems.append(f"{'LEAK' if shown else 'MISS'} {label} hit {v['id']} other")
                for e in v["overlap"]["entities"]:
                    assert e == {"kind": "domain", "key": domains[v["your_case"]["id"]]}
            if walks:
                got = set()
                for hid in hit_cases:
                    g = client.get(f"/v1/deconfliction/{hid}", headers=h)
                    assert g.status_code in (200, 404)
                    if g.status_code == 200:
                        got.add(hid)
                check(label, "deconfliction_hit", "get", got, want_hits)
        else:
            assert r.status_code == 403, f"{label}: {r.status_code}"
        inbox = client.get("/v1/notices", params={"kind": "deconfliction", "limit": 500}, headers=h)
        got_n = {n["subject"]["id"] for n in inbox.json()["items"]}
        want_n = {
            hid
            for hid, (a, b) in hit_cases.items()
            if p.org_id in (case_of_hit_owner[a], case_of_hit_owner[b])
        }
        check(label, "deconfliction_notice", "inbox", got_n, want_n)

        # Search: cases through their subjects, wallets through the reports behind them.
        if walks:
            got = set()
            for domain in set(domains.values()):
                found = client.get("/v1/search", params={"q": domain}, headers=h).json()
                got |= {c["id"] for r_ in found["results"] for c in r_["sources"].get("case", [])}
            check(label, "case", "search", got, want)
            got_w: set[int] = set()
            want_w: set[int] = set()
            for n, (wallet, mark) in enumerate(wallets.items()):
                found = client.get("/v1/search", params={"q": wallet}, headers=h).json()
                if found["found"]:
                    got_w.add(n)
                if reads_report(p, mark):
                    want_w.add(n)
            check(label, "payment_identifier", "search", got_w, want_w)

        # Screening: everyone learns what is known; details only where readable.
        r = client.post("/v1/screen", json={"items": [*wallets, unknown_wallet]}, headers=h)
        assert r.status_code == 200, r.text
        answers = r.json()["items"]
        assert answers[-1]["answer"] == "unknown"
        for (wallet, mark), a in zip(wallets.items(), answers, strict=False):
            cells += 1
            assert a["known"] is True
            expect = "details" if reads_report(p, mark) else "contact"
            if a["answer"] != expect:
                problems.append(f"{label} screen {wallet}: {a['answer']} != {expect}")
            if "network" in str(a).lower() and expect == "contact":
                problems.append(f"LEAK {label} screen {wallet}: network")
    print(
        f"entitlement matrix (cases): {len(principals)} principals, {len(case_marks)} cases, "
        f"{len(hit_cases)} hits, {len(wallets)} wallets, {cells} cells, {len(problems)} problems"
    )
    assert not problems, "\n".join(problems)
