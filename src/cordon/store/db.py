"""Engines and transactions.

SQLite (the embedded default) runs in WAL mode with ``synchronous=FULL`` and foreign keys on,
and every writing transaction starts with ``BEGIN IMMEDIATE`` so that there is one writer at a
time and no transaction fails half-way on a lock upgrade. PostgreSQL is used through psycopg 3.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import NullPool, QueuePool

SQLITE_BUSY_TIMEOUT_SECONDS = 60


class DatabaseError(Exception):
    """The database cannot be used as configured; the message says what to do."""


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from the sqlite3 module: SQLAlchemy's "begin" event below
    # emits BEGIN itself, so that writers can ask for IMMEDIATE.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
    cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get("cordon_begin", "IMMEDIATE")
    conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(database_url: str, **kwargs: Any) -> Engine:
    """Create the engine for ``database_url`` with Cordon's connection settings."""
    try:
        url = make_url(database_url)
    except ArgumentError as exc:
        raise DatabaseError(f"database_url {database_url!r} is not a database URL") from exc
    backend = url.get_backend_name()
    if backend == "sqlite":
        # By default no pool: pooled SQLite connections would keep file handles open across
        # fork, and each transaction opens its own connection cheaply. A process that writes
        # many small transactions from a few threads of its own (the crawler) asks for a pool
        # with :func:`pooled`.
        kwargs.setdefault("poolclass", NullPool)
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            **kwargs,
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    if backend == "postgresql":
        if url.drivername != "postgresql+psycopg":
            url = url.set(drivername="postgresql+psycopg")
        kwargs.setdefault("pool_pre_ping", True)
        kwargs.setdefault("pool_size", 10)
        return create_engine(url, **kwargs)
    raise DatabaseError(
        f"database backend {backend!r} is not supported: use sqlite:/// or postgresql+psycopg://"
    )


@contextmanager
def pooled(engine: Engine, size: int = 2) -> Iterator[Engine]:
    """``engine``, or for SQLite a twin of it that keeps up to ``size`` connections open (each
    transaction then skips opening the file and setting it up), closed when the block ends."""
    if engine.dialect.name != "sqlite" or not isinstance(engine.pool, NullPool):
        yield engine
        return
    twin = make_engine(
        engine.url.render_as_string(hide_password=False),
        poolclass=QueuePool,
        pool_size=size,
        max_overflow=size,
    )
    try:
        yield twin
    finally:
        twin.dispose()


@contextmanager
def write(engine: Engine) -> Iterator[Connection]:
    """A writing transaction: commits when the block ends, rolls back on an exception."""
    with engine.connect() as conn, conn.begin():
        yield conn


@contextmanager
def read(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction (on SQLite a deferred one, which does not block writers)."""
    with engine.connect() as raw:
        conn = raw.execution_options(cordon_begin="DEFERRED")
        with conn.begin():
            yield conn


def is_postgres(conn: Connection | Engine) -> bool:
    """True when ``conn`` talks to PostgreSQL."""
    return conn.dialect.name == "postgresql"


def table_names(engine: Engine) -> set[str]:
    """Names of the tables that exist in the database."""
    return set(inspect(engine).get_table_names())
