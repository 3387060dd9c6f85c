"""Migrations run unchanged on both backends, and the audit log is append-only in the database."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from cordon.audit import log as audit
from cordon.clock import FrozenClock
from cordon.store.db import write
from cordon.store.migrate import current_revision, head_revision, is_up_to_date, upgrade


def test_fresh_database_is_migrated_to_head(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    assert is_up_to_date(engine)


def test_upgrade_twice_changes_nothing(engine: Engine) -> None:
    upgrade(engine)
    assert current_revision(engine) == head_revision()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sqlite_runs_in_wal_with_full_sync_and_foreign_keys(engine: Engine) -> None:
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_event SET action = 'x:y:z'", "DELETE FROM audit_event"]
)
def test_audit_rows_cannot_be_changed_or_deleted(
    engine: Engine, clock: FrozenClock, statement: str
) -> None:
    with write(engine) as conn:
        audit.record(conn, clock, audit.Actor(source="cli"), "cli:test:write")
    with pytest.raises(DBAPIError, match="append-only"), write(engine) as conn:
        conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_event")).scalar() == 1


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_postgres_refuses_truncate_of_the_audit_log(engine: Engine) -> None:
    with pytest.raises(DBAPIError, match="append-only"), write(engine) as conn:
        conn.execute(text("TRUNCATE audit_event"))
