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


# --- a family's members one after another, and the receipt -------------------------------------
NEXT = re.compile(r'href="(/staff/register\?family=\d+)#nik">Daftarkan anggota keluarga berikutnya')
RECEIPT = re.compile(r'href="(/staff/register/receipt\?family=\d+)">Cetak tanda terima')


def test_the_next_member_of_the_family_is_registered_without_typing_kk_and_phone(service):
    browser = helper(service)
    done = browser.post(PAGE, typed())
    first = REF.search(done.text).group(1)
    next_url = NEXT.search(done.text).group(1)
    assert KK not in next_url and "kk" not in next_url

    form = browser.get(next_url)
    page = text_of(form.text)
    assert "Anggota keluarga berikutnya" in page
    assert "Nomor KK ***0003 (sama dengan pendaftaran sebelumnya)" in page
    assert "HP keluarga +62***890" in page
    assert KK not in form.text and 'name="kk"' not in form.text and 'name="phone"' not in form.text
    family = re.search(r'name="family" value="(\d+)"', form.text).group(1)

    second_done = browser.post(PAGE, {"nik": NIK_2, "reason": "rusak", "language": "id",
                                      "family": family})
    second = REF.search(second_done.text).group(1)
    service.worker.run_once()
    assert [text.split(".")[0] for text in service.received(PHONE)] == [
        f"Pendaftaran diterima, no ref {first}", f"Pendaftaran diterima, no ref {second}"]
    assert {a.family_id for a in applications(service)} == {int(family)}

    receipt = browser.get(RECEIPT.search(second_done.text).group(1))
    assert receipt.status_code == 200
    page = text_of(receipt.text)
    assert f"{first} ***0001 hilang surat kehilangan dari polisi" in page
    assert f"{second} ***0002 rusak KTP-el yang rusak" in page
    assert "Nomor KK ***0003" in page and "HP keluarga +62***890" in page
    assert "Kantor Kec. Bogor Selatan" in page
    assert KK not in receipt.text and NIK not in receipt.text
    assert "@media print" in browser.get("/static/staff.css").text


def test_a_family_not_handed_to_this_browser_cannot_be_used(service):
    browser = helper(service)
    browser.post(PAGE, typed())
    [application] = applications(service)
    stranger = helper(service, username="kel2")
    form = stranger.get(f"{PAGE}?family={application.family_id}")
    assert 'name="kk"' in form.text and 'name="family"' not in form.text  # a fresh form
    refused = stranger.post(PAGE, {"nik": NIK_2, "reason": "rusak", "language": "id",
                                   "family": str(application.family_id)})
    assert refused.status_code == 422
    assert "Keluarga ini tidak bisa dipakai lagi" in text_of(refused.text)
    assert len(applications(service)) == 1
    assert stranger.get(f"/staff/register/receipt?family={application.family_id}"
                        ).status_code == 404


def test_a_family_without_a_phone_gets_the_receipt_instead_of_an_sms(service):
    browser = helper(service, office="3271011001")
    form = browser.get(PAGE)
    assert "Keluarga tidak punya HP: semua kabar masuk ke daftar kabar Kelurahan Batu Tulis" in (
        text_of(form.text))
    done = browser.post(PAGE, typed(phone="", no_phone="1"))
    page = text_of(done.text)
    assert "Kontak keluarga Kelurahan Batu Tulis (keluarga tanpa HP)" in page
    assert "SMS konfirmasi yang dikirim" not in page
    service.worker.run_once()
    assert service.sent() == []
    receipt = text_of(browser.get(RECEIPT.search(done.text).group(1)).text)
    assert "Keluarga tanpa HP: semua kabar, termasuk jadwal dan kode ambil, disampaikan oleh " \
           "Kelurahan Batu Tulis." in receipt


def test_a_nik_whose_card_was_just_collected_asks_the_reason_first(service):
    browser = helper(service)
    browser.post(PAGE, typed())
    with service.runtime.db.transaction() as session:
        [application] = session.exec(select(Application)).all()
        application.stage, application.active_nik = "collected", None
        application.collected_at = service.runtime.clock.now()
        session.add(application)

    warned = browser.post(PAGE, typed(reason="hilang"))
    assert warned.status_code == 422
    page = text_of(warned.text)
    assert "KTP-el NIK ini baru diambil pada 30 November 2026." in page
    assert 'name="collected_ok"' in warned.text and 'role="alert"' in warned.text
    assert len(applications(service)) == 1

    done = browser.post(PAGE, typed(reason="hilang", collected_ok="1"))
    assert done.status_code == 200 and REF.search(done.text)
    assert "KTP-el NIK ini sudah pernah diambil (2026-11-30)" in text_of(done.text)
    assert len(applications(service)) == 2


