"""A KK's signed PDF printed at a kelurahan or kecamatan office over real HTTP: staff type the
code the family quotes in the counter's search box and land on the application's print page
(the code on no page and in no URL); a helper prints only with the code or for a family of their
kelurahan, an operator their kecamatan's; every print is audited and the first one records the
ready application collected, with no SMS."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import insert, select, update
from staff_browser import StaffBrowser, signed_in

from sms_ktp.applications import document_files
from sms_ktp.models import (
    Application,
    ApplicationEvent,
    AuditEntry,
    Family,
    OutboxMessage,
)

PHONE = "+6281234567890"
PDF = b"%PDF-1.5\n% KK signed by TTE\n%%EOF\n"
REFERENCE = "100000001"
KELURAHAN = "3271011001"  # of kecamatan 01, the family's
OTHER_KELURAHAN = "3271011002"
_APPLICATION = Application.__table__
_OUTBOX = OutboxMessage.__table__


def ready_kk(service, phone: str = PHONE) -> str:
    """A KK application of kecamatan 01 at `ready` with its signed PDF: the code of its SMS."""
    runtime = service.runtime
    now = runtime.clock.now()
    with runtime.db.connect() as connection:
        family_id = connection.execute(insert(Family.__table__).values(
            kk="3271010101200003", phone=phone, kecamatan_code="01", created_at=now)
            .returning(Family.__table__.c.id)).scalar_one()
        application_id = connection.execute(insert(_APPLICATION).values(
            reference=REFERENCE, document="kk", nik="3271014501900001", family_id=family_id,
            reason="pisah", stage="signed", language="id", channel="sms", created_at=now,
            updated_at=now).returning(_APPLICATION.c.id)).scalar_one()
        document_files.attach(connection, REFERENCE, "KK.pdf", PDF, settings=runtime.settings,
                              actor="staff:op01", now=now)
        connection.execute(update(_APPLICATION).values(stage="ready"))
        document_files.notify_ready(connection, application_id, now, runtime.settings,
                                    runtime.quiet_hours)
        text = connection.execute(select(_OUTBOX.c.text)).scalar_one()
    return re.search(r"kode ([A-Z0-9]{8})", text).group(1)


def type_code(browser: StaffBrowser, code: str):  # type: ignore[no-untyped-def]
    """The counter's search with what the family quotes: its 303, then the page it leads to."""
    browser.get("/staff/counter")
    answer = browser.post("/staff/counter", {"q": f"{code[:4].lower()} {code[4:]}"},
                          allow_redirects=False)
    assert answer.status_code == 303 and code not in answer.headers["Location"]
    return browser.get(answer.headers["Location"].removeprefix(browser.base_url))


def print_first(browser: StaffBrowser, page_text: str):  # type: ignore[no-untyped-def]
    action = re.search(r'action="(/staff/applications/\d+/print/\d+)"', page_text).group(1)
    return browser.post(action)


def stage(service) -> str:
    with service.runtime.db.connect() as connection:
        return connection.execute(select(_APPLICATION.c.stage)).scalar_one()


def audit(service) -> list[tuple[str, str, str]]:
    table = AuditEntry.__table__
    with service.runtime.db.connect() as connection:
        return [(row.actor, row.action, row.target) for row in connection.execute(
            select(table).order_by(table.c.id))]


def sms_count(service) -> int:
    with service.runtime.db.connect() as connection:
        return len(connection.execute(select(_OUTBOX.c.id)).all())


def test_a_helper_given_the_code_prints_the_pdf_and_it_is_collected(service):
    code = ready_kk(service)
    helper = signed_in(service, "kel.lain", "helper", OTHER_KELURAHAN)
    assert "Loket" in helper.get("/staff/counter").text
    page = type_code(helper, code)
    assert page.status_code == 200 and page.url.endswith(f"/staff/applications/{REFERENCE}/print")
    assert "Cetak KK" in page.text and "KK.pdf" in page.text and code not in page.text
    printed = print_first(helper, page.text)
    assert printed.status_code == 200 and printed.content == PDF
    assert printed.headers["Content-Type"] == "application/pdf"
    assert printed.headers["Cache-Control"] == "no-store"
    assert stage(service) == "collected"
    with service.runtime.db.connect() as connection:
        event = connection.execute(select(ApplicationEvent.__table__)
                                   .order_by(ApplicationEvent.__table__.c.id.desc())).first()
    assert (event.stage, event.actor, event.note) == (
        "collected", "staff:kel.lain", "printed at the office for the family")
    assert sms_count(service) == 1  # the ready SMS only: none for the print
    again = print_first(helper, helper.get(f"/staff/applications/{REFERENCE}/print").text)
    assert again.content == PDF and stage(service) == "collected"
    assert [entry for entry in audit(service) if entry[1] == "document.print"] == [
        ("staff:kel.lain", "document.print", f"application {REFERENCE}")] * 2
    timeline = helper.get(f"/staff/applications/{REFERENCE}").text
    assert "Dicetak untuk warga di kantor kelurahan/kecamatan" in timeline
    assert code not in timeline


