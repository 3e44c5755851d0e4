"""Database plumbing: URLs, engines, the append lock and schema migrations.

SQLite (a file, WAL mode) is the default; PostgreSQL is used when the URL says so
(``postgresql://user@host/db`` is read as the psycopg 3 driver). Appends are serialised so that
sequence numbers stay consecutive under many writer processes: on SQLite a write transaction
starts with ``BEGIN IMMEDIATE`` (the database write lock is taken up front, other writers wait
on ``busy_timeout``); on PostgreSQL it takes ``LOCK TABLE ledger_events IN SHARE ROW EXCLUSIVE
MODE``, which excludes other writers but not readers. Migrations run under the same lock, so
concurrent first opens do not race.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event, inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from safemed.ledger.errors import LedgerError

DB_ENV = "SAFEMED_DB"
DEFAULT_DB = "safemed.db"
BUSY_TIMEOUT_S = 120
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
HEAD = "0003"  # the newest revision in migrations/versions (a test keeps the two in step)
VERSION_TABLE = "ledger_alembic_version"


def default_db_url() -> str:
    """``$SAFEMED_DB``, else the SQLite file ``safemed.db`` in the current directory."""
    return os.environ.get(DB_ENV) or DEFAULT_DB


def normalise_url(url: str) -> str:
    """A SQLAlchemy URL: bare paths become SQLite files, ``postgresql://`` uses psycopg 3."""
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    scheme, rest = url.split("://", 1)
    if scheme in ("postgres", "postgresql"):
        return f"postgresql+psycopg://{rest}"
    return url


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with the ledger's connection settings."""
    full = normalise_url(url)
    try:
        parsed = make_url(full)
    except ArgumentError as exc:
        raise LedgerError(f"not a database URL: {url!r}") from exc
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise LedgerError("the ledger needs a SQLite *file* (several connections share it)")
        engine = create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_S})
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() != "postgresql":
        raise LedgerError(f"unsupported database {parsed.get_backend_name()!r}: use a SQLite path or "
                          "postgresql://…")
    return create_engine(parsed, pool_pre_ping=True)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's implicit BEGIN is deferred).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
    _enable_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _enable_wal(cursor: Any) -> None:
    """Switch the file to WAL once; WAL is a property of the file, so later connections skip it.

    The switch needs the file to itself, and SQLite answers "database is locked" to the other
    connections of several processes that open a fresh file at the same moment without waiting on
    the busy handler, so the switch is retried here until the busy timeout runs out.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _sqlite_begin(connection: Connection) -> None:
    immediate = connection.get_execution_options().get("ledger_write", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction holding the ledger's write lock; commits on success, rolls back on error."""
    with engine.connect() as conn:
        conn.execution_options(ledger_write=True)
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("LOCK TABLE ledger_events IN SHARE ROW EXCLUSIVE MODE")
            yield conn


@contextmanager
def advisory_write_transaction(engine: Engine, key: int) -> Iterator[Connection]:
    """One write transaction holding PostgreSQL advisory lock ``key``; commits on success.

    SQLite: ``BEGIN IMMEDIATE`` through the ``ledger_write`` option (an engine from
    :func:`make_engine`). PostgreSQL: a transaction-scoped advisory lock, so writers of the same key
    queue among themselves without touching the ledger's own lock.
    """
    with engine.connect() as conn:
        conn.execution_options(ledger_write=True)
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
            yield conn


def create_missing_tables(engine: Engine, metadata: MetaData, lock_key: int) -> None:
    """Create the tables of ``metadata`` that are missing; safe when several processes start at once.

    Nothing is locked when every table is there. Otherwise the creation runs under
    :func:`advisory_write_transaction` with ``lock_key``, and a creator that still loses the race
    (an engine without the SQLite ``BEGIN IMMEDIATE`` setting) re-checks instead of failing.
    """
    names = set(metadata.tables)

    def missing() -> set[str]:
        with engine.connect() as conn:
            return names - set(inspect(conn).get_table_names())

    if not missing():
        return
    try:
        with advisory_write_transaction(engine, lock_key) as conn:
            metadata.create_all(conn, checkfirst=True)
    except DBAPIError:
        if missing():  # the winner's tables are what we wanted
            raise


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """One read-only snapshot (SQLite WAL / PostgreSQL REPEATABLE READ)."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


def exists(engine: Engine) -> bool:
    """Whether the database holds a ledger schema (without creating a SQLite file)."""
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if database is None or not Path(database).exists():
            return False
    return current_revision(engine) is not None


def current_revision(engine: Engine) -> str | None:
    """The schema revision of the database (None for an empty database); takes no lock."""
    with engine.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return None
        value = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
        return None if value is None else str(value)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (Alembic, under the write lock).

    A database already at :data:`HEAD` is left alone without taking the lock, so opening a ledger
    never waits for a long import running in another process.
    """
    if current_revision(engine) == HEAD:
        return
    from alembic import command  # imported only when there is something to migrate
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as conn:
        conn.execution_options(ledger_write=True)
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7218146501)")
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    analyze_grown(engine)  # a migration may have filled tables (the read model) in bulk


ANALYZE_TABLES = ("ledger_events", "ledger_nodes", "ledger_checkpoints", "cur_items", "cur_assignments",
                  "cur_reviews")
"""The tables whose planner statistics matter to the ledger's and the read model's queries."""


def analyze_grown(engine: Engine, *, scale: float = 0.1, threshold: int = 50, force: bool = False) -> list[str]:
    """PostgreSQL only: refresh the planner statistics of the ledger tables that changed by more
    than ``threshold + scale × rows`` since they were last analysed (autovacuum's own rule), or of
    all of them with ``force``; returns the tables analysed.

    Why: with statistics from when a table was empty, PostgreSQL plans an indexed lookup of one
    item's events as a parallel scan of thousands of rows (9 ms instead of 0.15 ms at 2.7M events),
    which is what turns a 10 ms review submission into 50 ms and a bulk import superlinear. A
    server with autovacuum on does this by itself; one with it off (or not yet run after a bulk
    import) gets it here, after large appends, reindex and migrations.
    """
    if engine.dialect.name != "postgresql":
        return []
    sql = text("SELECT s.relname, s.n_mod_since_analyze, c.reltuples, "
               "s.last_analyze IS NULL AND s.last_autoanalyze IS NULL FROM pg_stat_user_tables s "
               "JOIN pg_class c ON c.oid = s.relid WHERE s.schemaname = current_schema()")
    with engine.connect() as conn:
        rows = conn.execute(sql).all()
        stale = [str(name) for name, changed, tuples, never in rows if str(name) in ANALYZE_TABLES
                 and (force or never or int(changed or 0) > threshold + scale * max(float(tuples or 0), 0.0))]
        for name in stale:
            conn.exec_driver_sql(f'ANALYZE "{name}"')
        conn.commit()
    return stale
