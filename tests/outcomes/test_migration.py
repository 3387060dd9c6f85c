"""The 0010 migration creates exactly the tables of cordon.store.tables_outcomes and the notice
columns and states they add; existing notices keep their rows through it."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from cordon.store import tables_outcomes
from cordon.store.tables import metadata

MINE = {t.name for t in metadata.sorted_tables if t.name in dir(tables_outcomes)} | {"notice"}


def _table_of(diff: object) -> str | None:
    item = diff[0] if isinstance(diff, list) else diff
    assert isinstance(item, tuple)
    for part in item[1:]:
        name = getattr(part, "name", None)
        table = getattr(part, "table", None)
        if table is not None and getattr(table, "name", None):
            return str(table.name)
        if isinstance(part, str) and part in MINE:
            return part
        if name in MINE:
            return str(name)
    return None


def test_the_outcome_tables_match_their_migration(engine: Engine) -> None:
    assert {"assessment", "notice_item", "blocklist_version", "verify_plan"} <= MINE
    assert set(inspect(engine).get_table_names()) >= MINE
    with engine.connect() as conn:
        diffs = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), metadata
        )
    assert [d for d in diffs if _table_of(d) in MINE] == []
    columns = {c["name"]: c for c in inspect(engine).get_columns("notice")}
    assert columns["recipient_org_id"]["nullable"]
    assert {"recipient_address", "recipient_name"} <= set(columns)


def test_the_notice_state_check_takes_the_takedown_states_and_no_others(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO organisation (id, name, type, country, active, created_at) "
                "VALUES (901, 'o', 'hotline', 'NL', true, '2026-01-01 00:00:00')"
            )
        )
    insert = (
        "INSERT INTO notice (kind, recipient_address, subject_kind, subject_id, state, title,"
        " body, payload, created_at, opened_at, first_sent_at, last_sent_at, rounds, repeats,"
        " reopened) VALUES ('host_takedown', 'abuse@h.test', 'batch', :n, :state, 't', 'b',"
        " '{}', :at, :at, :at, :at, 1, 0, 0)"
    )
    for n, state in enumerate(("draft", "acknowledged", "actioned", "verified", "reappeared")):
        with engine.begin() as conn:
            conn.execute(text(insert), {"n": n, "state": state, "at": "2026-01-01 00:00:00"})
    for bad in ("bogus", None):
        try:
            with engine.begin() as conn:
                conn.execute(text(insert), {"n": 99, "state": bad, "at": "2026-01-01 00:00:00"})
        except DBAPIError:
            continue
        raise AssertionError(f"state {bad!r} was accepted")
    try:
        with engine.begin() as conn:
            conn.execute(
                text(insert.replace("'abuse@h.test'", "NULL")),
                {"n": 100, "state": "sent", "at": "2026-01-01 00:00:00"},
            )
    except DBAPIError:
        pass
    else:
        raise AssertionError("a notice without any recipient was accepted")