def test_a_helper_without_the_code_prints_only_for_a_family_of_their_kelurahan(service):
    ready_kk(service)
    stranger = signed_in(service, "kel.lain", "helper", OTHER_KELURAHAN)
    refused = stranger.get(f"/staff/applications/{REFERENCE}/print")
    assert refused.status_code == 403 and "ketik kode itu di" in refused.text
    assert stranger.post(f"/staff/applications/{REFERENCE}/print/1").status_code == 403
    assert "Cetak untuk warga" not in stranger.get(f"/staff/applications/{REFERENCE}").text
    assert stage(service) == "ready"
    assert not [entry for entry in audit(service) if entry[1] == "document.print"]

    # Registered at the family's kelurahan by one of its helpers: its other helpers print it.
    with service.runtime.db.connect() as connection:
        connection.execute(insert(ApplicationEvent.__table__).values(
            application_id=connection.execute(select(_APPLICATION.c.id)).scalar_one(),
            at=service.runtime.clock.now(), stage="submitted", actor="staff:kel.daftar",
            note=""))
    signed_in(service, "kel.daftar", "helper", KELURAHAN)
    neighbour = signed_in(service, "kel.rekan", "helper", KELURAHAN)
    assert "Cetak untuk warga" in neighbour.get(f"/staff/applications/{REFERENCE}").text
    page = neighbour.get(f"/staff/applications/{REFERENCE}/print")
    assert page.status_code == 200
    assert print_first(neighbour, page.text).content == PDF
    assert stage(service) == "collected"


def test_a_family_without_a_phone_prints_at_its_kelurahan(service):
    ready_kk(service, phone=f"kel:{KELURAHAN}")
    helper = signed_in(service, "kel.rumah", "helper", KELURAHAN)
    page = helper.get(f"/staff/applications/{REFERENCE}/print")
    assert page.status_code == 200 and print_first(helper, page.text).content == PDF


def test_an_operator_prints_their_kecamatans_and_finds_no_other(service):
    code = ready_kk(service)
    other = signed_in(service, "op06", "operator", "06")
    missed = type_code(other, code)
    assert missed.url.endswith("/staff/counter")
    assert "Kode dokumen tidak ditemukan di kecamatan Anda" in missed.text
    assert other.get(f"/staff/applications/{REFERENCE}/print").status_code == 404
    own = signed_in(service, "op01", "operator", "01")
    page = own.get(f"/staff/applications/{REFERENCE}/print")
    assert print_first(own, page.text).content == PDF
    assert audit(service)[-1] == ("staff:op01", "document.print", f"application {REFERENCE}")


def test_a_renewed_code_no_longer_opens_nor_prints(service):
    code = ready_kk(service)
    helper = signed_in(service, "kel.lain", "helper", OTHER_KELURAHAN)
    page = type_code(helper, code)
    assert page.status_code == 200
    runtime = service.runtime
    with runtime.db.connect() as connection:
        document_files.renew(connection, REFERENCE, runtime.clock.now(), runtime.settings,
                             runtime.quiet_hours, actor="staff:op01")
    assert print_first(helper, page.text).status_code == 403
    again = type_code(helper, code)
    assert again.url.endswith("/staff/counter") and "sudah tidak berlaku" in again.text
    assert stage(service) == "ready"


@pytest.mark.parametrize("typed", ["3271014501900001", REFERENCE, "081234567890"])
def test_a_helpers_counter_takes_only_a_documents_code(service, typed):
    ready_kk(service)
    helper = signed_in(service, "kel.lain", "helper", OTHER_KELURAHAN)
    helper.get("/staff/counter")
    answer = helper.post("/staff/counter", {"q": typed})
    assert answer.url.endswith("/staff/counter") and "Ketik kode dokumen" in answer.text
    assert "KK 3271" not in answer.text
    assert helper.get("/staff/counter?keluarga=1").text.count("/staff/counter/families/") == 0
