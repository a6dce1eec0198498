"""Bulk writes at the driver's speed (COPY on PostgreSQL): the rows read back exactly as a plain
INSERT would have stored them, encrypted columns included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from live_service import KK, NIK, PHONE
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, insert, select, text

from sms_ktp import crypto
from sms_ktp.models import Application, Family, OutboxMessage, UtcDateTime
from sms_ktp.platform.bulk import insert_rows

AWKWARD = ["tab\there", "new\nline", "back\\slash", "quote ' \" ", "\\N", "", "caf\u00e9 \u20ac"]


def test_rows_read_back_as_a_plain_insert_stores_them(database):
    table = OutboxMessage.__table__
    at = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    rows = [{"uid": f"{i:032x}", "phone": f"+62812000000{i:02d}", "text": text, "kind": "x",
             "segments": i, "status": "queued", "attempts": 0,
             "next_attempt_at": at + timedelta(minutes=i % 2), "inbound_id": None,
             "created_at": at} for i, text in enumerate(AWKWARD)]
    with database.connect() as connection:
        insert_rows(connection, table, rows)
        insert_rows(connection, table, [])  # nothing to write: no statement, no error
    with database.connect() as connection:
        stored = connection.execute(select(*(table.c[name] for name in rows[0]))
                                    .order_by(table.c.uid)).mappings().all()
    assert [dict(row) for row in stored] == rows


def test_a_temporary_table_and_a_single_column(database):
    plan = Table("bulk_plan", MetaData(), Column("id", Integer, primary_key=True),
                 prefixes=["TEMPORARY"])
    plain = Table("bulk_plain", MetaData(), Column("id", Integer, primary_key=True),
                  Column("at", UtcDateTime()), Column("naive", DateTime()),
                  Column("word", String(20)), prefixes=["TEMPORARY"])
    at = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    with database.connect() as connection:
        plan.create(connection)
        plain.create(connection)
        insert_rows(connection, plan, [{"id": i} for i in range(500)])
        assert connection.execute(select(plan.c.id)).scalars().all() == list(range(500))
        rows = [{"id": 1, "at": at, "naive": at.replace(tzinfo=None), "word": "kata"},
                {"id": 2, "at": None, "naive": None, "word": None}]
        insert_rows(connection, plain, rows)
        connection.execute(insert(plain), [{**row, "id": row["id"] + 10} for row in rows])
        stored = connection.execute(select(plain).order_by(plain.c.id)).mappings().all()
        plan.drop(connection)
        plain.drop(connection)
    bulk, plainly = stored[:2], stored[2:]
    assert [dict(row) for row in bulk] == rows
    assert [{**row, "id": row["id"] - 10} for row in plainly] == [dict(row) for row in bulk]


def test_numbers_are_sealed_one_nonce_each_and_their_keyed_hash_filled(database):
    """A bulk write goes through the columns' types like any INSERT: the same NIK twice gives
    two unrelated ciphertexts (never a memoised one), and `nik_hash` is filled from `nik`."""
    at = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    with database.connect() as connection:
        family = connection.execute(insert(Family.__table__).returning(Family.__table__.c.id),
                                    {"kk": KK, "phone": PHONE, "kecamatan_code": "01",
                                     "created_at": at}).scalar_one()
        insert_rows(connection, Application.__table__, [
            {"reference": f"10000000{i}", "nik": NIK, "active_nik": NIK if i == 0 else None,
             "family_id": family, "reason": "hilang", "stage": "cancelled", "language": "id",
             "channel": "sms", "created_at": at, "updated_at": at} for i in range(3)])
        stored = connection.execute(text("SELECT nik, nik_hash, active_nik FROM application "
                                         "ORDER BY reference")).all()
        opened = connection.execute(select(Application.__table__.c.nik)).scalars().all()
    assert len({nik for nik, _, _ in stored}) == 3 and not any(NIK in nik for nik, _, _ in stored)
    assert {nik_hash for _, nik_hash, _ in stored} == {crypto.keyed_hash(NIK, "nik")}
    assert [active for _, _, active in stored] == [crypto.keyed_hash(NIK, "nik"), None, None]
    assert opened == [NIK] * 3
