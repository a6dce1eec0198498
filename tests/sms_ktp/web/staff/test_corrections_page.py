"""A helper corrects or cancels a registration they made at the counter, until it is verified:
the NIK (valid, not another open application's), the KK (of the regency; another family's only
with the same phone), the reason (the family is told what to bring now) and the Suket number;
a cancellation shows the SMS first. Nobody else's registration, and nothing after verification."""

from __future__ import annotations

from live_service import KK, KK_2, NIK, NIK_2, PHONE, PHONE_2, LiveService
from sqlalchemy import select
from staff_browser import signed_in

from sms_ktp.applications import assisted
from sms_ktp.models import Application, ApplicationEvent, AuditEntry, Family

NIK_3 = "3271015507880003"
KK_3 = "3271010303210005"  # a new family card of kecamatan 01


def registered(service: LiveService, actor: str = "staff:pendamping", nik: str = NIK) -> str:
    runtime = service.runtime
    done = assisted.register_assisted(
        runtime.db, runtime.clock, runtime.pickup_policy(),
        assisted.AssistedForm(nik=nik, kk=KK, reason="hilang", phone=PHONE), actor)
    service.worker.run_once()
    service.received(PHONE)
    return done.reference




def row(service: LiveService, reference: str) -> Application:
    with service.runtime.db.transaction() as session:
        return session.exec(select(Application).where(Application.reference == reference)
                            ).one()[0]


def test_a_helper_corrects_their_registration_and_the_family_is_told_what_matters(service):
    reference = registered(service)
    helper = signed_in(service, "pendamping", "helper", "3271011001")
    page = helper.get(f"/staff/applications/{reference}").text
    assert "Pendaftaran yang Anda buat" in page and f"{reference}/correct" in page
    path = f"/staff/applications/{reference}/correct"
    refused = helper.post(path, {"nik": "1234", "kk": "3201010101200003", "reason": "hilang"})
    assert refused.status_code == 200 and 'role="alert"' in refused.text
    assert "NIK harus 16 angka" in refused.text and "bukan KK Kota Bogor" in refused.text
    assert 'value="1234"' not in refused.text  # numbers typed are not sent back
    kk_only = helper.post(path, {"kk": KK_3, "reason": "hilang"}, allow_redirects=False)
    assert kk_only.status_code == 303
    assert "Tanpa SMS" in helper.get(f"/staff/applications/{reference}").text
    with service.runtime.db.connect() as connection:
        family = connection.execute(select(Family.phone, Family.kecamatan_code).join(
            Application, Application.family_id == Family.id)
            .where(Application.reference == reference)).one()
    assert tuple(family) == (PHONE, "01")  # a new family row, the same phone
    done = helper.post(path, {"nik": NIK_3, "reason": "rusak"}).text
    assert "NIK ***0001 -&gt; ***0003" in done and "Keluarga diberi tahu lewat SMS" in done
    service.worker.run_once()
    assert service.received(PHONE) == [
        f"Data pendaftaran KTP-el ref {reference} diperbaiki petugas: NIK ***0003, alasan "
        "rusak. Saat ambil bawa KTP-el yang rusak."]
    assert service.sms(PHONE, f"DAFTAR {NIK}#{KK}#2")  # the old NIK is free again
    with service.runtime.db.connect() as connection:
        notes = connection.execute(select(ApplicationEvent.note).order_by(ApplicationEvent.id)
                                   ).scalars().all()
        actions = connection.execute(select(AuditEntry.action, AuditEntry.detail).where(
            AuditEntry.action == "application.correct")).all()
    assert any("NIK ***0001 -> ***0003" in note for note in notes)
    assert len(actions) == 2 and all(NIK not in detail for _, detail in actions)


def test_a_nik_of_another_open_application_and_another_familys_kk_are_refused(service):
    reference = registered(service)
    service.sms(PHONE_2, f"DAFTAR {NIK_2}#{KK_2}#2")
    service.sms(PHONE_2, "YA")
    helper = signed_in(service, "pendamping", "helper", "3271011001")
    path = f"/staff/applications/{reference}/correct"
    taken = helper.post(path, {"nik": NIK_2, "reason": "hilang"}).text
    assert "sudah punya pendaftaran yang sedang diproses" in taken
    other_phone = helper.post(path, {"kk": KK_2, "reason": "hilang"}).text
    assert "sudah terdaftar dengan nomor HP lain" in other_phone
    assert row(service, reference).nik == NIK


def test_the_registrant_cancels_after_reading_the_sms_and_nobody_else_may(service):
    reference = registered(service)
    other = signed_in(service, "pendamping2", "helper", "3271011001")
    assert "Pendaftaran yang Anda buat" not in other.get(f"/staff/applications/{reference}").text
    assert "bukan pendaftaran Anda" in other.post(
        f"/staff/applications/{reference}/withdraw", {"note": "x", "confirmed": "1"}).text
    helper = signed_in(service, "pendamping", "helper", "3271011001")
    question = helper.post(f"/staff/applications/{reference}/withdraw",
                           {"note": "salah orang"}).text
    assert "dibatalkan petugas" in question and "Rp 350" in question
    assert row(service, reference).stage == "submitted"
    helper.post(f"/staff/applications/{reference}/withdraw",
                {"note": "salah orang", "confirmed": "1"})
    assert row(service, reference).stage == "cancelled"
    service.worker.run_once()
    assert len(service.received(PHONE)) == 1


def test_after_verification_the_helper_can_no_longer_correct(service):
    reference = registered(service)
    operator = signed_in(service, "op01", "operator", "01")
    operator.post(f"/staff/applications/{reference}/verify")
    helper = signed_in(service, "pendamping", "helper", "3271011001")
    page = helper.get(f"/staff/applications/{reference}").text
    assert "Pendaftaran yang Anda buat" not in page
    refused = helper.post(f"/staff/applications/{reference}/correct",
                          {"nik": NIK_3, "reason": "rusak"}).text
    assert "tidak bisa diperbaiki" in refused
    assert row(service, reference).nik == NIK
