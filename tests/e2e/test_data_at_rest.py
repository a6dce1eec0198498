"""A copy of the database holds no NIK or KK in plain text: after whole registrations through
the live service (by SMS, by USSD, at the counter, a dialogue left half-way, a death reported with
its signed akta attached), staff work on them, and an upgrade of a database that an older release
filled in plain text. On SQLite the file and its WAL are read byte by byte, exactly as a copy
would hold them; on both databases every value of every table is read back as text."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from document_steps import advance, attach, reference_in
from live_service import KK, KK_2, NIK, NIK_2, PHONE, PHONE_2, LiveService
from sqlmodel import SQLModel
from staff_browser import StaffBrowser, make_staff

from sms_ktp import crypto
from sms_ktp.applications import penunggalan
from sms_ktp.domain.quiet_hours import QuietHours
from sms_ktp.domain.stages import Stage
from sms_ktp.models import PhoneState
from sms_ktp.platform import schema
from sms_ktp.platform.db import Database

NIK_3, KK_3, PHONE_3 = "3271015507880003", "3271030303210005", "+6281300000003"  # by USSD
NIK_4, KK_4, PHONE_4 = "3271044109920004", "3271050404220006", "+6281300000004"  # at the counter
DECEASED = "3271011208450003"  # reported dead by the family of PHONE
NUMBERS = (NIK, KK, NIK_2, KK_2, NIK_3, KK_3, NIK_4, KK_4, DECEASED)
REF = re.compile(r"\b(\d{9})\b")


def forms(number: str) -> list[bytes]:
    """The ways a copy could hold a number: ASCII (UTF-8) digits, and UTF-16 either way."""
    return [number.encode(), number.encode("utf-16-le"), number.encode("utf-16-be")]


def found_in(data: bytes) -> list[str]:
    return [number for number in NUMBERS if any(form in data for form in forms(number))]


def registrations(service: LiveService) -> str:
    """Every way a number enters the service, then the staff's work on it; returns a reference
    that the copy must hold (so that reading it is shown to read the data)."""
    # By SMS, in one message, confirmed.
    service.sms(PHONE, f"REG {NIK}#{KK}#")
    service.sms(PHONE, "2")
    reference = REF.search(" ".join(service.sms(PHONE, "YA"))).group(1)
    # A dialogue left half-way: NIK and KK typed (one with spaces), waiting for the reason.
    service.sms(PHONE_2, "DAFTAR")
    service.sms(PHONE_2, "3173 0212 0885 0002")
    service.sms(PHONE_2, KK_2)
    # By USSD, to the end, and the operator's end-of-session report with the last input.
    session = "ATUid_rest"
    for text in ("", "1", f"1*{NIK_3}", f"1*{NIK_3}*{KK_3}", f"1*{NIK_3}*{KK_3}*2",
                 f"1*{NIK_3}*{KK_3}*2*1"):
        service.ussd(session, text, PHONE_3)
    service.http.post(service.url("/ussd/end"), data={
        "sessionId": session, "phoneNumber": PHONE_3, "serviceCode": "*123*45#",
        "networkCode": "51010", "status": "Success", "input": f"1*{NIK_3}*{KK_3}*2*1",
        "durationInMillis": "9000", "hopsCount": "6"}, timeout=10)
    # At the counter, by a kelurahan helper.
    make_staff(service.runtime.db, "kel1", "helper")
    helper = StaffBrowser(service.base_url)
    helper.login("kel1")
    done = helper.post("/staff/register", {"nik": NIK_4, "kk": KK_4, "reason": "hilang",
                                           "suket": "", "phone": PHONE_4, "language": "id"})
    assert done.status_code == 200 and "***0004" in done.text
    # Staff at work: a search by NIK, the full numbers shown, a rejection whose reason quotes
    # a NIK, and Kemendagri's penunggalan result with a KK in its note.
    make_staff(service.runtime.db, "admin1", "admin")
    admin = StaffBrowser(service.base_url)
    admin.login("admin1")
    assert reference in admin.get("/staff/applications", params={"q": NIK}).text
    admin.get(f"/staff/applications/{reference}")
    assert NIK in admin.post(f"/staff/applications/{reference}/reveal").text
    admin.get(f"/staff/applications/{reference}")
    admin.post(f"/staff/applications/{reference}/reject", {"reason": f"NIK {NIK} tak cocok"})
    summary = penunggalan.Summary()
    rows = list(penunggalan.read_csv(f"nik,result,note\n{NIK_3},PRR,cek KK {KK_3}\n", summary))
    penunggalan.apply(service.runtime.db, service.runtime.clock, QuietHours(), rows, summary,
                      "op")
    assert summary.applied == 1
    # A death reported by SMS: the deceased's NIK in the answers, and the signed akta, which
    # quotes it, attached once the papers are checked.
    service.sms(PHONE, f"AKTA MATI {NIK}#{DECEASED}#27-11-2026#{KK}")
    death = reference_in(service.sms(PHONE, "YA")[0])
    advance(service, death, Stage.PAPERS_CHECKED)
    attach(service, death, {"akta.pdf": b"%PDF-1.7\n% NIK " + DECEASED.encode() + b"\n%%EOF\n"})
    # An SMS quoting a number with separators, and the worker sending every reply.
    service.sms(PHONE, f"STATUS 3271-0145-0190-0001 KK {KK}")
    service.worker.run_once()
    with service.runtime.db.connect() as connection:
        applications = connection.execute(sa.text("SELECT count(*) FROM application")).scalar()
        waiting = connection.execute(sa.text(
            "SELECT answers FROM phone_state WHERE phone = :p"), {"p": PHONE_2}).scalar()
    assert applications == 4 and waiting is not None  # the half-way dialogue is kept
    return reference


def every_value(database: Database) -> str:
    """Every value of every table, as text: what a dump of the database would show."""
    values: list[str] = []
    with database.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            for row in connection.execute(sa.text(f'SELECT * FROM "{table.name}"')):
                values += [str(value) for value in row]
    return "\n".join(values)


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_the_sqlite_file_and_its_wal_hold_no_nik_or_kk(service):
    reference = registrations(service)
    database = Path(service.runtime.db.engine.url.database)
    wal = database.with_name(database.name + "-wal")

    data = database.read_bytes() + (wal.read_bytes() if wal.exists() else b"")  # as copied

    assert wal.exists() and wal.stat().st_size > 0  # not checkpointed: the WAL is read too
    assert reference.encode() in data  # what is not personal is there to be read
    assert found_in(data) == []


def test_no_table_holds_a_nik_or_kk_in_plain_text(service):
    registrations(service)
    dump = every_value(service.runtime.db)
    assert dump.count(f"1:{crypto.ring().current}:") >= 6  # sealed numbers and answers
    assert [number for number in NUMBERS if number in dump] == []


def test_an_upgrade_leaves_no_plain_number_of_the_older_release_in_the_file(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'old.db'}")
    schema.upgrade(database, "0003_worker_heartbeats")
    now = datetime(2026, 11, 29, 23, 0)
    with database.connect() as connection:  # as the release before 0004 stored them
        family = connection.execute(sa.text(
            "INSERT INTO family (kk, phone, kecamatan_code, created_at) "
            "VALUES (:kk, :phone, '01', :now) RETURNING id"),
            {"kk": KK, "phone": PHONE, "now": now}).scalar_one()
        for number, (nik, active) in enumerate(((NIK, None), (NIK_3, NIK_3)), start=1):
            connection.execute(sa.text(
                "INSERT INTO application (reference, nik, active_nik, family_id, reason, stage, "
                "language, channel, created_at, updated_at, pickup_reschedules, "
                "pickup_changes) VALUES (:ref, :nik, :active, :family, 'hilang', 'submitted', "
                "'id', 'sms', :now, :now, 0, 0)"),
                {"ref": f"10000000{number}", "nik": nik, "active": active, "family": family,
                 "now": now})
        connection.execute(sa.text(
            "INSERT INTO phone_state (phone, answers, prefill, updated_at) "
            "VALUES (:phone, :answers, :prefill, :now)"),
            {"phone": PHONE_2, "answers": f'{{"nik": "{NIK_2}", "kk": "{KK_2}"}}',
             "prefill": f'{{"kk": "{KK_3}"}}', "now": now})
        connection.execute(sa.text(  # no dialogue: JSON null, as the JSON column wrote it
            "INSERT INTO phone_state (phone, language, answers, prefill, updated_at) "
            "VALUES (:phone, 'en', 'null', 'null', :now)"), {"phone": PHONE, "now": now})
    path = tmp_path / "old.db"
    wal = tmp_path / "old.db-wal"
    before = path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    assert set(found_in(before)) == {NIK, KK, NIK_2, KK_2, NIK_3, KK_3}

    assert schema.upgrade(database) == schema.head_revision()

    after = path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    assert b"100000001" in after
    assert found_in(after) == []
    with database.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM application WHERE nik_hash = "
                                          ":h"), {"h": crypto.keyed_hash(NIK, "nik")}).scalar() == 1
        assert connection.execute(sa.text("SELECT answers, prefill FROM phone_state WHERE "
                                          "phone = :p"), {"p": PHONE}).one() == (None, None)
    with database.transaction() as session:
        assert session.get(PhoneState, PHONE_2).answers == {"nik": NIK_2, "kk": KK_2}
    database.dispose()
