"""Assisted registration on a real database (SQLite and PostgreSQL): the rules, refusals and
confirmation SMS are the SMS dialogue's own, and one transaction stores everything or nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from live_service import KK, KK_2, NIK, NIK_2, PHONE, PHONE_2
from sqlmodel import select

from flows.ports import ActiveApplication
from flows.sms import SmsChannel
from sms_ktp import crypto
from sms_ktp.applications import assisted
from sms_ktp.applications.assisted import AssistedForm, Refused, register_assisted
from sms_ktp.applications.counter_wording import for_staff, tells_what_to_send
from sms_ktp.applications.pickup import PickupPolicy
from sms_ktp.applications.services import SqlServices
from sms_ktp.domain import region
from sms_ktp.domain.pickup_calendar import WorkingCalendar, default_offices
from sms_ktp.domain.quiet_hours import QuietHours
from sms_ktp.messaging.phone_state import PhoneStateStore
from sms_ktp.models import Application, ApplicationEvent, AuditEntry, Family, OutboxMessage
from sms_ktp.platform.db import Database

POLICY = PickupPolicy(default_offices(), WorkingCalendar(), QuietHours.parse("20:00-07:00"))
TTL = timedelta(minutes=30)
ACTOR = "staff:kel1"
SUKET = "470/123/KEC.BS/2026"


def form(**changes: str) -> AssistedForm:
    typed = {"nik": "3271 0145 0190 0001", "kk": KK, "reason": "hilang",
             "phone": "0812-3456-7890", "language": "id"}
    return AssistedForm.from_mapping({**typed, **changes})


def register(database: Database, clock: Any, typed: AssistedForm,
             recent: tuple[str, ...] = ()) -> assisted.Registered:
    return register_assisted(database, clock, POLICY, typed, ACTOR, "10.0.0.7", recent)


def refusal(database: Database, clock: Any, typed: AssistedForm,
            recent: tuple[str, ...] = ()) -> Refused:
    before = stored(database)
    with pytest.raises(Refused) as refused:
        register(database, clock, typed, recent)
    assert stored(database) == before, "a refused form stores nothing"
    return refused.value


def stored(database: Database) -> tuple[int, int, int, int, int]:
    """How many applications, events, families, SMS and audit entries there are."""
    with database.transaction() as session:
        return tuple(len(session.exec(select(table)).all())  # type: ignore[return-value]
                     for table in (Application, ApplicationEvent, Family, OutboxMessage,
                                   AuditEntry))


def sms_reply(database: Database, clock: Any, phone: str, *texts: str) -> str:
    """What the SMS dialogue answers to the last of `texts` from `phone`, on the same database
    (the conversation is not kept)."""
    with database.connect() as connection:
        channel = SmsChannel(SqlServices(connection, clock, PhoneStateStore(connection, phone),
                                         POLICY), TTL)
        conversation = None
        for text in texts:
            turn = channel.handle(text, phone, conversation, clock.now())
            conversation = turn.conversation
    return turn.replies[-1]


# --- accepted --------------------------------------------------------------------------------
def test_a_valid_form_stores_the_application_for_the_family_phone_and_queues_the_sms(
        database, clock):
    registered = register(database, clock, form())

    assert (registered.nik_masked, registered.reason, registered.phone, registered.language) == (
        "***0001", "hilang", PHONE, "id")
    assert registered.sms == (
        f"Pendaftaran diterima, no ref {registered.reference}. Tunggu verifikasi & penunggalan "
        "Kemendagri; jadwal ambil dikirim via SMS. Saat ambil bawa surat kehilangan dari polisi.")
    with database.transaction() as session:
        [application] = session.exec(select(Application)).all()
        [family] = session.exec(select(Family)).all()
        [event] = session.exec(select(ApplicationEvent)).all()
        [sms] = session.exec(select(OutboxMessage)).all()
        [entry] = session.exec(select(AuditEntry)).all()
    assert (application.reference, application.nik, application.active_nik, application.reason,
            application.suket_number, application.stage, application.language,
            application.channel) == (registered.reference, NIK, crypto.keyed_hash(NIK, "nik"),
                                     "hilang", None, "submitted", "id", "staff")
    assert (family.kk, family.phone, family.kecamatan_code) == (KK, PHONE, "01")
    assert (event.stage, event.actor, event.application_id) == (
        "submitted", ACTOR, application.id)
    assert (sms.phone, sms.text, sms.kind, sms.status) == (PHONE, registered.sms, "reply",
                                                           "queued")
    assert sms.next_attempt_at == clock.now()
    assert (entry.actor, entry.action, entry.target, entry.address) == (
        ACTOR, "application.register", f"application {registered.reference}", "10.0.0.7")
    assert "***0001" in entry.detail and "***0003" in entry.detail
    for number in (NIK, KK, PHONE, PHONE.removeprefix("+")):
        assert number not in entry.detail


def test_the_confirmation_is_the_sms_a_resident_gets_after_registering_by_sms(database, clock):
    registered = register(database, clock, form(nik=NIK_2, kk=KK_2, reason="2"))
    by_sms = sms_reply(database, clock, PHONE_2, f"DAFTAR {NIK}#{KK}#2", "YA")
    by_sms_ref = by_sms.split("no ref ")[1][:9]
    assert registered.sms == by_sms.replace(by_sms_ref, registered.reference)


def test_a_first_card_keeps_its_suket_number(database, clock):
    register(database, clock, form(reason="baru", suket="470/123/kec.bs/2026"))
    with database.transaction() as session:
        [application] = session.exec(select(Application)).all()
    assert (application.reason, application.suket_number) == ("baru", SUKET)


def test_a_suket_typed_for_another_reason_is_not_kept(database, clock):
    register(database, clock, form(reason="rusak", suket="??"))
    with database.transaction() as session:
        [application] = session.exec(select(Application)).all()
    assert (application.reason, application.suket_number) == ("rusak", None)


def test_the_resident_may_choose_english(database, clock):
    registered = register(database, clock, form(language="en", reason="perubahan_data"))
    assert registered.sms.startswith(f"Registration received, ref {registered.reference}.")
    assert registered.sms.endswith("At pickup bring proof of the data change.")
    with database.transaction() as session:
        assert session.exec(select(Application.language)).one() == "en"


def test_the_confirmation_leaves_at_once_even_in_quiet_hours(database, clock):
    clock.set(datetime(2026, 11, 30, 22, 30, tzinfo=UTC) - timedelta(hours=7))  # 22:30 WIB
    register(database, clock, form())
    with database.transaction() as session:
        [sms] = session.exec(select(OutboxMessage)).all()
    assert sms.next_attempt_at == clock.now()


def test_another_member_of_the_family_is_registered_for_the_same_phone(database, clock):
    register(database, clock, form())
    register(database, clock, form(nik=NIK_2, phone="+62 812 3456 7890"))
    with database.transaction() as session:
        assert len(session.exec(select(Application)).all()) == 2
        assert [(f.kk, f.phone) for f in session.exec(select(Family)).all()] == [(KK, PHONE)]


# --- refused, in the words of the SMS dialogue (less what to type by SMS) ----------------------
def as_for_staff(refused: Refused, field: str, sms: str) -> str:
    """The SMS wording a problem should show staff; checks it tells nobody what to send."""
    wording = for_staff(refused.problems[field].key, sms)
    assert not tells_what_to_send(refused.problems[field].message), refused.problems[field]
    return wording



@pytest.mark.parametrize(("field", "typed", "conversation"), [
    ("nik", "327101450190", ("DAFTAR", "327101450190")),
    ("nik", "", ("DAFTAR", "")),
    ("nik", "9999014501900001", ("DAFTAR", "9999014501900001")),
    ("nik", "3271013202900001", ("DAFTAR", "3271013202900001")),
    ("nik", "3271014501900000", ("DAFTAR", "3271014501900000")),
    ("kk", "3271010101", ("DAFTAR", NIK, "3271010101")),
    ("kk", "3201010101200003", ("DAFTAR", NIK, "3201010101200003")),
    ("kk", "3271070101200003", ("DAFTAR", NIK, "3271070101200003")),
    ("reason", "5", ("DAFTAR", NIK, KK, "5")),
    ("reason", "", ("DAFTAR", NIK, KK, "")),
])
def test_each_wrong_field_is_refused_as_the_sms_dialogue_refuses_it(database, clock, field,
                                                                    typed, conversation):
    refused = refusal(database, clock, form(**{field: typed}))
    assert list(refused.problems) == [field]
    sms = sms_reply(database, clock, PHONE, *conversation)
    assert refused.problems[field].message == as_for_staff(refused, field, sms)


def test_a_first_card_without_a_readable_suket_is_refused_as_by_sms(database, clock):
    for suket in ("", "??"):
        refused = refusal(database, clock, form(reason="1", suket=suket))
        assert list(refused.problems) == ["suket"]
        sms = sms_reply(database, clock, PHONE, "DAFTAR", NIK, KK, "1", suket)
        assert refused.problems["suket"].message == as_for_staff(refused, "suket", sms)
        assert refused.problems["suket"].message.startswith("Nomor Suket tidak terbaca.")


def test_a_non_bogor_kk_is_refused(database, clock):
    refused = refusal(database, clock, form(kk="3201010101200003"))
    assert refused.problems["kk"].key == "error.kk.not_resident"
    assert refused.problems["kk"].message == (
        "KK ini bukan KK Kota Bogor (diawali 3271). Layanan ini khusus warganya."
    )  # without the SMS's "Kirim KK lain atau ketik BATAL."


def test_a_nik_with_an_active_application_is_refused_as_by_sms(database, clock):
    sms_first = sms_reply(database, clock, PHONE_2, f"DAFTAR {NIK}#{KK_2}#2", "YA")
    assert sms_first.startswith("Pendaftaran diterima")

    refused = refusal(database, clock, form())
    assert refused.problems["nik"].key == "error.nik.active"
    assert refused.problems["nik"].message.startswith(
        "NIK ini sudah punya pendaftaran yang sedang diproses.")
    assert refused.already is None  # not this helper's: nothing more is told
    # The family phone sending it again by SMS gets its reference back instead.
    reference = sms_first.split("no ref ")[1][:9]
    assert sms_reply(database, clock, PHONE_2, f"DAFTAR {NIK}#{KK_2}#3") == (
        f"NIK ***{NIK[-4:]} sudah terdaftar, no ref {reference}, dan sedang diproses. Tidak "
        f"perlu daftar lagi. Cek prosesnya: STATUS {reference}")


def test_a_family_registered_with_another_phone_is_refused_as_by_sms(database, clock):
    register(database, clock, form())
    refused = refusal(database, clock, form(nik=NIK_2, phone=PHONE_2))
    assert refused.problems["kk"].key == "error.kk.other_phone"
    sms = sms_reply(database, clock, PHONE_2, "DAFTAR", NIK_2, KK)
    assert refused.problems["kk"].message == as_for_staff(refused, "kk", sms)


@pytest.mark.parametrize("phone", ["", "12345", "021 8765 4321", "TELKOMSEL", "0812"])
def test_a_phone_that_cannot_receive_sms_is_refused(database, clock, phone):
    refused = refusal(database, clock, form(phone=phone))
    assert list(refused.problems) == ["phone"]
    assert refused.problems["phone"].message.startswith("Nomor HP tidak dikenali.")


def test_a_language_the_regency_does_not_offer_is_refused(database, clock):
    assert register(database, clock, form(language="su")).language == "su"  # Kota Bogor
    region.configure(region.region("7371"))  # Kota Makassar: Bahasa Indonesia and English
    refused = refusal(database, clock, form(nik=NIK_2, language="su", kk="7371150101200003",
                                            phone="0857-1111-2222"))
    assert list(refused.problems) == ["language"]


def test_an_unknown_language_is_refused(database, clock):
    refused = refusal(database, clock, form(language="fr"))
    assert list(refused.problems) == ["language"]


def test_every_wrong_field_is_told_at_once(database, clock):
    refused = refusal(database, clock, form(nik="123", kk="3201010101200003", reason="9",
                                            phone="0812", language="xx"))
    assert set(refused.problems) == {"nik", "kk", "reason", "phone", "language"}
    assert refused.problems["nik"].message.startswith("NIK harus 16 angka, yang terbaca 3 angka.")


# --- sent twice ------------------------------------------------------------------------------
def test_a_form_sent_twice_stores_one_application_and_names_the_first(database, clock):
    first = register(database, clock, form())
    refused = refusal(database, clock, form(), recent=(first.reference,))
    assert refused.problems["nik"].key == "error.nik.active"
    assert refused.already == first.reference
    assert stored(database)[0] == 1


def test_a_concurrent_twin_that_passed_the_checks_gets_the_refusal_not_an_error(
        database, clock, monkeypatch):
    """Two submissions at once both pass the checks; the second insert hits the unique active
    NIK. The transaction is run again and the helper gets the rule's refusal."""
    first = register(database, clock, form())
    real = SqlServices.active_application
    calls = []

    def blind_once(self: SqlServices, nik: str) -> ActiveApplication | None:
        calls.append(nik)
        return None if len(calls) <= 2 else real(self, nik)  # the check and the re-check

    monkeypatch.setattr(SqlServices, "active_application", blind_once)
    refused = refusal(database, clock, form(), recent=(first.reference,))
    assert refused.problems["nik"].key == "error.nik.active"
    assert refused.already == first.reference
    assert len(calls) >= 3


