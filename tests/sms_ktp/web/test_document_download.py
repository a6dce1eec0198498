"""The download page `/d/<code>` over real HTTP: the PIN form (with its CSRF token), a wrong PIN
and the tries left, the lock, an expired or renewed link, one PDF served as an attachment, a
list of several with links good for 10 minutes, and the application collected by the first
download."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import requests
from sqlalchemy import insert, select, update

from sms_ktp.applications import document_files
from sms_ktp.models import Application, AuditEntry, Family, OutboxMessage

PHONE = "+6281234567890"
PDF = b"%PDF-1.4\n% a signed KK\n%%EOF\n"
_APPLICATION = Application.__table__
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def ready_application(service, *files: bytes, link_days: int = 14) -> tuple[str, str, str]:
    """A KK application with `files` attached and moved to ready: (reference, code, PIN) as its
    SMS gives them."""
    runtime = service.runtime
    now = runtime.clock.now()
    runtime.settings.documents.link_days = link_days
    runtime.settings.server.public_url = service.base_url
    with runtime.db.connect() as connection:
        family_id = connection.execute(insert(Family.__table__).values(
            kk="3271010101200003", phone=PHONE, kecamatan_code="01", created_at=now)
            .returning(Family.__table__.c.id)).scalar_one()
        application_id = connection.execute(insert(_APPLICATION).values(
            reference="100000001", document="kk", nik="3271014501900001", family_id=family_id,
            reason="pisah", stage="signed", language="id", channel="sms", created_at=now,
            updated_at=now).returning(_APPLICATION.c.id)).scalar_one()
        for number, content in enumerate(files or (PDF,)):
            document_files.attach(connection, "100000001", f"berkas {number + 1}.pdf", content,
                                  settings=runtime.settings, actor="staff:op1", now=now)
        connection.execute(update(_APPLICATION).values(stage="ready"))
        document_files.notify_ready(connection, application_id, now, runtime.settings,
                                    runtime.quiet_hours)
        text = connection.execute(select(OutboxMessage.__table__.c.text)).scalar_one()
    found = re.search(r"/d/([A-Z0-9]{8}) PIN (\d{6})", text)
    assert found and text.startswith(f"KK ref 100000001 sudah jadi. Unduh {service.base_url}/d/")
    return "100000001", found.group(1), found.group(2)


class Family_:
    """The family's phone browser: keeps its cookie, posts the form with its token."""

    def __init__(self, service) -> None:
        self.base = service.base_url
        self.http = requests.Session()
        self.token = ""

    def get(self, path: str) -> requests.Response:
        response = self.http.get(self.base + path, timeout=10)
        found = _TOKEN.search(response.text)
        self.token = found.group(1) if found else self.token
        return response

    def pin(self, code: str, pin: str) -> requests.Response:
        if not self.token:
            self.get(f"/d/{code}")
        response = self.http.post(f"{self.base}/d/{code}",
                                  data={"pin": pin, "csrf_token": self.token}, timeout=10)
        found = _TOKEN.search(response.text)
        self.token = found.group(1) if found else self.token
        return response


def stage(service) -> str:
    with service.runtime.db.connect() as connection:
        return connection.execute(select(_APPLICATION.c.stage)).scalar_one()


def wrong_pin(pin: str) -> str:
    return "000000" if pin != "000000" else "111111"


