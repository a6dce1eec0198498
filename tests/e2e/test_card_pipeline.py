"""From registration to printing: penunggalan results, blangko, print batches, and the SMS the
family receives on the way (quiet hours respected)."""

from __future__ import annotations

import re
from datetime import timedelta

from live_service import KK, KK_2, NIK, NIK_2, PHONE, PHONE_2, LiveService
from sqlmodel import select

from sms_ktp.applications import penunggalan, printing
from sms_ktp.domain.quiet_hours import QuietHours
from sms_ktp.messaging.whatsapp_templates import notice_parameters
from sms_ktp.models import Application, ApplicationEvent, BlangkoMovement, OutboxMessage

REF = re.compile(r"ref (\d{9})")
QUIET = QuietHours.parse("20:00-07:00")
NIK_3 = "3271015507880003"  # born 15 July 1988, a woman


def register(service: LiveService, phone: str, nik: str, kk: str) -> str:
    service.sms(phone, f"DAFTAR {nik}#{kk}#2")
    return REF.search(service.sms(phone, "YA")[0]).group(1)


def import_rows(service: LiveService, text: str) -> penunggalan.Summary:
    summary = penunggalan.Summary()
    rows = list(penunggalan.read_csv(text, summary))
    return penunggalan.apply(service.runtime.db, service.runtime.clock, QUIET, rows, summary,
                             "operator:test")


def deliver(service: LiveService) -> None:
    """Send what is due and forget it, so the next look sees only new SMS."""
    service.worker.run_once()
    service.received(PHONE)


def application(service: LiveService, reference: str) -> Application:
    with service.runtime.db.transaction() as session:
        return session.exec(select(Application).where(Application.reference == reference)).one()


def timeline(service: LiveService, reference: str) -> list[tuple[str, str]]:
    app = application(service, reference)
    with service.runtime.db.transaction() as session:
        events = session.exec(select(ApplicationEvent)
                              .where(ApplicationEvent.application_id == app.id)
                              .order_by(ApplicationEvent.id)).all()
    return [(e.stage, e.actor) for e in events]


def test_penunggalan_results_are_applied_once_and_told_to_the_family(service):
    prr = register(service, PHONE, NIK, KK)
    duplicate = register(service, PHONE, NIK_2, KK)
    csv = (f"nik,result,note\n{NIK},PRR,\n{NIK_2},duplicate,rekam ganda 2019\n"
           "3271014501909999,PRR,\n12345,PRR,\n3271014501900001,MAYBE,\n\n"
           f"{NIK_3},PRR,x\n")
    summary = import_rows(service, csv)
    assert (summary.applied, summary.unknown, summary.already) == (2, 2, 0)
    assert summary.invalid == [(5, "NIK harus 16 angka (tertulis '***2345')"),
                               (6, "hasil harus PRR atau DUPLICATE (tertulis 'MAYBE')")]
    assert application(service, prr).stage == "print_queue"
    assert application(service, duplicate).stage == "duplicate"
    assert timeline(service, prr) == [("submitted", "resident:sms"),
                                      ("print_ready", "operator:test"),
                                      ("print_queue", "operator:test")]
    service.worker.run_once()
    notices = service.received(PHONE)
    assert notices == [
        f"Kabar KTP-el ref {prr} (NIK ***0001): penunggalan selesai, data siap cetak. Kini antre "
        "cetak; jadwal ambil dikirim lewat SMS.",
        f"KTP-el ref {duplicate} (NIK ***0002) belum bisa dicetak: data terekam ganda di "
        "Kemendagri. Datang ke kantor kecamatan membawa Suket dan KK."]
    # Each notice names what it is, and reads as that notice's WhatsApp template.
    with service.runtime.db.transaction() as session:
        told = session.exec(select(OutboxMessage).where(OutboxMessage.kind == "notification")
                            .order_by(OutboxMessage.id)).all()
    assert [m.notice for m in told] == ["notify.print_queue", "notify.duplicate"]
    assert all(notice_parameters(m.notice, "id", m.text) is not None for m in told)
    again = import_rows(service, csv)
    assert (again.applied, again.already, again.unknown) == (0, 2, 2)
    service.worker.run_once()
    assert service.received(PHONE) == []  # nothing changed, nothing sent
    assert len(timeline(service, prr)) == 3