@pytest.mark.parametrize(("kk", "key"), [
    ("3271013102200003", "error.kk.issue_date"),  # issued 31 February
    ("3271014501200003", "error.kk.issue_date"),  # day 45: no +40 on a KK
    ("3271010113200003", "error.kk.issue_date"),  # month 13
    ("3271010101200000", "error.kk.serial"),
])
def test_a_kk_that_breaks_its_rules_is_refused_at_the_counter(database, clock, kk, key):
    refused = refusal(database, clock, form(kk=kk))
    assert refused.problems["kk"].key == key


def test_a_kk_equal_to_the_nik_is_refused_at_the_counter(database, clock):
    nik = "3271011501900004"  # a man born 15 January 1990: also a well-formed Bogor KK
    refused = refusal(database, clock, form(nik=nik, kk=nik))
    assert refused.problems["kk"].key == "error.kk.same_as_nik"
    refused = refusal(database, clock, form(nik=nik, kk="3271 0115 0190 0004", phone="x"))
    assert refused.problems["kk"].key == "error.kk.same_as_nik"  # without a phone too


# --- the next member of a family, without typing the KK and the phone again -------------------
def family_id(database: Database) -> int:
    with database.transaction() as session:
        [family] = session.exec(select(Family)).all()
    return family.id


def test_the_next_member_takes_the_kk_and_phone_from_the_family_row(database, clock):
    first = register(database, clock, form())
    assert first.family_id == family_id(database)
    second = register_assisted(database, clock, POLICY,
                               form(nik=NIK_2, kk="", phone="", family=str(first.family_id)),
                               ACTOR, families=[first.family_id])
    assert (second.family_id, second.phone) == (first.family_id, PHONE)
    with database.transaction() as session:
        assert [(a.family_id, a.nik) for a in session.exec(select(Application)).all()] == [
            (first.family_id, NIK), (first.family_id, NIK_2)]
        texts = [sms.text for sms in session.exec(select(OutboxMessage)).all()]
    assert texts == [first.sms, second.sms]  # each member's confirmation to the family phone


