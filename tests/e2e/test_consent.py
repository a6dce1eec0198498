"""Consent, in every channel: the summary a resident confirms says why the data is used, and the
YES stores when the resident agreed and to which wording, with the application it creates."""

from __future__ import annotations

import re
from datetime import timedelta

from live_service import KK, KK_2, NIK, NIK_2, PHONE, PHONE_2, LiveService
from sqlalchemy import select
from staff_browser import StaffBrowser, make_staff

from flows.catalogue import render
from flows.messages import CONSENT_VERSION
from sms_ktp.models import Application, ApplicationEvent, AuditEntry

SENTENCE = render("id", "consent.purpose")


def stored(service: LiveService, nik: str) -> Application:
    with service.runtime.db.transaction() as session:
        return session.exec(select(Application).where(Application.nik_hash == nik)).one()[0]


def stored_or_none(service: LiveService, nik: str) -> Application | None:
    with service.runtime.db.transaction() as session:
        row = session.exec(select(Application).where(Application.nik_hash == nik)).first()
    return None if row is None else row[0]


def test_the_sms_dialogue_asks_consent_and_the_yes_records_it(service):
    service.sms(PHONE, "DAFTAR")
    service.sms(PHONE, NIK)
    service.sms(PHONE, KK)
    [summary] = service.sms(PHONE, "2")
    assert SENTENCE in summary and summary.endswith("Balas YA untuk kirim atau TIDAK untuk batal.")
    service.runtime.clock.advance(timedelta(minutes=2))  # the consent is the YES, not the summary
    service.sms(PHONE, "YA")
    application = stored(service, NIK)
    assert application.consent_at == service.runtime.clock.now()
    assert application.consent_version == CONSENT_VERSION


def test_the_one_message_registration_asks_consent_too(service):
    [summary] = service.sms(PHONE, f"REG {NIK}#{KK}#2")
    assert SENTENCE in summary
    assert stored_or_none(service, NIK) is None  # nothing stored before the YES
    service.sms(PHONE, "ya")
    application = stored(service, NIK)
    assert (application.consent_at, application.consent_version) == (
        service.runtime.clock.now(), CONSENT_VERSION)


def test_an_english_summary_says_it_in_english(service):
    service.sms(PHONE, "LANG EN")
    [summary] = service.sms(PHONE, f"REGISTER {NIK}#{KK}#2")
    assert render("en", "consent.purpose") in summary


def test_no_means_no_application_and_no_consent(service):
    service.sms(PHONE, f"DAFTAR {NIK}#{KK}#2")
    service.sms(PHONE, "TIDAK")
    assert stored_or_none(service, NIK) is None


def test_the_ussd_summary_shows_the_sentence_and_sending_records_consent(service):
    session, text = "ATUid_consent", ""
    screen = ""
    for value in ("1", NIK, KK, "2"):
        text = f"{text}*{value}" if text else value
        screen = service.ussd(session, text)
    assert SENTENCE in screen and "1 Kirim" in screen
    service.ussd(session, f"{text}*1")
    application = stored(service, NIK)
    assert (application.channel, application.consent_at, application.consent_version) == (
        "ussd", service.runtime.clock.now(), CONSENT_VERSION)


def test_staff_confirm_for_the_resident_at_the_counter_and_are_named(service):
    make_staff(service.runtime.db, "kel1", "helper")
    browser = StaffBrowser(service.base_url)
    browser.login("kel1")
    form = browser.get("/staff/register")
    assert SENTENCE in form.text
    done = browser.post("/staff/register", {"nik": NIK_2, "kk": KK_2, "reason": "rusak",
                                            "suket": "", "phone": PHONE_2, "language": "id"})
    assert done.status_code == 200
    application = stored(service, NIK_2)
    assert (application.channel, application.consent_at, application.consent_version) == (
        "staff", service.runtime.clock.now(), CONSENT_VERSION)
    with service.runtime.db.connect() as connection:
        event = connection.execute(select(ApplicationEvent.actor, ApplicationEvent.note)
                                   .where(ApplicationEvent.application_id == application.id)
                                   ).one()
        detail = connection.execute(select(AuditEntry.detail).where(
            AuditEntry.action == "application.register")).scalar_one()
    assert event.actor == "staff:kel1" and "consent given to staff" in event.note
    assert f"persetujuan warga lewat petugas (versi {CONSENT_VERSION})" in detail
    assert re.search(r"\d{16}", detail) is None
