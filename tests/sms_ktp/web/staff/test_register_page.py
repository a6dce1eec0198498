"""The assisted registration page over real HTTP: a kelurahan helper registers a resident at the
counter, the family phone gets the confirmation SMS and can follow the application by SMS."""

from __future__ import annotations

import html
import re

import pytest
from live_service import KK, NIK, NIK_2, PHONE, PHONE_2, LiveService
from sqlmodel import select
from staff_browser import StaffBrowser, make_staff

from sms_ktp.models import Application, ApplicationEvent, AuditEntry, OutboxMessage

PAGE = "/staff/register"
REF = re.compile(r'class="reference">(\d{9})<')


def helper(service: LiveService, role: str = "helper", office: str | None = None,
           username: str = "kel1") -> StaffBrowser:
    make_staff(service.runtime.db, username, role, office)
    browser = StaffBrowser(service.base_url)
    browser.login(username)
    return browser


def typed(**changes: str) -> dict[str, str]:
    return {"nik": "3271 0145 0190 0001", "kk": KK, "reason": "hilang",
            "suket": "", "phone": "0812-3456-7890", "language": "id", **changes}


def text_of(page: str) -> str:
    """The page as a reader sees its text: tags removed, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def value_of(page: str, name: str) -> str:
    found = re.search(rf'<input id="{name}" name="{name}"[^>]* value="([^"]*)"', page)
    assert found, f"no input {name}"
    return html.unescape(found.group(1))


def applications(service: LiveService) -> list[Application]:
    with service.runtime.db.transaction() as session:
        return list(session.exec(select(Application)).all())


def test_a_helper_registers_a_resident_and_the_family_phone_follows_it_by_sms(service):
    browser = helper(service)
    form = browser.get(PAGE)
    assert form.status_code == 200
    assert 'name="nik"' in form.text and 'name="phone"' in form.text
    assert "Daftarkan warga" in form.text

    done = browser.post(PAGE, typed())
    assert done.status_code == 200
    assert done.history and done.history[0].status_code == 303  # reloading cannot resend
    reference = REF.search(done.text).group(1)
    page = text_of(done.text)
    assert "Pendaftaran tersimpan" in page and "NIK ***0001" in page
    assert "Langkah berikutnya" in page and "surat kehilangan dari polisi" in page
    assert NIK not in done.text and KK not in done.text
    assert value_of(done.text, "nik") == "" and value_of(done.text, "phone") == ""  # a new form

    service.worker.run_once()
    assert service.received(PHONE) == [
        f"Pendaftaran diterima, no ref {reference}. Tunggu verifikasi & penunggalan Kemendagri; "
        "jadwal ambil dikirim via SMS. Saat ambil bawa surat kehilangan dari polisi."]
    assert service.sms(PHONE, "STATUS") == [
        f"Ref {reference} NIK ***0001: diterima, menunggu verifikasi petugas. Lalu penunggalan "
        "data di Kemendagri. Kami kirim SMS bila ada kabar."]

    [application] = applications(service)
    with service.runtime.db.transaction() as session:
        [event] = session.exec(select(ApplicationEvent)).all()
        [entry] = session.exec(select(AuditEntry).where(
            AuditEntry.action == "application.register")).all()
    assert (application.reference, application.nik, application.channel) == (
        reference, NIK, "staff")
    assert event.actor == "staff:kel1"
    assert (entry.actor, entry.target) == ("staff:kel1", f"application {reference}")
    assert NIK not in entry.detail and KK not in entry.detail

    again = browser.get(PAGE)  # the outcome is shown once
    assert "Pendaftaran tersimpan" not in again.text


def test_each_problem_is_shown_next_to_its_field_and_nothing_typed_is_lost(service):
    browser = helper(service)
    browser.get(PAGE)
    answer = browser.post(PAGE, typed(nik="327101450190", kk="3201010101200003", reason="",
                                      suket="470/9/KEC", phone="0812"))
    assert answer.status_code == 422
    for name, message in {
        "nik": "NIK harus 16 angka, yang terbaca 12 angka.",
        "kk": "KK ini bukan KK Kota Bogor (diawali 3271).",
        "reason": "Pilih salah satu alasan cetak.",
        "phone": "Nomor HP tidak dikenali.",
    }.items():
        problem = re.search(rf'id="{name}-problem">([^<]*)<', answer.text)
        assert problem and html.unescape(problem.group(1)).startswith(message), name
    # Staff fill in a form: nothing tells them what a resident would type by SMS.
    for words in ("BATAL", "Ketik", "ketik", "Kirim lagi", "kirim lagi", "Balas"):
        assert words not in text_of(answer.text), words
    assert (value_of(answer.text, "nik"), value_of(answer.text, "kk"),
            value_of(answer.text, "suket"), value_of(answer.text, "phone")) == (
        "327101450190", "3201010101200003", "470/9/KEC", "0812")
    assert applications(service) == []


def test_a_non_bogor_kk_is_refused(service):
    browser = helper(service)
    browser.get(PAGE)
    answer = browser.post(PAGE, typed(kk="3201010101200003"))
    assert answer.status_code == 422
    assert ("KK ini bukan KK Kota Bogor (diawali 3271). Layanan ini khusus warganya."
            ) in text_of(answer.text)
    assert value_of(answer.text, "nik") == "3271 0145 0190 0001"
    assert value_of(answer.text, "phone") == "0812-3456-7890"
    assert 'value="hilang" checked' in answer.text
    assert applications(service) == []
    service.worker.run_once()
    assert service.received(PHONE) == []


def test_a_nik_registered_by_sms_is_refused_with_the_sms_wording(service):
    service.sms(PHONE_2, f"DAFTAR {NIK}#3271060202190004#2")
    service.sms(PHONE_2, "YA")
    browser = helper(service)
    browser.get(PAGE)

    answer = browser.post(PAGE, typed())
    assert answer.status_code == 422
    assert "NIK ini sudah punya pendaftaran yang sedang diproses." in text_of(answer.text)
    assert "BATAL" not in text_of(answer.text) and "Kirim NIK lain" not in text_of(answer.text)
    assert len(applications(service)) == 1
    service.worker.run_once()
    assert service.received(PHONE) == []


def test_a_form_sent_twice_stores_one_application_and_says_so(service):
    browser = helper(service)
    browser.get(PAGE)
    token = browser.token
    first = browser.post(PAGE, typed())
    reference = REF.search(first.text).group(1)

    # The browser's back button and "send again": the same form, the same token.
    second = browser.post(PAGE, {**typed(), "csrf_token": token})
    assert second.status_code == 409
    page = text_of(second.text)
    assert ("Formulir ini sudah terkirim sebelumnya: pendaftaran tersimpan dengan no ref "
            f"{reference}") in page
    assert len(applications(service)) == 1
    service.worker.run_once()
    assert len(service.received(PHONE)) == 1


def test_another_helper_gets_the_sms_refusal_for_an_active_nik(service):
    helper(service).post(PAGE, typed())
    other = helper(service, username="kel2")
    other.get(PAGE)
    answer = other.post(PAGE, typed(nik=NIK))
    assert answer.status_code == 422
    assert "NIK ini sudah punya pendaftaran yang sedang diproses." in text_of(answer.text)
    assert "Formulir ini sudah terkirim" not in answer.text


def test_a_first_card_asks_for_the_suket_and_an_english_speaker_gets_english(service):
    browser = helper(service)
    browser.get(PAGE)
    missing = browser.post(PAGE, typed(nik=NIK_2, reason="baru", language="en"))
    assert missing.status_code == 422
    assert "Nomor Suket tidak terbaca." in text_of(missing.text)
    assert '<option value="en" selected>' in missing.text

    done = browser.post(PAGE, typed(nik=NIK_2, reason="baru", suket="470/55/KEC",
                                    language="en"))
    reference = REF.search(done.text).group(1)
    service.worker.run_once()
    [sms] = service.received(PHONE)
    assert sms.startswith(f"Registration received, ref {reference}.")
    assert applications(service)[0].suket_number == "470/55/KEC"


@pytest.mark.parametrize(("role", "office"), [("admin", None), ("operator", "01")])
def test_admins_and_operators_may_register_too(service, role, office):
    browser = helper(service, role, office)
    browser.get(PAGE)
    done = browser.post(PAGE, typed())
    assert REF.search(done.text)
    assert applications(service)[0].channel == "staff"


def test_a_viewer_is_refused(service):
    browser = helper(service, "viewer")
    assert browser.get(PAGE).status_code == 403
    assert browser.post(PAGE, typed()).status_code == 403
    assert applications(service) == []


def test_a_form_without_its_csrf_token_is_refused(service):
    browser = helper(service)
    browser.get(PAGE)
    assert browser.post(PAGE, typed(), csrf=False).status_code == 400
    assert applications(service) == []
    with service.runtime.db.transaction() as session:
        assert session.exec(select(OutboxMessage)).all() == []


def test_a_stranger_is_sent_to_the_login_page(service):
    browser = StaffBrowser(service.base_url)
    answer = browser.get(PAGE)
    assert answer.url.startswith(f"{service.base_url}/staff/login")


def test_the_helper_finds_the_page_in_the_menu(service):
    page = helper(service).get(PAGE)
    assert re.search(rf'href="{PAGE}"[^>]* aria-current="page"[^>]*>Daftarkan warga', page.text)