def test_a_family_this_helper_was_not_handed_is_refused(database, clock):
    first = register(database, clock, form())
    with pytest.raises(Refused) as refused:
        register_assisted(database, clock, POLICY,
                          form(nik=NIK_2, kk="", phone="", family=str(first.family_id)),
                          ACTOR, families=[first.family_id + 1])
    assert refused.value.problems["family"].message == assisted.FAMILY_GONE


# --- a family without any phone: the kelurahan is its contact ----------------------------------
KELURAHAN = "3271011001"


def test_a_family_without_a_phone_is_told_through_its_kelurahan(database, clock):
    registered = register_assisted(database, clock, POLICY, form(phone="", no_phone="1"),
                                   ACTOR, kelurahan=KELURAHAN)
    assert (registered.phone, registered.sms) == (f"kel:{KELURAHAN}", "")
    with database.transaction() as session:
        [family] = session.exec(select(Family)).all()
        [event] = session.exec(select(ApplicationEvent)).all()
        [entry] = session.exec(select(AuditEntry)).all()
        assert session.exec(select(OutboxMessage)).all() == []  # the receipt instead
    assert family.phone == f"kel:{KELURAHAN}"
    assert "without a phone" in event.note
    assert "HP kelurahan ***1001" in entry.detail  # the audit log redacts every long number
    # Another member of that family, and another phoneless family of the kelurahan.
    register_assisted(database, clock, POLICY,
                      form(nik=NIK_2, kk="", phone="", family=str(family.id)), ACTOR,
                      families=[family.id])
    register_assisted(database, clock, POLICY,
                      form(nik="3271064101950003", kk=KK_2, phone="", no_phone="1"), ACTOR,
                      kelurahan=KELURAHAN)
    with database.transaction() as session:
        families = session.exec(select(Family)).all()
        assert [f.phone for f in families] == [f"kel:{KELURAHAN}"] * 2
        assert len(session.exec(select(Application)).all()) == 3


