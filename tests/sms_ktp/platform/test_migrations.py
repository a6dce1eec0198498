"""The schema's migrations on SQLite and PostgreSQL: an empty database and every earlier
revision reach the models' schema exactly, with their rows, and the service works on the result;
databases made before the migrations are recognised; processes starting together take turns."""

from __future__ import annotations

import json
import logging
import multiprocessing
import random
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import cli_runner
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from live_service import KK, KK_2, NIK, NIK_2, PHONE, PHONE_2
from sqlmodel import SQLModel, select

from gateway.message import InboundSms
from sms_ktp import crypto
from sms_ktp.applications.pickup import PickupPolicy
from sms_ktp.channels.sms import receive_sms
from sms_ktp.domain.pickup_calendar import WorkingCalendar, default_offices
from sms_ktp.domain.quiet_hours import QuietHours
from sms_ktp.domain.reference import new_reference
from sms_ktp.domain.stages import Stage
from sms_ktp.models import (
    Application,
    Family,
    JobLease,
    OfficeSetting,
    OutboxMessage,
    PhoneState,
    StaffSession,
    StaffUser,
    WorkerHeartbeat,
    in_stage,
)
from sms_ktp.platform import schema
from sms_ktp.platform.db import Database, scratch_schema

REVISIONS = ("0001_core", "0002_staff_back_office", "0003_worker_heartbeats", "0004_privacy",
             "0005_worker_gateway", "0006_staff_sessions", "0007_outbox_supersede",
             "0008_family_visits", "0009_delivery_by_post", "0010_phone_change",
             "0011_family_contact", "0012_case_queues", "0013_documents",
             "0014_document_files", "0015_whatsapp", "0016_whatsapp_options",
             "0017_outbox_notice")
# The revisions a database made before the migrations (no version table) can stand at.
BEFORE_MIGRATIONS = REVISIONS[:3]
# What each revision adds, written down here rather than read from the migrations.
TABLES = {
    "0001_core": {"phone_state", "family", "application", "application_event",
                  "inbound_message", "outbox", "ussd_session", "blangko_movement",
                  "print_batch", "pickup_slot"},
    "0002_staff_back_office": {"staff_user", "audit_entry", "broadcast", "office_setting"},
    "0003_worker_heartbeats": {"worker_heartbeat", "job_lease"},
    "0004_privacy": set(),  # NIK and KK encrypted, keyed hashes, consent and erasure columns
    "0005_worker_gateway": set(),  # the gateway each worker sends through
    "0006_staff_sessions": {"staff_session"},
    "0007_outbox_supersede": set(),  # a notification's application, and what superseded it
    "0008_family_visits": {"pickup_visit"},
    "0009_delivery_by_post": set(),  # a visit posted: when asked, tracking, posted, delivered
    "0010_phone_change": {"phone_change"},
    "0011_family_contact": {"kelurahan_notice"},  # notices passed on by a kelurahan
    "0012_case_queues": set(),  # partial indexes of the verification and double-record queues
    "0013_documents": set(),  # an application's document and details, papers visits, card kinds
    "0014_document_files": {"document_file", "document_link"},  # signed PDFs, links and PINs
    "0015_whatsapp": {"whatsapp_contact"},  # and the channel of an outbox message
    "0016_whatsapp_options": set(),  # a WhatsApp question's choices on its outbox row
    "0017_outbox_notice": set(),  # which notice an outbox row is (its catalogue key)
}
NOW = datetime(2026, 11, 29, 23, 0)  # as the database keeps time: naive UTC
POLICY = PickupPolicy(default_offices(), WorkingCalendar(), QuietHours())
TTL = timedelta(minutes=30)
OTHER_PHONE = "+6281300000003"

ANSWERS = {"nik": NIK, "kk": KK, "reason": "hilang"}  # a dialogue half-way

NewDatabase = Callable[[], Database]


