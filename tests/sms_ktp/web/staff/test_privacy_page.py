"""A resident's requests at the office over real HTTP: an admin downloads everything held about
one NIK (and nothing about anyone else), or erases it after a confirmation; the statistics keep
their counts, the audit log records both without the full NIK, and other roles are refused."""

from __future__ import annotations

import json
import re

import pytest
from live_service import KK, KK_2, NIK, NIK_2, PHONE, PHONE_2, LiveService
from sqlalchemy import select
from staff_browser import StaffBrowser, make_staff

from sms_ktp.applications import decisions, penunggalan, printing
from sms_ktp.backoffice.dashboard import dashboard
from sms_ktp.domain.quiet_hours import QuietHours
from sms_ktp.models import Application, AuditEntry, Family, OutboxMessage

NIK_3 = "3271015507880003"  # a second member of the first family
REF = re.compile(r"ref (\d{9})")
SIXTEEN_DIGITS = re.compile(r"\d{16}")


def register(service: LiveService, nik: str, kk: str = KK, phone: str = PHONE) -> str:
    service.sms(phone, f"DAFTAR {nik}#{kk}#2")
    return REF.search(service.sms(phone, "YA")[0]).group(1)


def signed_in(service: LiveService, role: str, office: str | None = None) -> StaffBrowser:
    make_staff(service.runtime.db, f"{role}1", role, office)
    browser = StaffBrowser(service.base_url)
    browser.login(f"{role}1")
    browser.get("/staff/privacy" if role == "admin" else "/staff/login")
    return browser


@pytest.fixture
def admin(service) -> StaffBrowser:
    return signed_in(service, "admin")


def application(service: LiveService, reference: str) -> Application:
    with service.runtime.db.transaction() as session:
        return session.exec(select(Application).where(Application.reference == reference)
                            ).one()[0]


def audit(service: LiveService) -> list[AuditEntry]:
    with service.runtime.db.transaction() as session:
        return [row[0] for row in session.exec(
            select(AuditEntry).where(AuditEntry.action.like("privacy.%"))
            .order_by(AuditEntry.id)).all()]


def figures(service: LiveService):  # type: ignore[no-untyped-def]
    runtime = service.runtime
    with runtime.db.connect() as connection:
        table = Application.__table__
        per_channel = sorted(connection.execute(select(table.c.channel, table.c.created_at))
                             .all())
        return dashboard(connection, runtime.clock.now(), sites=["disdukcapil"]), per_channel


def cancel(service: LiveService, reference: str) -> None:
    runtime = service.runtime
    decisions.cancel(runtime.db, runtime.clock, QuietHours(), reference, "warga minta batal",
                     "staff:op1")


def scheduled(service: LiveService, nik: str) -> None:
    """The resident's card printed and its pickup scheduled."""
    runtime = service.runtime
    summary = penunggalan.Summary()
    rows = list(penunggalan.read_csv(f"nik,result,note\n{nik},PRR,\n", summary))
    penunggalan.apply(runtime.db, runtime.clock, QuietHours(), rows, summary, "op")
    printing.add_blangko(runtime.db, runtime.clock, "disdukcapil", 1, "op")
    batch = printing.reserve_next(runtime.db, runtime.clock, "disdukcapil", None)
    printing.mark_printed(runtime.db, runtime.clock, QuietHours(), batch.batch_id, "op")
    service.worker.run_once()


# --- export -------------------------------------------------------------------------------------

def test_the_export_holds_the_residents_data_and_nobody_elses(service, admin):
    mine = register(service, NIK)
    sibling = register(service, NIK_3)  # same family, same phone
    stranger = register(service, NIK_2, KK_2, PHONE_2)
    cancel(service, mine)
    service.worker.run_once()

    response = admin.post("/staff/privacy/export", {"nik": "3271 0145.0190-0001"})

    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="data-warga-0001-20261130.json"')
    assert response.headers["Cache-Control"] == "no-store"
    assert NIK not in response.url
    document = json.loads(response.text)
    assert document["nik"] == NIK
    [exported] = document["applications"]
    assert (exported["reference"], exported["stage"], exported["reason"]) == (
        mine, "cancelled", "hilang")
    assert exported["family"] == {"kk": KK, "phone": PHONE, "kecamatan_code": "01",
                                  "kecamatan": "Bogor Selatan"}
    assert exported["consent"]["version"] == "2026-11"
    assert [event["stage"] for event in exported["timeline"]] == ["submitted", "cancelled"]
    texts = [sms["text"] for sms in document["sms"]]
    assert any(mine in text for text in texts)  # the confirmation with its reference
    assert any("dibatalkan petugas" in text for text in texts)
    assert all(sms["to"] == PHONE for sms in document["sms"])
    for other in (sibling, stranger, NIK_3, NIK_2, KK_2, PHONE_2, "***0002"):
        assert other not in response.text, other

    [entry] = audit(service)
    assert (entry.actor, entry.action, entry.target) == (
        "staff:admin1", "privacy.export", "NIK ***0001")
    assert SIXTEEN_DIGITS.search(entry.detail + entry.target) is None


