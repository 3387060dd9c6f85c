"""The 0002_attribution migration creates exactly the tables declared in cordon.store.tables."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from cordon.store.tables import metadata

OURS = {"attribution", "attribution_hop", "jurisdiction_coverage", "jurisdiction_route"}


def _table_of(diff: object) -> str | None:
    for item in diff if isinstance(diff, list) else [diff]:
        for part in item if isinstance(item, tuple) else (item,):
            name = getattr(part, "name", None)
            table = getattr(part, "table", None)
            if table is not None and getattr(table, "name", None) in OURS:
                return str(table.name)
            if name in OURS:
                return str(name)
    return None


def test_the_migration_matches_the_table_definitions(engine: Engine) -> None:
    assert set(inspect(engine).get_table_names()) >= OURS
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = [d for d in compare_metadata(context, metadata) if _table_of(d)]
    assert differences == []
