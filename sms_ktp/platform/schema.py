"""The database schema's version, kept by Alembic (`sms_ktp/platform/migrations`).

Every command upgrades the database to the newest revision before it does anything else, so an
upgraded package never runs on an old schema. Several processes start at once (web workers, a
worker process): on PostgreSQL an advisory lock, on SQLite `BEGIN IMMEDIATE`, lets one of them
upgrade while the others wait, then find nothing left to do.
"""

from __future__ import annotations

import logging
import threading
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlmodel import SQLModel

if TYPE_CHECKING:
    from sms_ktp.platform.db import Database

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"
# The advisory lock of a schema upgrade: a constant for sms-ktp and the schema's name, so that
# services in separate schemas of one database do not wait for each other.
_LOCK_CLASS = 0x4B5450
# Alembic's `context` and `op` are module-wide: two threads must never run migrations at once,
# even on two different databases.
_ALEMBIC = threading.Lock()

# Databases made before the migrations (by `create_all`, without a version table) stand at the
# newest revision whose tables, and every earlier revision's, all exist. A closed list: every
# database made since has a version table.
_TABLES_BY_REVISION: tuple[tuple[str, frozenset[str]], ...] = (
    ("0001_core", frozenset({"phone_state", "family", "application", "application_event",
                             "inbound_message", "outbox", "ussd_session", "blangko_movement",
                             "print_batch", "pickup_slot"})),
    ("0002_staff_back_office",
     frozenset({"staff_user", "audit_entry", "broadcast", "office_setting"})),
    ("0003_worker_heartbeats", frozenset({"worker_heartbeat", "job_lease"})),
)


class SchemaError(RuntimeError):
    pass


def config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, built here so that no alembic.ini is needed where the service
    is installed; with `connection`, the migrations run on it (see migrations/env.py)."""
    alembic_config = Config()
    alembic_config.set_main_option("script_location", str(MIGRATIONS))
    # Revision files are named by their id (`0004_what_it_does.py`), so they list in order.
    alembic_config.set_main_option("file_template", "%%(rev)s")
    if connection is not None:
        alembic_config.attributes["connection"] = connection
    return alembic_config


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(config())


def head_revision() -> str:
    head = _scripts().get_current_head()
    if head is None:
        raise SchemaError("no migrations found")
    return head


def lock(connection: Connection) -> None:
    """Wait for, then hold until the transaction ends, the right to change the schema. SQLite
    needs nothing here: `Database` begins every transaction with `BEGIN IMMEDIATE`, which takes
    the file's write lock up front."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:class, hashtext(current_schema()))"),
                           {"class": _LOCK_CLASS})


def revision_on(connection: Connection) -> str | None:
    """The revision the database is at; None before its first migration. Read directly rather
    than through Alembic, whose set-up logs on every call: commands check at every start."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    return connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def current_revision(db: Database) -> str | None:
    with db.connect() as connection:
        return revision_on(connection)


def upgrade(db: Database, revision: str = "head") -> str | None:
    """Bring the database to `revision` (the newest by default) and return where it is now. At
    the newest revision already, this is one lock and two small queries."""
    with db.schema_transaction() as connection:
        lock(connection)
        current, migrated = _upgrade(connection, revision)
    if migrated:
        truncate_wal(db)
    return current


def downgrade(db: Database, revision: str) -> str | None:
    """Take the schema back to `revision` ("base": no tables at all): undoing a release."""
    with db.schema_transaction() as connection:
        lock(connection)
        with _ALEMBIC:
            command.downgrade(config(connection), revision)
        check_foreign_keys(connection)
        return revision_on(connection)


def create(db: Database) -> None:
    """The newest schema. An empty database gets the tables straight from the models and is
    stamped with the newest revision: much faster than running every migration, which the
    hundreds of databases the tests make would feel, and the same schema
    (as tests/sms_ktp/platform/test_migrations.py checks). A database with tables is upgraded
    instead."""
    with db.schema_transaction() as connection:
        lock(connection)
        names = set(inspect(connection).get_table_names())
        if not names & ({VERSION_TABLE} | set(SQLModel.metadata.tables)):
            SQLModel.metadata.create_all(connection)
            MigrationContext.configure(connection).stamp(_scripts(), "head")
            return
        _, migrated = _upgrade(connection, "head")
    if migrated:
        truncate_wal(db)


def check_foreign_keys(connection: Connection) -> None:
    """SQLite migrates with foreign keys unenforced (`Database.schema_transaction`): refuse to
    commit one that left a row referring to nothing."""
    if connection.dialect.name != "sqlite":
        return
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").first()
    if broken is not None:
        raise SchemaError(f"the migration left rows of {broken[0]} referring to missing rows "
                          f"of {broken[2]}")


def truncate_wal(db: Database) -> None:
    """SQLite, after migrations rewrote rows (0004 encrypted the stored numbers): copy the WAL
    into the file and empty it, so that no older copy of a rewritten page stays in either."""
    if db.dialect != "sqlite":
        return
    raw = db.engine.raw_connection()
    try:
        raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
    finally:
        raw.close()


def _upgrade(connection: Connection, revision: str) -> tuple[str | None, bool]:
    """The revision the database is at afterwards, and whether migrations ran."""
    current = revision_on(connection)
    if current is None:
        current = _stamp_before_migrations(connection)
    target = head_revision() if revision == "head" else revision
    if current == target:
        return current, False
    with _ALEMBIC:
        command.upgrade(config(connection), revision)
    check_foreign_keys(connection)
    return revision_on(connection), True


def _stamp_before_migrations(connection: Connection) -> str | None:
    """Give a database made before the migrations its revision, so that upgrading runs only
    the migrations after it; an empty database stays without one."""
    names = set(inspect(connection).get_table_names())
    ours = names & set(SQLModel.metadata.tables)
    if not ours:
        return None
    found: str | None = None
    known: set[str] = set()
    for revision, tables in _TABLES_BY_REVISION:
        if not tables <= names:
            break
        found = revision
        known |= tables
    if found is None or ours - known:
        # Made by a version in between two revisions: no migration fits it.
        raise SchemaError("the database's tables match no revision: it has "
                          f"{', '.join(sorted(ours - known) or sorted(ours))} without the "
                          "other tables of their revision")
    log.info("database made before the migrations: stamped %s", found)
    MigrationContext.configure(connection).stamp(_scripts(), found)
    return found
