"""Alembic environment: Cordon always hands in a live connection (see cordon.store.migrate)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import cordon.store.tables_banks  # completes the metadata
import cordon.store.tables_cases  # completes the metadata
import cordon.store.tables_crawl  # completes the metadata
import cordon.store.tables_graph  # completes the metadata
import cordon.store.tables_matching  # completes the metadata
import cordon.store.tables_money  # completes the metadata
import cordon.store.tables_outcomes  # completes the metadata
import cordon.store.tables_web  # noqa: F401  # completes the metadata
from cordon.store.tables import metadata

config = context.config


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("migrations run through `cordon db upgrade`, not the alembic command")
    if connection.dialect.name == "postgresql":
        # A migration that waits on a lock must fail fast rather than stall the service.
        connection.exec_driver_sql("SET lock_timeout = '10s'")
        connection.exec_driver_sql("SET statement_timeout = '15min'")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline migrations are not supported")
run_migrations_online()