def test_the_page_asks_the_pin_in_indonesian_with_the_regency(service):
    _, code, _ = ready_application(service)
    page = Family_(service).get(f"/d/{code}")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "Disdukcapil Kota Bogor" in page.text and 'name="pin"' in page.text
    assert "Masukkan PIN 6 angka" in page.text and "/staff/" not in page.text
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_a_wrong_then_the_right_pin_downloads_the_pdf_and_collects_it(service):
    _, code, pin = ready_application(service)
    family = Family_(service)
    wrong = family.pin(code, wrong_pin(pin))
    assert wrong.status_code == 403 and "PIN salah, sisa 4 kali" in wrong.text
    assert stage(service) == "ready"
    right = family.pin(code, pin)
    assert right.status_code == 200 and right.content == PDF
    assert right.headers["Content-Type"] == "application/pdf"
    assert right.headers["Content-Disposition"].startswith('attachment; filename="berkas 1.pdf"')
    assert right.headers["Cache-Control"] == "no-store"
    assert stage(service) == "collected"
    with service.runtime.db.connect() as connection:
        actions = connection.execute(select(AuditEntry.__table__.c.action,
                                            AuditEntry.__table__.c.address)
                                     .order_by(AuditEntry.__table__.c.id)).all()
    assert [action for action, _ in actions][-2:] == ["document.wrong_pin", "document.download"]
    assert actions[-1].address == "127.0.0.1"
    again = family.pin(code, pin)  # a second download still works, and changes nothing more
    assert again.content == PDF and stage(service) == "collected"


def test_five_wrong_pins_lock_the_link(service):
    _, code, pin = ready_application(service)
    family = Family_(service)
    for left in (4, 3, 2, 1):
        assert f"PIN salah, sisa {left} kali" in family.pin(code, wrong_pin(pin)).text
    locked = family.pin(code, wrong_pin(pin))
    assert locked.status_code == 403 and "Tautan dikunci" in locked.text
    assert "kantor kecamatan" in locked.text
    after = family.pin(code, pin)
    assert after.status_code == 403 and after.content != PDF
    assert "Tautan dikunci" in family.get(f"/d/{code}").text


def test_several_files_are_listed_with_links_good_for_ten_minutes(service):
    _, code, pin = ready_application(service, PDF, PDF + b"% KIA\n")
    family = Family_(service)
    listed = family.pin(code, pin)
    assert listed.status_code == 200 and "berkas 1.pdf" in listed.text
    links = re.findall(rf'href="(/d/{code}/f/[^"]+)"', listed.text)
    assert len(links) == 2 and pin not in "".join(links)
    assert stage(service) == "ready"  # nothing downloaded yet
    second = family.http.get(service.base_url + links[1].replace("&amp;", "&"), timeout=10)
    assert second.content == PDF + b"% KIA\n" and stage(service) == "collected"
    service.runtime.clock.advance(timedelta(minutes=11))
    stale = family.get(links[0].replace("&amp;", "&"))
    assert stale.status_code == 403 and "lewat waktunya" in stale.text
    assert family.get(links[0][:-3] + "xyz").status_code == 403  # a forged token


def test_an_expired_link_and_an_unknown_code_say_so(service):
    _, code, pin = ready_application(service, link_days=1)
    service.runtime.clock.advance(timedelta(days=2))
    family = Family_(service)
    page = family.get(f"/d/{code}")
    assert page.status_code == 410 and "kedaluwarsa" in page.text
    assert family.pin(code, pin).status_code == 410
    unknown = family.get("/d/ACDEFHJK")
    assert unknown.status_code == 404 and "Tautan tidak dikenal" in unknown.text


def test_a_renewed_link_ends_the_old_one(service):
    reference, code, _ = ready_application(service)
    runtime = service.runtime
    with runtime.db.connect() as connection:
        document_files.renew(connection, reference, runtime.clock.now(), runtime.settings,
                             runtime.quiet_hours, actor="staff:op1")
    page = Family_(service).get(f"/d/{code}")
    assert page.status_code == 410 and "sudah diganti" in page.text


@pytest.mark.parametrize("token", [None, "not-the-token"])
def test_a_pin_posted_without_the_forms_token_is_asked_again(service, token):
    _, code, pin = ready_application(service)
    data = {"pin": pin} if token is None else {"pin": pin, "csrf_token": token}
    response = requests.post(f"{service.base_url}/d/{code}", data=data, timeout=10)
    assert response.status_code == 400 and 'name="pin"' in response.text
    assert response.content != PDF and stage(service) == "ready"
