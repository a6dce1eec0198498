"""What the services promise beyond the dialogue tests' own scenarios, checked on both sides of
the `services` fixture (the in-memory fake and `SqlServices` on SQLite): each test here was a
difference between the two."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sql_services import nik_for

from flows.catalogue import Msg, render
from flows.dates import say_day, say_time
from flows.dialogue import Invalid
from flows.sms import SmsChannel
from sms_ktp.domain.reference import new_reference
from sms_ktp.domain.stages import Stage

PHONE, OTHER_PHONE = "+6281234567890", "+6285711112222"
NOW = datetime(2024, 11, 7, 2, 0, tzinfo=UTC)  # Thursday 09:00 in Bogor, the services' clock
TTL = timedelta(minutes=30)
NIK, NIK_2 = "3271014501900001", "3271021506850002"
KK, KK_2 = "3271010101200003", "3271060101200009"


def send(services: Any, *texts: str, phone: str = PHONE, at: datetime = NOW) -> str:
    """The reply to the last of `texts`, the conversation carried from one to the next."""
    channel, conversation = SmsChannel(services, ttl=TTL), None
    for text in texts:
        turn = channel.handle(text, phone, conversation, at)
        conversation = turn.conversation
    return turn.replies[-1]


# --- printing -----------------------------------------------------------------------------------
def test_a_print_queue_card_waits_for_blangko_while_none_is_free(services) -> None:
    reference = services.add_application(PHONE, NIK, KK, stage=Stage.PRINT_QUEUE)
    [view] = services.family_applications(PHONE)
    assert view.stage == "waiting_blangko"
    assert send(services, "STATUS") == render("id", "status.detail", ref=reference,
                                              nik="***0001",
                                              explain=Msg("stage.waiting_blangko"))


def test_a_print_queue_card_is_just_queued_once_blangko_is_in_stock(services) -> None:
    services.add_application(PHONE, NIK, KK, stage=Stage.PRINT_QUEUE)
    services.add_application(PHONE, NIK_2, KK, stage=Stage.PRINT_READY)
    services.add_blangko(5)
    assert [view.stage for view in services.family_applications(PHONE)] == [
        Stage.PRINT_READY, Stage.PRINT_QUEUE]


# --- languages ----------------------------------------------------------------------------------
def test_registering_in_a_language_chooses_it_for_a_phone_without_one(services) -> None:
    send(services, "REGISTER", NIK, KK, "lost", "yes")
    assert services.language_of(PHONE) == "en"
    assert services.applications[0].language == "en"


def test_registering_keeps_the_language_a_phone_chose(services) -> None:
    services.set_language(PHONE, "su")
    send(services, f"DAFTAR {NIK}#{KK}#2", "YA")
    assert services.language_of(PHONE) == "su"
    assert services.applications[0].language == "su"  # the dialogue speaks the phone's


def test_a_language_chosen_later_is_the_open_applications_language_too(services) -> None:
    open_one = services.add_application(PHONE, NIK, KK, stage=Stage.PENUNGGALAN)
    closed = services.add_application(PHONE, NIK_2, KK, stage=Stage.COLLECTED)
    services.set_language(PHONE, "en")
    assert services.application(open_one).language == "en"
    assert services.application(closed).language == "id"


# --- registration -------------------------------------------------------------------------------
def test_a_yes_sent_twice_soon_after_gets_the_reference_back(services) -> None:
    done = send(services, f"DAFTAR {NIK}#{KK}#2", "YA")
    [stored] = services.applications
    assert stored.reference in done
    again = send(services, "YA", at=NOW + timedelta(minutes=5))
    assert again == render("id", "register.already_done", ref=stored.reference)


def test_a_yes_long_after_registering_is_not_taken_for_a_second_one(services) -> None:
    send(services, f"DAFTAR {NIK}#{KK}#2", "YA")
    later = NOW + TTL + timedelta(minutes=1)
    assert send(services, "YA", at=later) == render("id", "help.unknown", minutes=30)


def test_a_yes_soon_after_staff_registered_the_family_gets_that_reference(services) -> None:
    """The YA may answer the confirmation SMS of a registration made at the counter."""
    reference = services.add_application(PHONE, NIK, KK)
    assert send(services, "YA") == render("id", "register.already_done", ref=reference)


def test_a_yes_long_after_staff_registered_the_family_is_not_understood(services) -> None:
    services.add_application(PHONE, NIK, KK)
    services.clock.advance(timedelta(hours=1))
    later = NOW + timedelta(hours=1)
    assert send(services, "YA", at=later) == render("id", "help.unknown", minutes=30)


def test_the_family_is_told_once_of_attempts_with_its_nik(services) -> None:
    theirs = services.add_application(OTHER_PHONE, NIK, KK_2)
    for _ in range(2):
        assert send(services, f"DAFTAR {NIK}#{KK}#2", "YA") == render("id",
                                                                       "error.nik.elsewhere")
    assert services.attempts_told == [(OTHER_PHONE, theirs)]
    assert services.submissions == 2 and len(services.applications) == 1


def test_times_are_instants(services) -> None:
    """The database keeps instants: a time without its zone is a mistake of the caller."""
    send(services, f"DAFTAR {NIK}#{KK}#2", "YA")
    with pytest.raises(Exception, match="naive datetime"):
        services.recent_registration(PHONE, datetime(2024, 11, 7, 8, 30))


# --- pickups ------------------------------------------------------------------------------------
def test_a_card_to_collect_has_its_office_slot_and_code(services) -> None:
    reference = services.add_application(PHONE, NIK, KK, stage=Stage.PICKUP_SCHEDULED)
    [pickup] = services.family_pickups(PHONE)
    at = pickup.details["at"]
    # the first slot of the first working day after today, at the family's kecamatan office
    assert (at.date(), at.hour, at.minute) == (date(2024, 11, 8), 8, 0)
    assert pickup.details["office"] == "Kantor Kec. Bogor Selatan"
    assert len(pickup.details["code"]) == 6
    assert send(services, "JADWAL") == render(
        "id", "notify.pickup_scheduled", cards="KTP-el NIK ***0001", ref=reference,
        day=say_day("id", at), time=say_time("id", at), office=pickup.details["office"],
        address=pickup.details["address"], code=pickup.details["code"])
    [view] = services.family_applications(PHONE)  # STATUS: the card, as JADWAL's visit has it
    assert (view.reference, view.nik_masked, view.stage) == (
        pickup.reference, pickup.nik_masked, pickup.stage)
    assert {key: view.details[key] for key in ("at", "office", "address", "code")} == {
        key: pickup.details[key] for key in ("at", "office", "address", "code")}


def test_cards_of_a_family_share_a_slot_while_it_has_room(services) -> None:
    for serial in range(1, 4):
        services.add_application(PHONE, services.nik_for(serial), KK, stage=Stage.PICKUP_SCHEDULED)
    slots = {pickup.details["at"] for pickup in services.family_pickups(PHONE)}
    assert len(slots) == 1


def test_a_card_held_at_the_office_has_no_slot(services) -> None:
    services.add_application(PHONE, NIK, KK, stage=Stage.MISSED_PICKUP)
    [pickup] = services.family_pickups(PHONE)
    assert pickup.details["at"] is None
    assert send(services, "JADWAL") == render("id", "notify.missed_pickup",
                                              cards="KTP-el NIK ***0001",
                                              office=pickup.details["office"],
                                              code=pickup.details["code"])


def test_a_pickup_moves_once_to_the_next_working_day(services) -> None:
    reference = services.add_application(PHONE, NIK, KK, stage=Stage.PICKUP_SCHEDULED)
    [before] = services.family_pickups(PHONE)
    moved = services.move_pickup(PHONE, reference)
    # Friday 8 November -> Monday 11 November, the first slot; the code stays
    assert moved.details["at"].date() == date(2024, 11, 11)
    assert (moved.details["at"].hour, moved.details["code"]) == (8, before.details["code"])
    assert services.family_pickups(PHONE) == [moved]
    with pytest.raises(Invalid) as refused:
        services.move_pickup(PHONE, reference)
    assert (refused.value.key, refused.value.params) == ("pickup.no_more_changes", {"n": 1})


def test_a_pickup_moves_to_the_day_asked_for_or_is_told_the_nearest(services) -> None:
    reference = services.add_application(PHONE, NIK, KK, stage=Stage.PICKUP_SCHEDULED)
    with pytest.raises(Invalid) as refused:
        services.move_pickup(PHONE, reference, date(2024, 11, 8))  # its own day
    assert refused.value.key == "pickup.same_day"
    with pytest.raises(Invalid) as refused:
        services.move_pickup(PHONE, reference, date(2024, 11, 10))  # a Sunday
    assert refused.value.key == "pickup.day_unavailable"
    assert refused.value.params == {"day": date(2024, 11, 11)}
    moved = services.move_pickup(PHONE, reference, date(2024, 11, 13))
    assert moved.details["at"].date() == date(2024, 11, 13)


def test_ubah_jadwal_answers_with_the_new_slot(services) -> None:
    services.add_application(PHONE, NIK, KK, stage=Stage.PICKUP_SCHEDULED)
    reply = send(services, "UBAH JADWAL RABU")
    [pickup] = services.family_pickups(PHONE)
    at = pickup.details["at"]
    assert at.date() == date(2024, 11, 13)
    assert reply == render("id", "pickup.moved", cards="KTP-el NIK ***0001", ref=pickup.reference,
                           day=say_day("id", at), time=say_time("id", at),
                           office=pickup.details["office"], address=pickup.details["address"],
                           code=pickup.details["code"])


# --- broadcasts ---------------------------------------------------------------------------------
def test_the_opt_out_is_the_phones_own(services) -> None:
    services.add_opt_out(OTHER_PHONE)
    services.set_broadcast_opt_out(PHONE, True)
    services.set_broadcast_opt_out(OTHER_PHONE, False)
    assert services.opted_out == {PHONE}


# --- whatever is sent, both answer alike ------------------------------------------------------
FAMILIES = {KK: PHONE, KK_2: OTHER_PHONE}
UNKNOWN_REF = new_reference(random.Random(404))  # well formed, never drawn by either side
# What the phones send; {ref0}, {ref1}: the reference of the first or second application on
# the side at hand (or an unknown one).
TEXTS = (
    "DAFTAR", f"DAFTAR {NIK}#{KK}#2", f"REG {NIK_2}#{KK_2}#", f"DAFTAR {NIK_2}#{KK}#1#470/12/KEC",
    NIK, NIK_2, nik_for(1), KK, KK_2, "1", "2", "4", "470/12/KEC", "YA", "ya", "TIDAK",
    "BATAL", "STATUS", "STATUS {ref0}", "STATUS {ref1}", f"STATUS {UNKNOWN_REF}", "JADWAL",
    "UBAH JADWAL", "UBAH JADWAL RABU", "UBAH JADWAL {ref0} SENIN", "LANG EN", "BAHASA ID",
    "BASA SUNDA", "BERHENTI", "MULAI", "HELP", "halo",
)
ARRANGED_STAGES = (Stage.SUBMITTED, Stage.PENUNGGALAN, Stage.PRINT_QUEUE, Stage.PRINTED,
                   Stage.PICKUP_SCHEDULED, Stage.MISSED_PICKUP, Stage.COLLECTED, Stage.REJECTED)
arranged = st.lists(st.tuples(st.sampled_from(sorted(FAMILIES)), st.sampled_from(ARRANGED_STAGES),
                              st.booleans()), max_size=4)
messages = st.lists(st.tuples(st.sampled_from(sorted(FAMILIES.values())), st.sampled_from(TEXTS),
                              st.sampled_from((0, 5, 40))), min_size=1, max_size=12)


def play(services: Any, arrangement: list[tuple[str, str, bool]],
         sent: list[tuple[str, str, int]], blangko: int) -> list[str]:
    """What the phones receive and what is stored at the end, references and pickup codes
    written as their order of creation."""
    for number, (kk, stage, same_nik) in enumerate(arrangement, 1):
        nik = NIK if same_nik else nik_for(number)
        if services.active_application(nik) is None:  # one open application per NIK
            services.add_application(FAMILIES[kk], nik, kk, stage=stage)
    if blangko:
        services.add_blangko(blangko)
    conversations: dict[str, Any] = {}
    now, seen = NOW, []
    for phone, text, minutes in sent:
        now += timedelta(minutes=minutes)
        services.clock.advance(timedelta(minutes=minutes))  # the services' now is the message's
        references = [a.reference for a in services.applications] + [UNKNOWN_REF] * 2
        text = text.format(ref0=references[0], ref1=references[1])
        try:
            turn = SmsChannel(services, ttl=TTL).handle(text, phone, conversations.get(phone),
                                                        now)
        except Exception as error:  # one side failing is a difference too
            seen.append(f"{phone} {text!r}: {type(error).__name__}")
            continue
        conversations[phone] = turn.conversation
        step = turn.conversation.step if turn.conversation else None
        seen.append(f"{phone} {text!r} -> {turn.replies} at {step}")
    stored = [(a.nik, a.kk, a.reason, a.suket, a.stage, a.language, a.pickup_at)
              for a in services.applications]
    seen.append(f"stored {stored}, families {services.families}, submissions "
                f"{services.submissions}, told {services.attempts_told}, opted out "
                f"{sorted(services.opted_out)}, languages "
                f"{[services.language_of(phone) for phone in sorted(FAMILIES.values())]}")
    for order, application in enumerate(services.applications):
        seen = [line.replace(application.reference, f"<ref{order}>") for line in seen]
        if application.pickup_code:
            seen = [line.replace(application.pickup_code, f"<code{order}>") for line in seen]
    return seen


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(arrangement=arranged, sent=messages, blangko=st.sampled_from((0, 0, 3)))
def test_whatever_the_phones_send_both_services_answer_alike(services_pair, arrangement, sent,
                                                             blangko) -> None:
    with services_pair() as (fake, sql):
        assert play(fake, arrangement, sent, blangko) == play(sql, arrangement, sent, blangko)