def test_only_a_helper_of_a_kelurahan_can_make_it_a_familys_contact(database, clock):
    refused = refusal(database, clock, form(phone="", no_phone="1"))
    assert refused.problems["phone"].message.startswith("Hanya pendamping kelurahan")


def test_a_kk_already_told_by_its_phone_is_not_moved_to_the_kelurahan(database, clock):
    register(database, clock, form())
    with pytest.raises(Refused) as refused:
        register_assisted(database, clock, POLICY,
                          form(nik=NIK_2, phone="", no_phone="1"), ACTOR, kelurahan=KELURAHAN)
    assert refused.value.problems["kk"].key == "error.kk.other_phone"


# --- a NIK whose card was just collected -------------------------------------------------------
def collect(database: Database, at: datetime) -> None:
    with database.transaction() as session:
        [application] = session.exec(select(Application)).all()
        application.stage, application.collected_at = "collected", at
        application.active_nik = None
        session.add(application)


def test_a_card_collected_lately_is_registered_again_only_with_the_reason_asked(database, clock):
    register(database, clock, form())
    collect(database, clock.now() - timedelta(days=10))
    collected_on = (clock.now() - timedelta(days=10)).astimezone(region.current().zone).date()

    warned = refusal(database, clock, form(reason="rusak"))
    assert list(warned.problems) == ["collected"]
    assert warned.problems["collected"].message.startswith(
        f"KTP-el NIK ini baru diambil pada {collected_on.day} ")
    # A first card it cannot be, ticked or not.
    first = refusal(database, clock, form(reason="baru", suket=SUKET, collected_ok="1"))
    assert list(first.problems) == ["reason"]
    assert first.problems["reason"].message == assisted.COLLECTED_REASON_PROBLEM

    again = register(database, clock, form(reason="rusak", collected_ok="1"))
    assert again.collected_on == collected_on
    with database.transaction() as session:
        entry = session.exec(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        event = session.exec(select(ApplicationEvent).order_by(
            ApplicationEvent.id.desc())).first()
    assert f"diambil {collected_on.isoformat()}: dicetak lagi karena rusak" in entry.detail
    assert f"collected on {collected_on.isoformat()}" in event.note


def test_a_card_collected_months_ago_is_registered_again_without_a_warning(database, clock):
    register(database, clock, form())
    collect(database, clock.now() - assisted.JUST_COLLECTED - timedelta(days=1))
    assert register(database, clock, form(reason="hilang")).collected_on is None