# --- other documents ----------------------------------------------------------------------------
NIK_CHILD = "3271014503120002"  # a girl born 5 March 2012: 14 today, too young to split a KK


def test_a_kk_registered_at_the_counter_gets_the_sms_of_a_kk_applied_for_by_sms(service):
    from sms_ktp.models import PickupVisit

    browser = helper(service)
    form = browser.get(PAGE, params={"document": "kk"})
    assert form.status_code == 200 and "Daftarkan warga: KK" in text_of(form.text)
    # Every document offered is a choice; the KK's questions are its dialogue's.
    choices = re.findall(r'href="/staff/register\?document=(\w+)"', form.text)
    assert choices == ["ktp", "kk", "akta_lahir", "akta_mati", "kia"]
    assert re.findall(r'name="reason" value="(\w+)"', form.text) == [
        "tambah", "kurang", "pisah", "ubah", "hilang", "rusak"]
    assert 'name="suket"' not in form.text
    assert "Data hanya dipakai untuk permohonan KK." in text_of(form.text)
    assert "cetak KTP-el" not in text_of(form.text)

    done = browser.post(PAGE, {"document": "kk", "nik": "3271 0145 0190 0001", "kk": KK,
                               "reason": "pisah", "phone": "0812-3456-7890", "language": "id"})
    assert done.status_code == 200 and done.history[0].status_code == 303
    reference = REF.search(done.text).group(1)
    page = text_of(done.text)
    assert "Permohonan KK tersimpan" in page and "Alasan pisah KK" in page
    assert "Formulir F-1.02 diisi di kantor" in page  # the papers to bring
    assert NIK not in done.text and KK not in done.text

    service.worker.run_once()
    sent, papers = service.received(PHONE)
    assert re.fullmatch(rf"Permohonan KK diterima, ref {reference}\. Serahkan berkas \w+, \d+ "
                        r"\w+ \d{4}, \d\d\.\d\d WIB di Kantor Kec\. Bogor Selatan\.", sent), sent
    assert papers == (f"Berkas KK ref {reference}: KK lama, KTP-el pemohon, buku nikah bila "
                      "sudah menikah. Formulir F-1.02 diisi di kantor. Bawa yang asli.")
    [application] = applications(service)
    assert (application.document, application.nik, application.reason, application.channel,
            application.stage) == ("kk", NIK, "pisah", "staff", "submitted")
    with service.runtime.db.transaction() as session:
        [visit] = session.exec(select(PickupVisit)).all()
        [event] = session.exec(select(ApplicationEvent)).all()
        [entry] = session.exec(select(AuditEntry).where(
            AuditEntry.action == "application.register")).all()
    assert (visit.purpose, application.papers_visit_id) == ("papers", visit.id)
    assert event.actor == "staff:kel1"
    assert entry.detail.startswith("dokumen kk, NIK ***0001, KK ***0003, alasan pisah")
    assert service.sms(PHONE, "STATUS")[0].startswith(f"Ref {reference} KK: permohonan diterima")

    # The same KK again for the same applicant: refused with the reference, nothing stored.
    again = browser.post(PAGE, {"document": "kk", "nik": NIK, "kk": KK, "reason": "hilang",
                                "phone": "0812-3456-7890", "language": "id"})
    assert again.status_code == 422
    assert f"Permohonan KK pemohon NIK ***0001 sudah ada, ref {reference}" in text_of(again.text)
    assert len(applications(service)) == 1


