"""What the console stores, on both backends: sessions end on logout, expiry, a new password or a
deactivated member; members and pipeline progress are read as they are."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, update

from cordon.clock import FrozenClock
from cordon.domain.tlp import Tlp
from cordon.keys import Keys
from cordon.partners import repo as partners
from cordon.pipeline import repo as work
from cordon.reports import repo as reports
from cordon.reports.model import ReportIn
from cordon.store.db import read, write
from cordon.store.tables import app_user, organisation
from cordon.web import repo
from support import CLI_ACTOR, make_member

HOURS_8 = timedelta(hours=8)


def _open(engine: Engine, clock: FrozenClock, keys: Keys, user_id: int, org_id: int) -> str:
    with write(engine) as conn:
        secret, _ = repo.start_session(
            conn,
            clock,
            CLI_ACTOR,
            keys.session_key,
            user_id=user_id,
            org_id=org_id,
            lifetime=HOURS_8,
        )
    return secret


def _resolves(engine: Engine, clock: FrozenClock, keys: Keys, secret: str) -> bool:
    with read(engine) as conn:
        return repo.resolve_session(conn, clock, keys.session_key, secret) is not None


def test_a_session_opens_for_its_member_and_ends_on_logout(
    engine: Engine, clock: FrozenClock, keys: Keys
) -> None:
    with write(engine) as conn:
        member = make_member(conn, clock, org_type="hotline")
    secret = _open(engine, clock, keys, member.user_id, member.org_id)
    with read(engine) as conn:
        found = repo.resolve_session(conn, clock, keys.session_key, secret)
    assert found is not None
    session, principal = found
    assert (principal.user_id, principal.org_id, principal.source) == (
        member.user_id,
        member.org_id,
        "ui",
    )
    assert not _resolves(engine, clock, keys, secret + "x")
    assert not _resolves(engine, clock, keys, "")
    with write(engine) as conn:
        repo.end_session(conn, clock, CLI_ACTOR, session.id)
    assert not _resolves(engine, clock, keys, secret)


def test_a_session_ends_with_its_lifetime_a_new_password_or_a_deactivation(
    engine: Engine, clock: FrozenClock, keys: Keys
) -> None:
    with write(engine) as conn:
        member = make_member(conn, clock, org_type="hotline")
    expiring = _open(engine, clock, keys, member.user_id, member.org_id)
    clock.advance(HOURS_8)
    assert not _resolves(engine, clock, keys, expiring)

    before_password = _open(engine, clock, keys, member.user_id, member.org_id)
    with write(engine) as conn:
        partners.set_password(conn, clock, CLI_ACTOR, member.user_id, "a-long-new-password")
    assert not _resolves(engine, clock, keys, before_password)

    user_gone = _open(engine, clock, keys, member.user_id, member.org_id)
    with write(engine) as conn:
        conn.execute(update(app_user).where(app_user.c.id == member.user_id).values(active=False))
    assert not _resolves(engine, clock, keys, user_gone)
    with write(engine) as conn:
        conn.execute(update(app_user).where(app_user.c.id == member.user_id).values(active=True))
        conn.execute(
            update(organisation).where(organisation.c.id == member.org_id).values(active=False)
        )
    assert not _resolves(engine, clock, keys, user_gone)


def test_ending_all_sessions_of_a_user_and_switching_organisation(
    engine: Engine, clock: FrozenClock, keys: Keys
) -> None:
    with write(engine) as conn:
        member = make_member(conn, clock, org_type="hotline")
        other = make_member(conn, clock, org_type="ngo")
        stranger = make_member(conn, clock, org_type="isp")
        partners.add_membership(conn, clock, CLI_ACTOR, member.user_id, other.org_id, "viewer")
    first = _open(engine, clock, keys, member.user_id, member.org_id)
    second = _open(engine, clock, keys, member.user_id, member.org_id)
    with read(engine) as conn:
        found = repo.resolve_session(conn, clock, keys.session_key, first)
    assert found is not None
    with write(engine) as conn:
        repo.switch_organisation(conn, clock, CLI_ACTOR, found[0], other.org_id)
    with read(engine) as conn:
        switched = repo.resolve_session(conn, clock, keys.session_key, first)
    assert switched is not None
    assert switched[1].org_id == other.org_id
    with pytest.raises(partners.NotFound), write(engine) as conn:
        repo.switch_organisation(conn, clock, CLI_ACTOR, found[0], stranger.org_id)
    with write(engine) as conn:
        assert repo.end_user_sessions(conn, clock, CLI_ACTOR, member.user_id) == 2
    assert not _resolves(engine, clock, keys, first)
    assert not _resolves(engine, clock, keys, second)


def test_members_and_pipeline_progress_are_read_as_stored(
    engine: Engine, clock: FrozenClock
) -> None:
    with write(engine) as conn:
        member = make_member(conn, clock, org_type="hotline", role="admin")
        done = reports.submit(
            conn,
            clock,
            member,
            CLI_ACTOR,
            ReportIn(urls=["http://a.progress.test/", "http://b.progress.test/"], tlp=Tlp.GREEN),
            channel="api",
        )
        first_url = done.report.urls[0].id
        work.enqueue(conn, clock.now(), "attribute", "url", [first_url])
    with read(engine) as conn:
        members = repo.members_of(conn, member.org_id)
        progress = repo.url_progress(conn, [u.id for u in done.report.urls])
    assert [(m.user_id, m.role.value, m.has_password) for m in members] == [
        (member.user_id, "admin", False)
    ]
    assert [(p.stage, p.state) for p in progress[first_url]] == [
        ("crawl", "pending"),
        ("attribute", "pending"),
    ]
    assert [p.stage for p in progress[done.report.urls[1].id]] == ["crawl"]
