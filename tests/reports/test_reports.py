"""Reports: normalised URLs kept once, idempotent retries, clear refusals that store nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, func, select

from cordon.audit.log import Actor
from cordon.clock import FrozenClock
from cordon.domain.tlp import Tlp
from cordon.reports import repo as reports
from cordon.reports.model import ReportIn
from cordon.store.tables import audit_event, report, url, work_item
from support import make_member


def _count(conn: Connection, table: object) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_a_report_normalises_urls_and_queues_them(conn: Connection, clock: FrozenClock) -> None:
    member = make_member(conn, clock, org_type="hotline")
    data = ReportIn(urls=["HTTP://Shop.Example.TEST:80/a/./b/../c?z=1&a=2#top"], tlp=Tlp.GREEN)
    done = reports.submit(conn, clock, member, Actor.of(member, source="cli"), data, channel="cli")
    assert done.created
    (u,) = done.report.urls
    assert u.url == "http://shop.example.test/a/c?z=1&a=2"
    assert u.registrable_domain == "example.test"
    queued = conn.execute(select(work_item.c.stage, work_item.c.subject_id)).all()
    assert (reports.FIRST_STAGE, u.id) in [tuple(r) for r in queued]
    actions = conn.execute(select(audit_event.c.action)).scalars().all()
    assert "cli:report:create" in actions


def test_the_same_url_in_two_reports_is_one_url_record(
    conn: Connection, clock: FrozenClock
) -> None:
    a = make_member(conn, clock, org_type="hotline")
    b = make_member(conn, clock, org_type="law_enforcement")
    before = _count(conn, url)
    for member, spelling in ((a, "https://x.example.test/p"), (b, "https://X.example.test:443/p")):
        reports.submit(
            conn,
            clock,
            member,
            Actor.of(member, source="cli"),
            ReportIn(urls=[spelling, spelling], tlp=Tlp.GREEN),
            channel="cli",
        )
    assert _count(conn, url) == before + 1


def test_an_idempotent_retry_returns_the_first_report(conn: Connection, clock: FrozenClock) -> None:
    member = make_member(conn, clock, org_type="hotline")
    actor = Actor.of(member, source="api")
    data = ReportIn(urls=["https://a.example.test/"], tlp=Tlp.AMBER, note="n")
    first = reports.submit(conn, clock, member, actor, data, channel="api", idempotency_key="k-1")
    again = reports.submit(conn, clock, member, actor, data, channel="api", idempotency_key="k-1")
    assert first.created
    assert not again.created
    assert again.report.id == first.report.id
    other = ReportIn(urls=["https://b.example.test/"], tlp=Tlp.AMBER)
    with pytest.raises(reports.IdempotencyConflict):
        reports.submit(conn, clock, member, actor, other, channel="api", idempotency_key="k-1")


def test_idempotency_keys_belong_to_one_organisation(conn: Connection, clock: FrozenClock) -> None:
    a = make_member(conn, clock, org_type="hotline")
    b = make_member(conn, clock, org_type="hotline")
    data = ReportIn(urls=["https://a.example.test/"], tlp=Tlp.GREEN)
    ra = reports.submit(
        conn, clock, a, Actor.of(a, source="api"), data, channel="api", idempotency_key="same"
    )
    rb = reports.submit(
        conn, clock, b, Actor.of(b, source="api"), data, channel="api", idempotency_key="same"
    )
    assert rb.created
    assert ra.report.id != rb.report.id


def test_sharing_fields_must_fit_the_marking(conn: Connection, clock: FrozenClock) -> None:
    member = make_member(conn, clock, org_type="hotline")
    before = _count(conn, report)
    with pytest.raises(reports.ReportError, match="AMBER"):
        reports.submit(
            conn,
            clock,
            member,
            Actor.of(member, source="cli"),
            ReportIn(urls=["https://a.example.test/"], tlp=Tlp.GREEN, share_with=[1]),
            channel="cli",
        )
    with pytest.raises(reports.ReportError, match="no organisation"):
        reports.submit(
            conn,
            clock,
            member,
            Actor.of(member, source="cli"),
            ReportIn(urls=["https://a.example.test/"], tlp=Tlp.AMBER, share_with=[987654]),
            channel="cli",
        )
    # The caller rolls the transaction back on error; nothing of the first refusal was written.
    assert _count(conn, report) <= before + 1


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"urls": ["ftp://a.test/"], "tlp": "GREEN"}, "urls", "scheme 'ftp'"),
        ({"urls": ["https://user:pw@a.test/"], "tlp": "GREEN"}, "urls", "user"),
        ({"urls": [], "tlp": "GREEN"}, "urls", "at least 1"),
        ({"urls": ["https://a.test/"], "tlp": "BLUE"}, "tlp", "unknown TLP"),
        (
            {
                "urls": ["https://a.test/"],
                "tlp": "GREEN",
                "hashes": [{"signal_type": "pdq", "signal": "xyz"}],
            },
            "hashes",
            "not a valid pdq",
        ),
        (
            {
                "urls": ["https://a.test/"],
                "tlp": "GREEN",
                "hashes": [{"signal_type": "sha1", "signal": "ab"}],
            },
            "hashes",
            "unknown signal type",
        ),
        ({"urls": ["https://a.test/"], "tlp": "GREEN", "colour": "red"}, "colour", "Extra"),
    ],
)
def test_bad_input_is_refused_naming_the_field(body: dict, field: str, words: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as info:
        ReportIn.model_validate(body)
    errors = info.value.errors()
    assert any(str(e["loc"][0]) == field and words.lower() in e["msg"].lower() for e in errors), (
        errors
    )