def test_the_counter_refuses_what_the_sms_dialogue_refuses_with_the_same_reasons(service):
    service.sms(PHONE_2, f"KK {NIK_CHILD}#{KK}")
    [by_sms] = service.sms(PHONE_2, "3")
    browser = helper(service)
    refused = browser.post(PAGE, {"document": "kk", "nik": NIK_CHILD, "kk": "3276010101200003",
                                  "reason": "pisah", "phone": "0812-3456-7890",
                                  "language": "id"})
    assert refused.status_code == 422
    problems = re.findall(r'class="flash error field-problem" id="(\w+)-problem">([^<]+)<',
                          refused.text)
    said = {name: html.unescape(message) for name, message in problems}
    assert said["kk"].startswith("KK ini bukan KK Kota Bogor (diawali 3271).")
    # The age of the NIK, said as the SMS says it, less the SMS's instruction to the resident.
    assert by_sms.startswith(said["reason"].removesuffix("Pilih alasan lain:").strip())
    assert said["reason"].startswith("Pisah KK hanya untuk pemohon 17 tahun ke atas; NIK "
                                     "pemohon menunjukkan umur 14.")
    assert value_of(refused.text, "nik") == NIK_CHILD  # the form kept as typed
    assert applications(service) == []

    # A KIA's child born before the parent, a date not read: the KIA's own reasons.
    kia = browser.post(PAGE, {"document": "kia", "nik": NIK, "kk": KK, "birth": "31-02-2020",
                              "phone": "0812-3456-7890", "language": "id"})
    assert kia.status_code == 422 and 'id="birth-problem"' in kia.text
    assert applications(service) == []


def test_the_next_document_of_a_family_keeps_its_kk_and_phone(service):
    browser = helper(service)
    first = browser.post(PAGE, {"document": "kia", "nik": NIK, "kk": KK, "birth": "12-03-2019",
                                "phone": "0812-3456-7890", "language": "id"})
    assert first.status_code == 200, text_of(first.text)
    # Born in 2019, an odd year, and older than 5: two photos on a red background.
    assert "2 pas foto anak 2x3 latar MERAH (tahun lahir ganjil)" in text_of(first.text)
    next_one = re.search(r'href="(/staff/register\?document=kia&amp;family=\d+)#nik"',
                         first.text).group(1)
    form = browser.get(html.unescape(next_one))
    assert "sama dengan permohonan sebelumnya" in form.text and 'name="kk"' not in form.text
    family = re.search(r'name="family" value="(\d+)"', form.text).group(1)
    twin = browser.post(PAGE, {"document": "kia", "nik": NIK, "family": family,
                               "birth": "12-03-2019", "language": "id"})
    assert twin.status_code == 200, text_of(twin.text)
    assert [(a.document, a.family_id) for a in applications(service)] == [
        ("kia", int(family)), ("kia", int(family))]


def test_only_the_documents_offered_are_registered(service):
    from sms_ktp.domain import documents

    offered = documents.enabled()
    documents.configure(["ktp", "kk"])
    try:
        browser = helper(service)
        form = browser.get(PAGE)
        assert re.findall(r'href="/staff/register\?document=(\w+)"', form.text) == ["ktp", "kk"]
        # A document not offered is not a form: the KTP-el's is shown.
        assert 'name="suket"' in browser.get(PAGE, params={"document": "kia"}).text
    finally:
        documents.configure(offered)


def test_the_receipt_names_each_document_its_papers_visit_and_its_papers(service):
    browser = helper(service)
    card = browser.post(PAGE, typed())
    family = re.search(r"/staff/register/receipt\?family=(\d+)", card.text).group(1)
    kia = browser.post(PAGE, {"document": "kia", "nik": NIK, "family": family,
                              "birth": "12-03-2019", "language": "id"})
    assert kia.status_code == 200, text_of(kia.text)
    receipt = browser.get("/staff/register/receipt", params={"family": family})
    assert receipt.status_code == 200
    page = text_of(receipt.text)
    assert "Tanda terima pendaftaran cetak KTP-el dan permohonan dokumen" in page
    [ktp_ref, kia_ref] = [a.reference for a in sorted(applications(service), key=lambda a: a.id)]
    assert f"{ktp_ref} ***0001 hilang surat kehilangan dari polisi" in page
    assert re.search(rf"{kia_ref} KIA \*\*\*0001 \w+, \d+ \w+ \d{{4}}, \d\d\.\d\d WIB, Kantor "
                     r"Kec\. Bogor Selatan", page), page
    assert "2 pas foto anak 2x3 latar MERAH" in page and NIK not in receipt.text
