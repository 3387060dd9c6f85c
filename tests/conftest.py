"""Shared fixtures: both database backends, a frozen clock, keys, partners.

Storage tests run on SQLite and on PostgreSQL (127.0.0.1:5432, user postgres). When PostgreSQL
cannot be reached its tests are skipped with a loud reason, except when ``CI`` is set: then
they fail.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine, text

from cordon.clock import FrozenClock
from cordon.config import Settings, load_settings
from cordon.keys import Keys, init_keys, load_keys
from cordon.store.db import make_engine
from cordon.store.migrate import upgrade

PG_ADMIN_URL = os.environ.get(
    "CORDON_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ["sqlite", "postgres"]
REPO_ROOT = Path(__file__).resolve().parent.parent


def _pg_reachable() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


_PG_PROBLEM: str | bool | None = False


def require_postgres() -> None:
    """Skip (or, under CI, fail) when PostgreSQL cannot be reached."""
    global _PG_PROBLEM
    if _PG_PROBLEM is False:
        _PG_PROBLEM = _pg_reachable()
    if _PG_PROBLEM:
        message = f"PostgreSQL at {PG_ADMIN_URL} cannot be reached ({_PG_PROBLEM})"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI requires it", pytrace=False)
        pytest.skip(f"!!! SKIPPED: {message}")


def _pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def _pg_admin() -> Engine:
    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")


def create_pg_database(template: str | None = None) -> str:
    """Create a throw-away PostgreSQL database (from ``template`` when given); return its URL."""
    name = f"cordon_test_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin()
    with admin.connect() as conn:
        suffix = f" TEMPLATE {template}" if template else ""
        conn.execute(text(f'CREATE DATABASE "{name}"{suffix}'))
    admin.dispose()
    return _pg_url(name)


def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@dataclass
class Template:
    backend: str
    url: str  # a migrated database to copy
    pg_name: str | None = None


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Template]]:
    """Migrated template databases, made once per session per backend (lazily for PG)."""
    made: dict[str, Template] = {}
    folder = tmp_path_factory.mktemp("templates")
    sqlite_path = folder / "template.db"
    engine = make_engine(f"sqlite:///{sqlite_path}")
    upgrade(engine)
    engine.dispose()
    made["sqlite"] = Template("sqlite", f"sqlite:///{sqlite_path}")
    yield made
    for name in ("postgres-shared", "postgres"):
        pg = made.get(name)
        if pg is not None:
            drop_pg_database(pg.url)


def _pg_template(templates: dict[str, Template]) -> Template:
    if "postgres" not in templates:
        url = create_pg_database()
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        templates["postgres"] = Template("postgres", url, pg_name=url.rsplit("/", 1)[1])
    return templates["postgres"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each test using it runs once on SQLite and once on PostgreSQL."""
    if request.param == "postgres":
        require_postgres()
    return str(request.param)


@pytest.fixture
def fresh_db(backend: str, templates: dict[str, Template], tmp_path: Path) -> Iterator[str]:
    """The URL of a new, migrated database of its own (for tests with commits or processes)."""
    if backend == "sqlite":
        path = tmp_path / "cordon.db"
        shutil.copy(templates["sqlite"].url.removeprefix("sqlite:///"), path)
        yield f"sqlite:///{path}"
        return
    tpl = _pg_template(templates)
    url = create_pg_database(template=tpl.pg_name)
    try:
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture
def engine(fresh_db: str) -> Iterator[Engine]:
    eng = make_engine(fresh_db)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def shared_engines(templates: dict[str, Template]) -> Iterator[dict[str, Engine]]:
    """One long-lived engine per backend for tests that roll back (they never commit)."""
    engines: dict[str, Engine] = {}
    yield engines
    for eng in engines.values():
        eng.dispose()


@pytest.fixture
def conn(
    backend: str, templates: dict[str, Template], shared_engines: dict[str, Engine]
) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    if backend not in shared_engines:
        # A copy of the template: the template itself must stay free of sessions to be cloned.
        if backend == "sqlite":
            src = Path(templates["sqlite"].url.removeprefix("sqlite:///"))
            dst = src.with_name("shared.db")
            shutil.copy(src, dst)
            url = f"sqlite:///{dst}"
        else:
            url = create_pg_database(template=_pg_template(templates).pg_name)
            templates["postgres-shared"] = Template("postgres", url)
        shared_engines[backend] = make_engine(url)
    connection = shared_engines[backend].connect()
    transaction = connection.begin()
    try:
        yield connection
    finally:
        transaction.rollback()
        connection.close()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("keys") / "keys"
    init_keys(folder)
    return folder


@pytest.fixture(scope="session")
def keys(key_dir: Path) -> Keys:
    return load_keys(key_dir)


@pytest.fixture
def settings(fresh_db: str, key_dir: Path) -> Settings:
    return load_settings(environ={}, overrides={"database_url": fresh_db, "key_dir": str(key_dir)})


@pytest.fixture
def client(
    settings: Settings, clock: FrozenClock, engine: Engine, keys: Keys
) -> Iterator[TestClient]:
    """The API on its own database, with a frozen clock."""
    from cordon.api.app import create_app

    app = create_app(settings, clock, engine, keys)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def conformance_root() -> Path:
    """``$CORDON_CONFORMANCE_DIR``, else ``shared/conformance`` beside the checkout."""
    configured = os.environ.get("CORDON_CONFORMANCE_DIR")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "conformance"


@pytest.fixture(scope="session")
def pdq_conformance() -> Path:
    """The folder of the PDQ reference pictures; missing fails under CI and skips loudly else."""
    folder = conformance_root() / "pdq"
    if not (folder / "bridge-mods").is_dir():
        message = (
            f"PDQ conformance pictures not found at {folder} "
            "(set CORDON_CONFORMANCE_DIR to the folder holding pdq/)"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI requires them", pytrace=False)
        pytest.skip(f"!!! SKIPPED: {message}")
    return folder
