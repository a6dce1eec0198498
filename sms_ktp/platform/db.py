"""Database access: one engine per process, SQLite tuned for a small office, PostgreSQL for a city.

SQLite silently ignores `FOR UPDATE`; every write transaction here therefore starts with
`BEGIN IMMEDIATE`, which takes the write lock up front, so two threads or processes can never
interleave a read-modify-write (and never die on a lock upgrade).
"""

from __future__ import annotations

import functools
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from functools import cache
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, create_engine

from sms_ktp import models  # noqa: F401  (registers the tables)
from sms_ktp.domain.masking import redact_logger
from sms_ktp.platform import schema

P = ParamSpec("P")
R = TypeVar("R")
BUSY_SECONDS = 30  # how long SQLite waits for a lock held by another connection
READ_ONLY = "sms_ktp_read_only"  # the execution option of `Database.read`


def _wal(cursor: Any) -> None:
    """WAL mode. While another process truncates the WAL (`schema.truncate_wal`, after a
    migration) this fails at once instead of waiting like other statements: try again within
    the busy timeout."""
    deadline = time.monotonic() + BUSY_SECONDS
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _sqlite_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": BUSY_SECONDS})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        _wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        reading = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")

    return engine


# The engine logs each result row at DEBUG, after our types have decrypted NIK and KK.
ENGINE_LOGGER = "sqlalchemy.engine.Engine"


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        redact_logger(ENGINE_LOGGER)
        # SQLite has one writer at a time. Threads of one process queue here in order, instead of
        # polling the file lock with growing sleeps (which makes the slowest requests very slow);
        # other processes still wait on SQLite's busy timeout.
        self._writer: threading.RLock | None = None
        if url.startswith("sqlite"):
            self.engine = _sqlite_engine(url)
            self._writer = threading.RLock()
        else:
            # No pre-ping (a round trip on every request): a connection lost to a database
            # restart fails its request once, and `retry_after_disconnect` runs it again.
            self.engine = create_engine(url, pool_size=10, max_overflow=10, pool_recycle=3600)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def create_schema(self) -> None:
        """The newest schema: on an empty database the tables straight from the models, stamped
        with the newest migration (quick, for the many databases tests and benchmarks make);
        otherwise the migrations `sms-ktp` runs at every start."""
        schema.create(self)

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A Core connection in a transaction that commits at the end of the block, or not at
        all: the light path of the requests that arrive by the thousand (SMS, USSD)."""
        with (self._writer or nullcontext()), self.engine.begin() as connection:
            yield connection

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reading only, which never waits for a writer: on SQLite a deferred
        transaction of the WAL's last commit, outside the writers' queue, so that code which
        may run inside another transaction of the same thread (a cache refreshed from the
        database) does not wait for that transaction, for the whole busy timeout."""
        with self.engine.connect().execution_options(**{READ_ONLY: True}) as connection, \
                connection.begin():
            yield connection

    @contextmanager
    def schema_transaction(self) -> Iterator[Connection]:
        """`connect` for changing the schema. On SQLite, foreign keys are not enforced while it
        runs (the caller checks them with `PRAGMA foreign_key_check` when it changed
        something): a migration in batch mode copies a table and drops the original, which rows
        of other tables refer to, and SQLite switches enforcement only outside a
        transaction."""
        if self._writer is None:
            with self.connect() as connection:
                yield connection
            return
        with self._writer, self.engine.connect() as connection:
            raw = connection.connection.driver_connection
            raw.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
            try:
                with connection.begin():
                    yield connection
            finally:
                raw.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits at the end of the block, or not at all."""
        with (self._writer or nullcontext()), Session(self.engine, expire_on_commit=False) as \
                session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def retry_after_disconnect(function: Callable[P, R]) -> Callable[P, R]:
    """Run a whole transaction again, once, when it failed because its connection was gone
    (the database restarted): it rolled back, so running it again is safe."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            return function(*args, **kwargs)

    return wrapper


@cache
def _insert_ignoring(dialect: str, table: Any, unique: tuple[str, ...]) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    core = table.__table__  # the Core table: a plain INSERT, not the ORM's bulk-insert path
    key = next(iter(core.primary_key))
    return (dialect_insert(core).on_conflict_do_nothing(index_elements=list(unique))
            .returning(key))


@contextmanager
def scratch_schema(url: str, prefix: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL schema of our own on the server at `url`, dropped with
    every table afterwards: tests and benchmarks share a database without touching each other's
    tables."""
    schema = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(url)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            yield make_url(url).update_query_dict(
                {"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
        finally:
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


def insert_ignoring_duplicate(connection: Connection, table: Any, values: dict[str, Any],
                              unique: tuple[str, ...]) -> int | None:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING the primary key: the new row's key, or None
    when a row with the same unique key already exists (a retried webhook)."""
    statement = _insert_ignoring(connection.dialect.name, table, unique)
    return connection.execute(statement, values).scalar_one_or_none()
