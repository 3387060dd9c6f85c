"""Cases and deconfliction, on both backends: the lifecycle and its audit purpose, who is told
of an overlap and how often, what the marking lets each side learn, networks expanded through
the graph, and bad input changing nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, func, select

from cases.data import IBAN, WALLET, make_network
from cordon.audit.log import Actor, list_events
from cordon.cases import deconfliction, repo
from cordon.cases.repo import CaseIn
from cordon.clock import FrozenClock
from cordon.domain.partners import Principal
from cordon.domain.tlp import Tlp
from cordon.notices import repo as notices
from cordon.notices.policy import NoticePolicy
from cordon.store.tables import audit_event
from cordon.store.tables_cases import case_file, deconfliction_hit
from support import make_member

POLICY = NoticePolicy()


def _open(
    conn: Connection,
    clock: FrozenClock,
    who: Principal,
    subjects: list[str],
    *,
    tlp: Tlp = Tlp.AMBER,
    title: str | None = None,
) -> tuple[repo.Case, list[deconfliction.Hit]]:
    actor = Actor.of(who, source="api")
    d = deconfliction.Deconflictor(clock, actor, POLICY)
    case = repo.open_case(
        conn,
        clock,
        who,
        actor,
        CaseIn(title=title or f"case of {who.org_id}", tlp=tlp, subjects=subjects),
        deconflict=d,
    )
    return case, d.hits


def _inbox(conn: Connection, org_id: int) -> list[notices.Notice]:
    return [
        n
        for n in notices.notices_about(
            conn,
            "deconfliction_hit",
            list(conn.execute(select(deconfliction_hit.c.id)).scalars()),
        )
        if n.recipient_org_id == org_id
    ]


def test_case_lifecycle_is_audited_with_the_case_as_purpose(
    conn: Connection, clock: FrozenClock
) -> None:
    police = make_member(conn, clock, org_type="law_enforcement")
    partner = make_member(conn, clock, org_type="hotline")
    actor = Actor.of(police, source="api")
    case, _ = _open(conn, clock, police, ["domain:Shop.Alpha.TEST", f"btc:{WALLET}"])
    assert case.status == "open"
    assert {(s.kind, s.key) for s in repo.subjects_of(conn, case.id)} == {
        ("domain", "alpha.test"),
        ("crypto_address", f"btc:{WALLET}"),
    }
    repo.add_participant(conn, clock, police, actor, case.id, partner.org_id)
    note = repo.add_note(
        conn, clock, partner, Actor.of(partner, source="api"), case.id, "seen it too"
    )
    assert note.author_org_id == partner.org_id
    assert repo.get(conn, clock, partner, Actor.of(partner, source="api"), case.id).id == case.id
    repo.update_case(conn, clock, police, actor, case.id, status="suspended")
    closed = repo.update_case(conn, clock, police, actor, case.id, status="closed")
    assert closed.status == "closed"
    assert closed.closed_at == clock.now()
    # A participant reads and notes, but does not manage.
    with pytest.raises(repo.Forbidden):
        repo.update_case(
            conn, clock, partner, Actor.of(partner, source="api"), case.id, status="open"
        )
    events = [e for e in list_events(conn, action_prefix="api:case:", limit=50)]
    actions = {e.action for e in events}
    assert {
        "api:case:open",
        "api:case:participant_add",
        "api:case:note_add",
        "api:case:read",
        "api:case:update",
    } <= actions
    for e in events:
        assert e.purpose == f"case:{case.id}", e.action
        assert e.details["purpose"] == f"case:{case.id}", e.action
        assert e.object_ids == [case.id]


def test_a_hidden_case_is_answered_as_missing(conn: Connection, clock: FrozenClock) -> None:
    police = make_member(conn, clock, org_type="law_enforcement")
    other = make_member(conn, clock, org_type="hotline")
    case, _ = _open(conn, clock, police, ["domain:hidden.test"], tlp=Tlp.AMBER_STRICT)
    with pytest.raises(repo.NotFound, match=f"no case with id {case.id}"):
        repo.get(conn, clock, other, Actor.of(other, source="api"), case.id)
    with pytest.raises(repo.NotFound, match="no case with id 999999"):
        repo.get(conn, clock, other, Actor.of(other, source="api"), 999_999)


def test_overlapping_cases_notify_both_once_and_a_third_adds_only_new_pairs(
    conn: Connection, clock: FrozenClock
) -> None:
    a = make_member(conn, clock, org_type="law_enforcement")
    b = make_member(conn, clock, org_type="hotline")
    c = make_member(conn, clock, org_type="law_enforcement", country="DE")
    case_a, hits = _open(conn, clock, a, [f"btc:{WALLET}", "domain:alpha.test"])
    assert hits == []
    case_b, hits = _open(conn, clock, b, ["https://shop.alpha.test/buy?x=1", f"iban:{IBAN}"])
    # B's URL stands for its site: one hit on the domain, both told once.
    assert len(hits) == 1
    assert hits[0].entities == [("domain", "alpha.test")]
    assert len(_inbox(conn, a.org_id)) == 1
    assert len(_inbox(conn, b.org_id)) == 1
    # The same entity again changes nothing; a new shared entity is a new hit for the pair.
    actor_b = Actor.of(b, source="api")
    d = deconfliction.Deconflictor(clock, actor_b, POLICY)
    repo.add_subjects(conn, clock, b, actor_b, case_b.id, ["domain:alpha.test"], deconflict=d)
    assert d.hits == []
    repo.add_subjects(conn, clock, b, actor_b, case_b.id, [WALLET], deconflict=d)
    assert [h.entities for h in d.hits] == [[("crypto_address", f"btc:{WALLET}")]]
    assert len(_inbox(conn, a.org_id)) == 2
    assert deconfliction.check_case(conn, clock, actor_b, POLICY, case_b.id) == []
    # A third case touching both: the two new pairs only.
    case_c, hits = _open(conn, clock, c, [f"btc:{WALLET}"])
    pairs = sorted((h.case_a_id, h.case_b_id) for h in hits)
    assert pairs == sorted([(case_a.id, case_c.id), (case_b.id, case_c.id)])
    assert len(_inbox(conn, a.org_id)) == 3
    assert len(_inbox(conn, b.org_id)) == 3
    assert len(_inbox(conn, c.org_id)) == 2
    total = conn.execute(select(func.count()).select_from(deconfliction_hit)).scalar_one()
    assert total == 4


def test_same_organisation_and_closed_cases_raise_no_hit(
    conn: Connection, clock: FrozenClock
) -> None:
    a = make_member(conn, clock, org_type="law_enforcement")
    a2 = make_member(conn, clock, org_type="hotline")
    first, _ = _open(conn, clock, a, ["domain:same.test"])
    _, hits = _open(conn, clock, a, ["domain:same.test"])
    assert hits == []
    repo.update_case(conn, clock, a, Actor.of(a, source="api"), first.id, status="closed")
    actor = Actor.of(a2, source="api")
    d = deconfliction.Deconflictor(clock, actor, POLICY)
    # Only a's second (open) case overlaps.
    repo.open_case(
        conn, clock, a2, actor, CaseIn(title="x", subjects=["domain:same.test"]), deconflict=d
    )
    assert len(d.hits) == 1
    assert first.id not in (d.hits[0].case_a_id, d.hits[0].case_b_id)
    # Reopening the closed case deconflicts it again.
    d2 = deconfliction.Deconflictor(clock, Actor.of(a, source="api"), POLICY)
    repo.update_case(
        conn, clock, a, Actor.of(a, source="api"), first.id, status="open", deconflict=d2
    )
    assert len(d2.hits) == 1


def test_the_marking_limits_what_each_side_learns(conn: Connection, clock: FrozenClock) -> None:
    police = make_member(conn, clock, org_type="law_enforcement")
    hotline = make_member(conn, clock, org_type="hotline")
    strict, _ = _open(
        conn, clock, police, ["domain:beta.test"], tlp=Tlp.AMBER_STRICT, title="Operation Secret"
    )
    green, hits = _open(
        conn, clock, hotline, ["domain:beta.test"], tlp=Tlp.GREEN, title="Hotline triage"
    )
    assert len(hits) == 1
    to_police = _inbox(conn, police.org_id)[0].payload["deconfliction"]
    to_hotline = _inbox(conn, hotline.org_id)[0].payload["deconfliction"]
    # The police learn the hotline's GREEN case; the hotline learns whom to contact only.
    assert to_police["other_case"]["title"] == "Hotline triage"
    assert to_police["contact"]["org_id"] == hotline.org_id
    assert to_hotline["other_case"] is None
    assert to_hotline["contact"]["org_id"] == police.org_id
    assert to_hotline["contact"]["contact"] == strict.contact
    assert "Operation Secret" not in _inbox(conn, hotline.org_id)[0].body
    assert to_hotline["overlap"]["entities"] == [{"kind": "domain", "key": "beta.test"}]
    # The same through the hit list.
    listed = deconfliction.list_hits(conn, clock, hotline, Actor.of(hotline, source="api"))
    assert [v["other_case"] for v in listed] == [None]
    assert listed[0]["your_case"]["id"] == green.id


def test_a_network_case_meets_its_member_sites_through_merges(
    conn: Connection, clock: FrozenClock
) -> None:
    police = make_member(conn, clock, org_type="law_enforcement")
    hotline = make_member(conn, clock, org_type="hotline")
    survivor = make_network(conn, clock, ["gamma.test", "delta.test"])
    merged = make_network(conn, clock, [], merged_into=survivor, status="merged")
    case, _ = _open(conn, clock, police, [f"network:{merged}"])
    entities = deconfliction.entities_of(conn, [case.id])[case.id]
    assert {e.label() for e in entities} == {
        f"network:{survivor}",
        "domain:gamma.test",
        "domain:delta.test",
    }
    _, hits = _open(conn, clock, hotline, ["https://www.delta.test/shop"])
    assert [h.entities for h in hits] == [[("domain", "delta.test")]]


@pytest.mark.parametrize(
    ("subjects", "message"),
    [
        (["pdq:xyz"], "not a pdq hash"),
        (["network:424242"], "no network with id 424242"),
        (["ftp://x.test/"], "subject 1"),
        (["a" * 64], "could be pdq or sha256"),
        (["domain:ok.test", "bogus:thing"], "subject 2"),
    ],
)
def test_bad_subjects_are_refused_and_change_nothing(
    conn: Connection, clock: FrozenClock, subjects: list[str], message: str
) -> None:
    police = make_member(conn, clock, org_type="law_enforcement")
    before_cases = conn.execute(select(func.count()).select_from(case_file)).scalar_one()
    before_events = conn.execute(select(func.count()).select_from(audit_event)).scalar_one()
    with pytest.raises(repo.CaseError, match=message):
        repo.open_case(
            conn,
            clock,
            police,
            Actor.of(police, source="api"),
            CaseIn(title="t", subjects=subjects),
        )
    assert conn.execute(select(func.count()).select_from(case_file)).scalar_one() == before_cases
    assert conn.execute(select(func.count()).select_from(audit_event)).scalar_one() == before_events


def test_only_investigating_organisations_open_cases(conn: Connection, clock: FrozenClock) -> None:
    for org_type in ("payment_provider", "isp", "technology"):
        p = make_member(conn, clock, org_type=org_type, role="admin")
        with pytest.raises(repo.Forbidden):
            repo.open_case(conn, clock, p, Actor.of(p, source="api"), CaseIn(title="t"))
    viewer = make_member(conn, clock, org_type="law_enforcement", role="viewer")
    with pytest.raises(repo.Forbidden):
        repo.open_case(conn, clock, viewer, Actor.of(viewer, source="api"), CaseIn(title="t"))