def test_an_unknown_or_mistyped_nik_exports_nothing(service, admin):
    unknown = admin.post("/staff/privacy/export", {"nik": NIK})
    assert unknown.status_code == 404
    assert "Tidak ada data pribadi yang disimpan untuk NIK ***0001" in unknown.text
    assert NIK not in unknown.text
    mistyped = admin.post("/staff/privacy/export", {"nik": "3271 0145"})
    assert mistyped.status_code == 422 and "16 angka" in mistyped.text
    assert [entry.target for entry in audit(service)] == ["NIK ***0001"]  # the look-up


# --- erasure ------------------------------------------------------------------------------------

def test_erasing_asks_first_then_erases_and_the_counts_stay(service, admin):
    mine = register(service, NIK)
    sibling = register(service, NIK_3)
    cancel(service, mine)
    service.worker.run_once()
    service.received(PHONE)
    before = figures(service)

    asked = admin.post("/staff/privacy/erase", {"nik": NIK})
    assert asked.status_code == 200
    assert "Hapus data pribadi NIK ***0001?" in asked.text and mine in asked.text
    assert "tetap disimpan untuk anggota keluarga lainnya" in asked.text
    assert asked.headers["Cache-Control"] == "no-store"
    assert application(service, mine).erased_at is None  # nothing yet

    done = admin.post("/staff/privacy/erase", {"nik": NIK, "confirm": "1"},
                      allow_redirects=False)
    assert done.status_code == 303 and done.headers["Location"].endswith("/staff/privacy")
    shown = admin.get("/staff/privacy").text
    assert "Data pribadi NIK ***0001 dihapus: 1 permohonan" in shown

    erased = application(service, mine)
    assert erased.erased_at == service.runtime.clock.now()
    assert (erased.nik, erased.nik_hash, erased.suket_number) == (None, None, None)
    assert figures(service) == before  # same counts per stage, kecamatan, channel and day
    assert application(service, sibling).nik == NIK_3
    with service.runtime.db.connect() as connection:
        kk = connection.execute(select(Family.__table__.c.kk)).scalar_one()
        texts = connection.execute(select(OutboxMessage.__table__.c.text)).scalars().all()
    assert kk == KK  # the sibling's application still needs the family card
    assert not [text for text in texts if mine in text or "***0001" in text]
    assert any(sibling in text for text in texts)
    [status] = service.sms(PHONE, "STATUS")
    assert sibling in status and mine not in status

    [entry] = audit(service)
    assert (entry.action, entry.target) == ("privacy.erase", "NIK ***0001")
    assert entry.detail == "applications=1 cancelled=0 families=0 sms=3"  # summary, done, cancel
    assert admin.post("/staff/privacy/export", {"nik": NIK}).status_code == 404


def test_the_last_member_takes_the_familys_kk_and_phone_along(service, admin):
    mine = register(service, NIK)  # still submitted: it is cancelled first, without an SMS
    admin.post("/staff/privacy/erase", {"nik": NIK})
    admin.post("/staff/privacy/erase", {"nik": NIK, "confirm": "1"})
    erased = application(service, mine)
    assert erased.stage == "cancelled" and erased.erased_at is not None
    with service.runtime.db.connect() as connection:
        family = connection.execute(select(Family.__table__)).one()
        phones = connection.execute(select(OutboxMessage.__table__.c.phone)).scalars().all()
    assert (family.kk, family.kk_hash, family.phone) == (None, None, "")
    assert set(phones) == {""}  # the phone's SMS are forgotten with the family
    assert service.sms(PHONE, "STATUS") == [
        "Belum ada pendaftaran KTP-el untuk nomor HP ini. Ketik DAFTAR untuk mendaftar."]
    [entry] = audit(service)
    assert entry.detail == "applications=1 cancelled=1 families=1 sms=2"
    # The resident can register again, as anyone new.
    assert register(service, NIK) != mine


def test_a_card_being_handed_over_is_not_erased(service, admin):
    reference = register(service, NIK)
    scheduled(service, NIK)
    asked = admin.post("/staff/privacy/erase", {"nik": NIK})
    assert asked.status_code == 409
    assert "Data belum bisa dihapus" in asked.text and reference in asked.text
    assert 'name="confirm"' not in asked.text
    forced = admin.post("/staff/privacy/erase", {"nik": NIK, "confirm": "1"})
    assert forced.status_code == 409
    assert application(service, reference).nik == NIK
    assert audit(service) == []


@pytest.mark.parametrize(("role", "office"), [("operator", "01"), ("helper", None),
                                              ("viewer", None)])
def test_only_admins_handle_requests(service, role, office):
    register(service, NIK)
    browser = signed_in(service, role, office)
    assert browser.get("/staff/privacy").status_code == 403
    for path in ("/staff/privacy/export", "/staff/privacy/erase"):
        response = browser.post(path, {"nik": NIK, "confirm": "1"})
        assert response.status_code == 403 and NIK not in response.text
    assert audit(service) == []
    with service.runtime.db.connect() as connection:
        assert connection.execute(select(Application.__table__.c.erased_at)).scalar_one() is None