def test_status_explains_the_wait_for_blangko(service):
    reference = register(service, PHONE, NIK, KK)
    import_rows(service, f"nik,result,note\n{NIK},PRR,\n")
    deliver(service)
    assert "menunggu blangko (kartu kosong) yang sedang habis" in service.sms(PHONE, "STATUS")[0]
    printing.add_blangko(service.runtime.db, service.runtime.clock, "disdukcapil", 10, "op")
    [status] = service.sms(PHONE, f"STATUS {reference}")
    assert status == (f"Ref {reference} NIK ***0001: siap cetak, antre giliran cetak. Jadwal "
                      "ambil dikirim lewat SMS.")


def test_a_batch_never_takes_more_than_the_free_blangko(service):
    references = [register(service, PHONE, NIK, KK), register(service, PHONE, NIK_2, KK),
                  register(service, PHONE_2, NIK_3, KK_2)]
    for nik in (NIK, NIK_2, NIK_3):
        service.runtime.clock.advance(timedelta(minutes=1))
        import_rows(service, f"nik,result,note\n{nik},PRR,\n")
    db, clock = service.runtime.db, service.runtime.clock
    printing.add_blangko(db, clock, "disdukcapil", 2, "op")
    first = printing.reserve_next(db, clock, "disdukcapil", limit=None)
    assert [card[0] for card in first.cards] == references[:2]  # in order of readiness
    assert printing.reserve_next(db, clock, "disdukcapil", limit=None).batch_id is None
    # the blangko ran out mid-queue: the third waits, and says so
    deliver(service)
    assert "menunggu blangko" in service.sms(PHONE_2, "STATUS")[0]
    assert printing.mark_printed(db, clock, QUIET, first.batch_id, "op") == 2
    assert printing.mark_printed(db, clock, QUIET, first.batch_id, "op") == 0
    assert [application(service, r).stage for r in references] == [
        "printed", "printed", "print_queue"]
    with db.connect() as connection:
        assert printing.stock(connection, "disdukcapil").total == 0
    with db.transaction() as session:
        movements = session.exec(select(BlangkoMovement).order_by(BlangkoMovement.id)).all()
    assert [(m.delta, m.reason) for m in movements] == [(2, "added"),
                                                        (-2, f"printed batch {first.batch_id}")]
    printing.add_blangko(db, clock, "disdukcapil", 5, "op")
    second = printing.reserve_next(db, clock, "disdukcapil", limit=1)
    assert [card[0] for card in second.cards] == references[2:]


def test_notifications_wait_for_morning_but_replies_do_not(service, clock):
    register(service, PHONE, NIK, KK)
    clock.set(clock.now().replace(hour=15))  # 22:00 WIB
    import_rows(service, f"nik,result,note\n{NIK},PRR,\n")
    service.worker.run_once()
    assert service.received(PHONE) == []  # the notification waits
    assert service.sms(PHONE, "STATUS")[0].startswith("Ref ")  # a reply does not
    clock.set(clock.now().replace(hour=23, minute=59))  # 06:59 WIB
    service.worker.run_once()
    assert service.received(PHONE) == []
    clock.advance(timedelta(minutes=1))  # 07:00 WIB
    service.worker.run_once()
    assert service.received(PHONE)[0].startswith("Kabar KTP-el ref ")


def test_notifications_follow_the_language_the_phone_chose_later(service):
    reference = register(service, PHONE, NIK, KK)  # registered in Indonesian
    service.sms(PHONE, "LANG EN")
    import_rows(service, f"nik,result,note\n{NIK},PRR,\n")
    service.worker.run_once()
    assert service.received(PHONE) == [
        f"KTP-el ref {reference} (NIK ***0001): de-duplication (penunggalan) done, ready to "
        "print. Now in the print queue; the pickup date comes by SMS."]
