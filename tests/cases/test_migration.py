"""The cases migration creates exactly the tables of ``cordon.store.tables_cases``."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from cordon.store import tables_cases
from cordon.store.tables import metadata

MINE = {t.name for t in tables_cases.metadata.sorted_tables if t.name in tables_cases.__all__}


def test_migration_matches_the_tables(engine: Engine) -> None:
    assert {
        "case_file",
        "case_participant",
        "case_note",
        "case_subject",
        "deconfliction_hit",
    } == MINE
    with engine.connect() as conn:
        diffs = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), metadata
        )
    ours = [d for d in diffs if MINE & {getattr(x, "name", None) for x in _tables(d)}]
    assert ours == []


def _tables(diff: object) -> list[object]:
    items = diff if isinstance(diff, list) else [diff]
    out: list[object] = []
    for item in items:
        for part in item if isinstance(item, tuple) else (item,):
            table = getattr(part, "table", part)
            out.append(table)
    return out