@pytest.fixture(params=["sqlite", "postgresql"])
def new_database(request: pytest.FixtureRequest, tmp_path) -> Iterator[NewDatabase]:
    """Makes empty databases (not a table in them) on one engine: SQLite files, or PostgreSQL
    schemas of their own."""
    made = 0
    with ExitStack() as stack:

        def make() -> Database:
            nonlocal made
            made += 1
            if request.param == "sqlite":
                url = f"sqlite:///{tmp_path / f'migrated-{made}.db'}"
            else:
                url = stack.enter_context(
                    scratch_schema(request.getfixturevalue("postgres_url"), "sms_ktp_migrate"))
            database = Database(url)
            stack.callback(database.dispose)
            return database

        yield make


def differences(database: Database) -> list[Any]:
    """What Alembic finds different between the database and the models: tables, columns,
    types, nullability, indexes, unique constraints, foreign keys."""
    with database.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, SQLModel.metadata)


def index_definitions(database: Database) -> dict[str, str]:
    """Every index as the database itself writes it, predicates of partial indexes included
    (which Alembic's comparison does not look at)."""
    with database.connect() as connection:
        if database.dialect == "sqlite":
            rows = connection.execute(sa.text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"))
            return {name: " ".join(sql.split()) for name, sql in rows}
        schema_name = connection.execute(sa.text("SELECT current_schema()")).scalar_one()
        rows = connection.execute(sa.text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"))
        return {name: sql.replace(f" {schema_name}.", " ") for name, sql in rows
                if name != "alembic_version_pkc"}


def layout(database: Database) -> dict[str, Any]:
    """The tables with their columns (name, type, nullability) and foreign keys, and the
    indexes: enough to tell two states of the schema apart."""
    with database.connect() as connection:
        inspector = sa.inspect(connection)
        tables = {
            name: (sorted((c["name"], str(c["type"]), c["nullable"])
                          for c in inspector.get_columns(name)),
                   sorted((tuple(f["constrained_columns"]), f["referred_table"])
                          for f in inspector.get_foreign_keys(name)))
            for name in inspector.get_table_names() if name != schema.VERSION_TABLE}
    return {"tables": tables, "indexes": index_definitions(database)}


def table_names(database: Database) -> set[str]:
    with database.connect() as connection:
        return set(sa.inspect(connection).get_table_names()) - {schema.VERSION_TABLE}


def insert(connection: sa.Connection, table: str, **values: Any) -> Any:
    """One row written as the service of that revision would: by column name, with no model
    (the models know only the newest schema). Returns the new row's id, if it has one."""
    columns = [sa.column(name, sa.JSON if isinstance(value, dict) else None)
               for name, value in values.items()]
    statement = sa.insert(sa.table(table, *columns)).values(**values)
    if table in {"family", "print_batch", "application", "inbound_message", "broadcast",
                 "staff_user"}:
        return connection.execute(statement.returning(sa.column("id"))).scalar_one()
    connection.execute(statement)
    return None


def write_rows(database: Database, revision: str) -> dict[str, Any]:
    """Representative rows of every table up to `revision`, as that revision knows them."""
    written: dict[str, Any] = {"reference": new_reference(random.Random(7))}
    at = REVISIONS.index(revision)
    # From 0004 on, the numbers are stored encrypted, with their keyed hashes.
    kk: dict[str, Any] = {"kk": KK}
    nik: dict[str, Any] = {"nik": NIK, "active_nik": NIK}
    answers: Any = ANSWERS
    if at >= 3:
        kk = {"kk": crypto.encrypt(KK, "family.kk"), "kk_hash": crypto.keyed_hash(KK, "kk")}
        nik = {"nik": crypto.encrypt(NIK, "application.nik"),
               "nik_hash": crypto.keyed_hash(NIK, "nik"),
               "active_nik": crypto.keyed_hash(NIK, "nik")}
        answers = crypto.encrypt(json.dumps(ANSWERS), "phone_state.answers")
    with database.connect() as connection:
        family = insert(connection, "family", **kk, phone=PHONE, kecamatan_code="01",
                        created_at=NOW)
        batch = insert(connection, "print_batch", site="disdukcapil", size=1, created_at=NOW)
        application = insert(
            connection, "application", reference=written["reference"], **nik,
            family_id=family, reason="hilang", stage=Stage.PRINT_QUEUE.value, language="en",
            channel="sms", created_at=NOW, updated_at=NOW, ready_at=NOW, print_batch_id=batch,
            **({"pickup_reschedules": 0, "pickup_changes": 0} if at < 7 else {}))
        insert(connection, "application_event", application_id=application, at=NOW,
               stage=Stage.PRINT_QUEUE.value, actor="operator:test", note="")
        inbound = insert(connection, "inbound_message", provider="africastalking",
                         provider_id="ATXid_old", sender=PHONE, recipient="98765",
                         text="STATUS", replied=True, received_at=NOW)
        insert(connection, "outbox", uid="old-reply", phone=PHONE, text="an old reply",
               kind="reply", segments=1, status="delivered", attempts=1, next_attempt_at=NOW,
               inbound_id=inbound, created_at=NOW, sent_at=NOW, delivered_at=NOW)
        insert(connection, "phone_state", phone=PHONE, language="en", updated_at=NOW)
        insert(connection, "phone_state", phone=OTHER_PHONE, answers=answers,
               ussd_menu={"path": [1, 2]}, updated_at=NOW)
        insert(connection, "ussd_session", provider="africastalking", session_id="ATUid_old",
               phone=PHONE, service_code="*123#", started_at=NOW)
        insert(connection, "blangko_movement", site="disdukcapil", delta=10, reason="delivery",
               actor="operator:test", at=NOW)
        insert(connection, "pickup_slot", office="01", starts_at=NOW + timedelta(days=1),
               capacity=20, booked=0)
        if at >= 1:
            admin = insert(connection, "staff_user", username="admin", role="admin",
                           password_hash="x", created_at=NOW, password_changed_at=NOW)
            insert(connection, "audit_entry", at=NOW, actor="staff:admin", action="sign_in",
                   target="", detail="", address="10.0.0.1")
            broadcast = insert(connection, "broadcast", text="Kantor tutup", audience="all",
                               status="done", created_by="staff:admin", created_at=NOW,
                               send_at=NOW, recipients=1, queued=1)
            insert(connection, "outbox", uid="old-broadcast", phone=PHONE, text="Kantor tutup",
                   kind="broadcast", segments=1, status="sent", attempts=1,
                   next_attempt_at=NOW, broadcast_id=broadcast, created_at=NOW)
            insert(connection, "office_setting", office="01", values={"capacity": 12},
                   updated_by="staff:admin", updated_at=NOW)
            written["broadcast"] = broadcast
        if at >= 2:
            insert(connection, "worker_heartbeat", worker="host:1:ab", host="host", pid=1,
                   started_at=NOW, beat_at=NOW)
            insert(connection, "job_lease", job="allocate", worker="host:1:ab", until=NOW)
        if at >= 5:
            insert(connection, "staff_session", id="0" * 64, staff_id=admin, started_at=NOW,
                   seen_at=NOW)
        if at >= 6:  # a notice superseded by the application's newest timeline entry
            event = connection.execute(sa.text("SELECT max(id) FROM application_event")).scalar()
            insert(connection, "outbox", uid="old-notice", phone=PHONE, text="Kini antre cetak",
                   kind="notification", segments=1, status="superseded", attempts=0,
                   next_attempt_at=NOW, created_at=NOW, application_id=application,
                   superseded_by=event)
    return written


def assert_rows_kept(database: Database, revision: str, written: dict[str, Any]) -> None:
    """The rows written at `revision`, read through today's models."""
    at = REVISIONS.index(revision)
    with database.transaction() as session:
        [application] = session.exec(select(Application).where(in_stage(Stage.PRINT_QUEUE))).all()
        assert application.reference == written["reference"]
        assert application.ready_at == NOW.replace(tzinfo=UTC)  # naive UTC in, aware out
        assert session.get(Family, application.family_id).kk == KK
        assert session.get(PhoneState, OTHER_PHONE).answers == ANSWERS
        assert session.exec(select(Application).where(Application.nik_hash == NIK)).one() \
            == application
        outbox = session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert [m.uid for m in outbox] == [
            "old-reply", "old-broadcast", "old-notice"][:1 + min(at, 1) + (at >= 6)]
        if at >= 6:
            assert (outbox[2].application_id, outbox[2].status) == (application.id, "superseded")
            assert outbox[2].superseded_by is not None
        assert all(m.broadcast_id is None for m in outbox[:1])
        if at >= 1:
            assert outbox[1].broadcast_id == written["broadcast"]
            assert session.exec(select(StaffUser)).one().username == "admin"
            assert session.get(OfficeSetting, "01").values == {"capacity": 12}
        assert len(session.exec(select(WorkerHeartbeat)).all()) == (1 if at >= 2 else 0)
        assert len(session.exec(select(JobLease)).all()) == (1 if at >= 2 else 0)
        assert len(session.exec(select(StaffSession)).all()) == (1 if at >= 5 else 0)


def stored(database: Database) -> dict[str, Any]:
    """The numbers as the database holds them, read past the models' types."""
    with database.connect() as connection:
        application = connection.execute(sa.text(
            "SELECT nik, nik_hash, active_nik FROM application")).one()
        family = connection.execute(sa.text("SELECT kk, kk_hash FROM family")).one()
        answers = connection.execute(sa.text("SELECT answers FROM phone_state WHERE phone = :p"),
                                     {"p": OTHER_PHONE}).scalar_one()
    return {**application._mapping, **family._mapping, "answers": answers}


def assert_stored_sealed(database: Database) -> None:
    """Encrypted where the models encrypt, hashed under the lookup key where they hash."""
    raw = stored(database)
    for name, purpose, plain in (("nik", "application.nik", NIK), ("kk", "family.kk", KK),
                                 ("answers", "phone_state.answers", ANSWERS)):
        assert raw[name].startswith(f"1:{crypto.ring().current}:"), name
        assert NIK not in raw[name] and KK not in raw[name] and "hilang" not in raw[name]
        opened = crypto.decrypt(raw[name], purpose)
        assert (json.loads(opened) if name == "answers" else opened) == plain
    assert raw["nik_hash"] == raw["active_nik"] == crypto.keyed_hash(NIK, "nik")
    assert raw["kk_hash"] == crypto.keyed_hash(KK, "kk")


def sms(number: int, sender: str, text: str) -> InboundSms:
    return InboundSms("africastalking", f"ATXid_{number}", sender, "98765", text, None, None,
                      None)


def last_reply(database: Database, phone: str) -> str:
    with database.transaction() as session:
        return session.exec(select(OutboxMessage).where(OutboxMessage.phone == phone)
                            .order_by(OutboxMessage.id.desc())).first().text


# --- an empty database -----------------------------------------------------------------------
def test_an_empty_database_upgrades_to_exactly_the_models(new_database):
    migrated, created = new_database(), new_database()

    assert schema.current_revision(migrated) is None
    assert schema.upgrade(migrated) == schema.head_revision() == REVISIONS[-1]
    created.create_schema()  # the quick way tests take: create_all, stamped with the head

    assert differences(migrated) == []
    assert differences(created) == []
    assert table_names(migrated) == set(SQLModel.metadata.tables)
    assert index_definitions(migrated) == index_definitions(created)
    assert "WHERE" in index_definitions(migrated)["ix_application_print_queue"].upper()
    assert schema.current_revision(created) == REVISIONS[-1]
    assert schema.upgrade(created) == REVISIONS[-1]  # nothing left to do


def test_create_schema_on_a_database_with_tables_upgrades_it(new_database):
    database = new_database()
    schema.upgrade(database, REVISIONS[0])

    database.create_schema()

    assert schema.current_revision(database) == REVISIONS[-1]
    assert differences(database) == []


# --- every earlier revision ------------------------------------------------------------------
@pytest.mark.parametrize("revision", REVISIONS)
def test_a_database_at_each_revision_upgrades_with_its_rows_and_then_works(new_database, clock,
                                                                          revision):
    database = new_database()
    assert schema.upgrade(database, revision) == revision
    assert table_names(database) == set().union(*(TABLES[r] for r in
                                                  REVISIONS[:REVISIONS.index(revision) + 1]))
    written = write_rows(database, revision)

    assert schema.upgrade(database) == REVISIONS[-1]

    assert differences(database) == []
    assert_rows_kept(database, revision, written)
    assert_stored_sealed(database)  # rows written in plain text before 0004 too
    # The service on it: the family of the old rows asks about its card (in the language its
    # phone chose back then), and a new family registers.
    assert receive_sms(database, clock, sms(1, PHONE, "STATUS"), TTL, POLICY).replies == 1
    assert written["reference"] in last_reply(database, PHONE)
    receive_sms(database, clock, sms(2, PHONE_2, f"DAFTAR {NIK_2}#{KK_2}#2"), TTL, POLICY)
    receive_sms(database, clock, sms(3, PHONE_2, "YA"), TTL, POLICY)
    with database.transaction() as session:
        assert len(session.exec(select(Application)).all()) == 2
        assert session.exec(select(Family).where(Family.kk_hash == KK_2)).one().phone == PHONE_2


def _scheduled(connection: sa.Connection, family: int, reference: str, nik: str,
               code: str) -> int:
    """A card scheduled for pickup as 0007 stores it: its own code, counters and reminder."""
    return insert(connection, "application", reference=reference,
                  nik=crypto.encrypt(nik, "application.nik"),
                  nik_hash=crypto.keyed_hash(nik, "nik"),
                  active_nik=crypto.keyed_hash(nik, "nik"), family_id=family, reason="hilang",
                  stage=Stage.PICKUP_SCHEDULED.value, language="id", channel="sms",
                  created_at=NOW, updated_at=NOW, pickup_office="01",
                  pickup_at=NOW + timedelta(days=1), open_code=code, pickup_code=code,
                  pickup_reschedules=1, pickup_changes=1, reminded_at=NOW)


def _two_cards_to_collect_at_0007(database: Database) -> tuple[int, int, int]:
    """A family with two cards scheduled for pickup, each with its code, as 0007 keeps them,
    upgraded to the newest revision: (family, first card, second card)."""
    schema.upgrade(database, "0007_outbox_supersede")
    with database.connect() as connection:
        family = insert(connection, "family", kk=crypto.encrypt(KK, "family.kk"),
                        kk_hash=crypto.keyed_hash(KK, "kk"), phone=PHONE, kecamatan_code="01",
                        created_at=NOW)
        first = _scheduled(connection, family, "100000001", NIK, "ACDEFH")
        second = _scheduled(connection, family, "100000002", NIK_2, "KMNPRT")
    schema.upgrade(database)
    return family, first, second


def test_each_open_pickup_becomes_a_visit_of_its_own_card_and_back(new_database):
    database = new_database()
    family, first, second = _two_cards_to_collect_at_0007(database)

    with database.connect() as connection:
        visits = connection.execute(sa.text(
            "SELECT id, family_id, office, code, open_code, reschedules, changes, reminded_at "
            "FROM pickup_visit ORDER BY id")).all()
        cards = dict(connection.execute(sa.text(
            "SELECT id, visit_id FROM application")).all())
    assert [(v.family_id, v.office, v.code, v.open_code, v.reschedules, v.changes)
            for v in visits] == [(family, "01", "ACDEFH", "ACDEFH", 1, 1),
                                 (family, "01", "KMNPRT", "KMNPRT", 1, 1)]
    assert all(visit.reminded_at is not None for visit in visits)
    assert cards == {first: visits[0].id, second: visits[1].id}

    schema.downgrade(database, "0007_outbox_supersede")

    with database.connect() as connection:
        back = connection.execute(sa.text(
            "SELECT id, open_code, pickup_reschedules, pickup_changes FROM application "
            "ORDER BY id")).all()
    assert [tuple(row) for row in back] == [(first, "ACDEFH", 1, 1), (second, "KMNPRT", 1, 1)]


def test_a_downgrade_with_a_visit_of_two_cards_to_hand_over_is_refused(new_database):
    database = new_database()
    _two_cards_to_collect_at_0007(database)
    with database.connect() as connection:  # the second card joins the first one's visit
        connection.execute(sa.text("UPDATE application SET visit_id = "
                                   "(SELECT min(id) FROM pickup_visit)"))

    with pytest.raises(RuntimeError, match="1 pickup visits hold more than one card"):
        schema.downgrade(database, "0007_outbox_supersede")
    assert schema.current_revision(database) == REVISIONS[-1]  # nothing was downgraded


def test_downgrades_step_by_step_to_nothing_and_up_again(new_database):
    database = new_database()
    layouts = {}
    for revision in REVISIONS:
        schema.upgrade(database, revision)
        layouts[revision] = layout(database)

    for revision in reversed(REVISIONS[:-1]):
        assert schema.downgrade(database, revision) == revision
        assert layout(database) == layouts[revision]
    assert schema.downgrade(database, "base") is None
    assert table_names(database) == set()

    assert schema.upgrade(database) == REVISIONS[-1]
    assert layout(database) == layouts[REVISIONS[-1]]
    assert differences(database) == []


def test_downgrading_the_encryption_gives_the_numbers_back_in_plain_text(new_database):
    database = new_database()
    schema.upgrade(database, "0003_worker_heartbeats")
    write_rows(database, "0003_worker_heartbeats")
    schema.upgrade(database)
    assert_stored_sealed(database)

    assert schema.downgrade(database, "0003_worker_heartbeats") == "0003_worker_heartbeats"

    with database.connect() as connection:
        assert connection.execute(sa.text("SELECT nik, active_nik FROM application")).one() \
            == (NIK, NIK)
        assert connection.execute(sa.text("SELECT kk FROM family")).scalar_one() == KK
        answers = connection.execute(sa.text("SELECT answers FROM phone_state WHERE phone = :p"),
                                     {"p": OTHER_PHONE}).scalar_one()
    assert (answers if isinstance(answers, dict) else json.loads(answers)) == ANSWERS


def test_a_downgrade_that_cannot_give_an_erased_number_back_is_refused(new_database):
    database = new_database()
    schema.upgrade(database)
    write_rows(database, REVISIONS[-1])
    with database.connect() as connection:
        connection.execute(sa.text("UPDATE application SET nik = NULL, nik_hash = NULL, "
                                   "active_nik = NULL"))

    with pytest.raises(RuntimeError, match="1 rows of application have had their nik erased"):
        schema.downgrade(database, "0003_worker_heartbeats")

    assert schema.current_revision(database) == REVISIONS[-1]
    assert differences(database) == []


# --- databases made before the migrations ----------------------------------------------------
def made_by_create_all(database: Database, revision: str) -> sa.MetaData:
    """The tables as the service's `create_all` made them when it stood at `revision`, before
    there were migrations: read from `database` migrated to it, the constraints the models do
    not name left unnamed (the migrations give them PostgreSQL's names)."""
    schema.upgrade(database, revision)
    metadata = sa.MetaData()
    with database.connect() as connection:
        metadata.reflect(connection)
    metadata.remove(metadata.tables[schema.VERSION_TABLE])
    for table in metadata.tables.values():
        for constraint in table.constraints:
            if isinstance(constraint, sa.UniqueConstraint | sa.ForeignKeyConstraint):
                first = next(iter(constraint.columns.keys()), "") \
                    if isinstance(constraint, sa.UniqueConstraint) else constraint.column_keys[0]
                if constraint.name in (f"{table.name}_{first}_key", f"{table.name}_{first}_fkey"):
                    constraint.name = None
    return metadata


def test_a_database_made_by_create_all_before_the_migrations_is_stamped_and_upgraded(
        new_database, caplog):
    database = new_database()
    tables = made_by_create_all(new_database(), "0002_staff_back_office")
    with database.connect() as connection:  # the schema as the service made it then
        tables.create_all(connection)
        insert(connection, "staff_user", username="admin", role="admin", password_hash="x",
               created_at=NOW, password_changed_at=NOW)

    with caplog.at_level(logging.INFO, logger="sms_ktp.platform.schema"):
        assert schema.upgrade(database) == REVISIONS[-1]

    assert "stamped 0002_staff_back_office" in caplog.text
    assert differences(database) == []
    with database.transaction() as session:
        assert session.exec(select(StaffUser)).one().username == "admin"
    # Its constraints are unnamed (create_all), yet the downgrade finds them.
    assert schema.downgrade(database, "0001_core") == "0001_core"
    assert table_names(database) == TABLES["0001_core"]
    assert schema.upgrade(database) == REVISIONS[-1]
    assert differences(database) == []


@pytest.mark.parametrize("revision", BEFORE_MIGRATIONS)
def test_a_database_without_a_version_stands_at_the_newest_revision_whose_tables_exist(
        new_database, caplog, revision):
    database = new_database()
    schema.upgrade(database, revision)
    with database.connect() as connection:
        connection.execute(sa.text(f"DROP TABLE {schema.VERSION_TABLE}"))

    with caplog.at_level(logging.INFO, logger="sms_ktp.platform.schema"):
        assert schema.upgrade(database) == REVISIONS[-1]

    assert f"stamped {revision}" in caplog.text
    assert differences(database) == []


@pytest.mark.parametrize(("revision", "extra"), [
    (None, "family"),  # some of the first revision's tables
    ("0001_core", "staff_user"),  # some of the second's: made by a version in between
])
def test_a_database_whose_tables_match_no_revision_is_refused(new_database, revision, extra):
    database = new_database()
    if revision:
        schema.upgrade(database, revision)
    with database.connect() as connection:
        connection.execute(sa.text(f"DROP TABLE IF EXISTS {schema.VERSION_TABLE}"))
        SQLModel.metadata.tables[extra].create(connection)

    with pytest.raises(schema.SchemaError, match=f"match no revision: it has {extra} without"):
        schema.upgrade(database)


# --- processes starting together -------------------------------------------------------------
def _upgrade_in_a_process(url: str, start: Any, results: Any) -> None:
    database = Database(url)
    try:
        start.wait(30)
        results.put(schema.upgrade(database))
    except BaseException as error:
        results.put(repr(error))
    finally:
        database.dispose()


def test_two_processes_upgrading_an_empty_database_at_once_both_succeed(new_database):
    database = new_database()
    forked = multiprocessing.get_context("fork")  # the test module is not importable by name
    start, results = forked.Barrier(2), forked.Queue()
    processes = [forked.Process(target=_upgrade_in_a_process, args=(database.url, start, results))
                 for _ in range(2)]
    for process in processes:
        process.start()
    try:
        outcomes = [results.get(timeout=60) for _ in processes]
    finally:
        for process in processes:
            process.join(10)
            if process.is_alive():
                process.kill()
    assert outcomes == [REVISIONS[-1], REVISIONS[-1]]
    assert differences(database) == []


# --- the command line ------------------------------------------------------------------------
def test_init_db_migrates_a_new_sqlite_file_to_the_head_and_then_does_nothing(tmp_path):
    (tmp_path / "sms-ktp.toml").write_text('[database]\nurl = "sqlite:///data/ktp.db"\n')

    first = cli_runner.run(tmp_path, "init-db")
    again = cli_runner.run(tmp_path, "init-db")

    assert first.returncode == 0, first.stderr
    assert first.stdout == again.stdout == (
        f"schema at revision {schema.head_revision()}: sqlite:///data/ktp.db\n")
    assert "Running upgrade  -> 0001_core" in first.stderr
    assert again.returncode == 0, again.stderr
    assert "Running upgrade" not in again.stderr
    database = Database(f"sqlite:///{tmp_path / 'data' / 'ktp.db'}")
    try:
        assert table_names(database) == set(SQLModel.metadata.tables)
        assert schema.current_revision(database) == schema.head_revision()
        assert differences(database) == []
    finally:
        database.dispose()


def test_init_db_on_a_database_no_revision_fits_says_so(tmp_path):
    (tmp_path / "sms-ktp.toml").write_text('[database]\nurl = "sqlite:///ktp.db"\n')
    database = Database(f"sqlite:///{tmp_path / 'ktp.db'}")
    with database.connect() as connection:
        SQLModel.metadata.tables["family"].create(connection)
    database.dispose()

    result = cli_runner.run(tmp_path, "init-db")

    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "sms-ktp: database schema: the database's tables match no revision: it has family "
        "without the other tables of their revision")
