"""The 0006 migration creates exactly the tables of cordon.store.tables_banks."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from cordon.store import tables_banks
from cordon.store.tables import metadata

MINE = {t.name for t in metadata.sorted_tables if t.name in dir(tables_banks)}


def test_the_bank_tables_match_their_migration(engine: Engine) -> None:
    assert {"bank", "bank_entry", "bank_entry_opinion", "bank_head", "bank_change"} <= MINE
    with engine.connect() as conn:
        diffs = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), metadata
        )
    ours = [d for d in diffs if _table_of(d) in MINE]
    assert ours == []


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
