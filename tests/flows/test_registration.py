"""The registration dialogue driven directly: NIK -> KK -> reason -> Suket (new card only) ->
confirmation -> a reference, with every refusal keeping the resident at the same question."""

from datetime import datetime
from typing import Any

import pytest

import flows.dialogue as dialogue_module
from flows.dialogue import CANCELLED, DONE, Conversation, Invalid, Outcome
from flows.registration import REGISTRATION, check_nik, check_reason, read_confirmation
from sms_ktp.domain.reference import normalise_reference
from sms_ktp.domain.stages import Stage

PHONE = "+6281234567890"
OTHER_PHONE = "+6285711112222"
EXPIRES_AT = datetime(2024, 11, 7, 9, 30)
NIK = "3271014501900001"  # woman born 5 Jan 1990
NIK_2 = "3271021506850002"
NIK_JAKARTA = "3173014501900001"
KK = "3271010101200003"
KK_2 = "3271060101200009"


def start(prefill: dict[str, str] | None = None, phone: str = PHONE) -> Conversation:
    return REGISTRATION.start(phone, "id", EXPIRES_AT, prefill)


def answer_all(conversation: Conversation, services: Any, *texts: str) -> Outcome:
    outcome = Outcome(conversation.step)
    for text in texts:
        outcome = REGISTRATION.answer(conversation, text, services)
        assert outcome.error is None, f"{text!r} refused: {outcome.error.key}"
    return outcome


def refused(conversation: Conversation, services: Any, text: str) -> Invalid:
    """Answer `text`, check that it was refused without moving or storing, return the refusal."""
    step, answers = conversation.step, dict(conversation.answers)
    outcome = REGISTRATION.answer(conversation, text, services)
    assert outcome.error is not None, f"{text!r} was accepted at {step}"
    assert outcome.step == conversation.step == step
    assert conversation.answers == answers
    return outcome.error


# --- the guided path ------------------------------------------------------------------------
def test_new_conversation_asks_the_nik(services) -> None:
    conversation = start()
    assert conversation.step == "nik"
    assert conversation.flow == "register"
    assert conversation.expires_at == EXPIRES_AT
    assert REGISTRATION.steps[conversation.step].prompt == "register.ask_nik"


def test_guided_registration_for_a_new_card(services) -> None:
    conversation = start()
    steps = []
    for text in (NIK, KK, "1", "470/123/Kec.BS/2018"):
        outcome = REGISTRATION.answer(conversation, text, services)
        assert outcome.error is None
        steps.append(outcome.step)
    assert steps == ["kk", "reason", "suket", "confirm"]
    assert services.applications == []  # nothing stored before the confirmation

    outcome = REGISTRATION.answer(conversation, "ya", services)
    assert outcome.step == DONE
    assert conversation.finished
    reference = outcome.result["ref"]
    assert normalise_reference(reference) == reference
    assert outcome.result["bring"].key == "bring.baru"
    stored = services.application(reference)
    assert (stored.nik, stored.kk, stored.reason, stored.suket) == (
        NIK, KK, "baru", "470/123/KEC.BS/2018")
    assert services.families == {KK: PHONE}


@pytest.mark.parametrize(("text", "reason"), [("2", "hilang"), ("3", "rusak"),
                                              ("4", "perubahan_data")])
def test_other_reasons_skip_the_suket(services, text: str, reason: str) -> None:
    conversation = start()
    outcome = answer_all(conversation, services, NIK, KK, text)
    assert outcome.step == "confirm"
    assert "suket" not in conversation.answers
    outcome = REGISTRATION.answer(conversation, "YA", services)
    assert outcome.step == DONE
    assert services.application(outcome.result["ref"]).reason == reason
    assert outcome.result["bring"].key == f"bring.{reason}"


@pytest.mark.parametrize(
    ("text", "reason"),
    [("hilang", "hilang"), ("LOST", "hilang"), ("Hilang.", "hilang"), ("rusak", "rusak"),
     ("damaged", "rusak"), ("perubahan data", "perubahan_data"), ("Baru", "baru"),
     (" 2 ", "hilang"), ("１", "baru")],
)
def test_reason_words(services, text: str, reason: str) -> None:
    conversation = start()
    answer_all(conversation, services, NIK, KK, text)
    assert conversation.answers["reason"] == reason


def test_nik_from_another_regency_is_accepted(services) -> None:
    conversation = start()
    answer_all(conversation, services, NIK_JAKARTA)
    assert conversation.answers == {"nik": NIK_JAKARTA}


def test_numbers_typed_with_spaces_and_dots_are_read(services) -> None:
    conversation = start()
    answer_all(conversation, services, "3271 0145 0190 0001", "3271.0101.0120.0003")
    assert conversation.answers == {"nik": NIK, "kk": KK}


@pytest.mark.parametrize(("reason", "again"), [("2", "2"), ("1", "1"), ("hilang", "2"),
                                               ("3", "rusak")])
def test_the_reason_sent_twice_neither_submits_nor_cancels(services, reason: str,
                                                           again: str) -> None:
    """At the summary `1` and `2` are no decision: the SMS of the reason, sent again."""
    conversation = start()
    answer_all(conversation, services, NIK, KK, reason)
    if conversation.step == "suket":
        answer_all(conversation, services, "474.11/123/KEC-BGR")
    before = dict(conversation.answers)
    outcome = REGISTRATION.answer(conversation, again, services)
    assert (outcome.step, outcome.error) == ("confirm", None)
    assert conversation.answers == before and services.submissions == 0


@pytest.mark.parametrize("again", [NIK, "3271 0145 0190 0001", f"NIK {NIK}"])
def test_the_nik_sent_twice_is_not_taken_for_the_kk(services, again: str) -> None:
    conversation = start()
    answer_all(conversation, services, NIK)
    outcome = REGISTRATION.answer(conversation, again, services)
    assert (outcome.step, outcome.error) == ("kk", None)
    assert conversation.answers == {"nik": NIK}


def test_the_kk_sent_twice_asks_the_reason_again(services) -> None:
    conversation = start()
    answer_all(conversation, services, NIK, KK)
    outcome = REGISTRATION.answer(conversation, KK, services)
    assert (outcome.step, outcome.error) == ("reason", None)
    assert conversation.answers == {"nik": NIK, "kk": KK}


def test_a_kk_equal_to_the_nik_is_refused(services) -> None:
    """A Bogor NIK is shaped like a Bogor KK: sent in the KK's place it must not pass."""
    nik = "3271011501900004"  # born 15 January 1990: its digits are a well-formed Bogor KK
    conversation = start({"nik": nik, "kk": nik})
    outcome = REGISTRATION.answer(conversation, None, services)
    assert outcome.step == "kk" and outcome.error.key == "error.kk.same_as_nik"


def test_labelled_numbers_in_the_middle_of_the_dialogue_are_read_by_their_labels(
        services) -> None:
    conversation = start()
    outcome = REGISTRATION.answer(conversation, f"KK {KK} NIK {NIK}", services)
    assert outcome.step == "reason" and conversation.answers == {"nik": NIK, "kk": KK}


def test_a_labelled_nik_that_differs_goes_back_to_the_nik(services) -> None:
    other = "3271014501900002"
    conversation = start()
    answer_all(conversation, services, NIK, KK, "2")
    outcome = REGISTRATION.answer(conversation, f"NIK {other}", services)
    assert outcome.step == "confirm"
    assert conversation.answers == {"nik": other, "kk": KK, "reason": "hilang"}


def test_confirmation_prompt_shows_masked_numbers_and_the_reason() -> None:
    params = REGISTRATION.steps["confirm"].prompt_params({"nik": NIK, "kk": KK,
                                                          "reason": "rusak"})
    assert params["nik"] == "***0001"
    assert params["kk"] == "***0003"
    assert params["reason"].key == "reason.rusak"


@pytest.mark.parametrize("no", ["TIDAK", "tidak", "Tdk", "no", "henteu", "tidak jadi",
                                "Gak, salah"])
def test_no_ends_cancelled_without_submitting(services, no: str) -> None:
    conversation = start()
    answer_all(conversation, services, NIK, KK, "2")
    outcome = REGISTRATION.answer(conversation, no, services)
    assert outcome.step == CANCELLED
    assert outcome.error is None
    assert outcome.result == {}
    assert conversation.finished
    assert services.submissions == 0
    assert services.applications == []
    assert services.families == {}


@pytest.mark.parametrize("yes", ["YA", "ya", "Iya", "ok", "YES", "benar!", "muhun",
                                 "Ya, benar", "iya kirim", "Ya. Terima kasih"])
def test_yes_submits(services, yes: str) -> None:
    conversation = start()
    answer_all(conversation, services, NIK, KK, "3")
    assert REGISTRATION.answer(conversation, yes, services).step == DONE
    assert len(services.applications) == 1


# --- refusals keep the step -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "key", "got"),
    [
        ("327101450190000", "error.nik.length", 15),  # 15 digits
        ("32710145019000011", "error.nik.length", 17),
        ("3271O14501900001", "error.nik.length", 15),  # letter O for zero
        ("nik saya", "error.nik.length", 0),
        ("9999014501900001", "error.nik.region", None),  # no such regency
        ("3271013201900001", "error.nik.birth_date", None),  # day 32
        ("3271013102900001", "error.nik.birth_date", None),  # 31 February
        ("3271014513900001", "error.nik.birth_date", None),  # month 13
        ("3271014501900000", "error.nik.serial", None),
    ],
)
def test_nik_refusals(services, text: str, key: str, got: int | None) -> None:
    conversation = start()
    error = refused(conversation, services, text)
    assert error.key == key
    if got is not None:
        assert error.params == {"got": got}  # "we read {got} digits"
    # ... and the resident can still answer correctly.
    answer_all(conversation, services, NIK)
    assert conversation.step == "kk"


def test_nik_with_an_active_application_is_refused_to_staff(services) -> None:
    services.add_application(OTHER_PHONE, NIK, KK_2, stage=Stage.PENUNGGALAN)
    with pytest.raises(Invalid) as refusal:
        check_nik(NIK, services)  # the staff form: no family phone of its own
    assert refusal.value.key == "error.nik.active"


def test_the_family_phone_sending_its_nik_again_gets_the_reference_back(services) -> None:
    reference = services.add_application(PHONE, NIK, KK, stage=Stage.PENUNGGALAN)
    conversation = start()
    outcome = REGISTRATION.answer(conversation, NIK, services)
    assert outcome.step == CANCELLED
    assert outcome.error.key == "register.exists"
    assert outcome.error.params == {"ref": reference, "nik": "***0001"}


def test_nik_whose_last_application_is_closed_may_apply_again(services) -> None:
    services.add_application(PHONE, NIK, KK, stage=Stage.COLLECTED)
    conversation = start()
    answer_all(conversation, services, NIK)
    assert conversation.step == "kk"


@pytest.mark.parametrize(
    ("text", "key", "got"),
    [
        ("327101010120000", "error.kk.length", 15),
        ("32710101012000031", "error.kk.length", 17),
        ("3201010101200003", "error.kk.not_resident", None),  # Kabupaten Bogor
        ("3173010101200003", "error.kk.not_resident", None),  # Jakarta
        ("3271070101200003", "error.kk.not_resident", None),  # Kota Bogor: kecamatan 01-06 only
    ],
)
def test_kk_refusals(services, text: str, key: str, got: int | None) -> None:
    conversation = start()
    answer_all(conversation, services, NIK)
    error = refused(conversation, services, text)
    assert error.key == key
    if got is not None:
        assert error.params == {"got": got}
    assert conversation.answers == {"nik": NIK}


@pytest.mark.parametrize("kk", [f"32710{k}0101200003" for k in range(1, 7)])
def test_every_kota_bogor_kecamatan_is_accepted(services, kk: str) -> None:
    conversation = start()
    answer_all(conversation, services, NIK, kk)
    assert conversation.answers["kk"] == kk


def test_family_bound_to_another_phone_is_refused(services) -> None:
    services.add_application(OTHER_PHONE, NIK_2, KK)
    conversation = start()
    answer_all(conversation, services, NIK)
    assert refused(conversation, services, KK).key == "error.kk.other_phone"


def test_family_of_this_phone_may_register_another_member(services) -> None:
    services.add_application(PHONE, NIK_2, KK)
    conversation = start()
    outcome = answer_all(conversation, services, NIK, KK, "4", "ya")
    assert outcome.step == DONE
    assert [a.nik for a in services.applications] == [NIK_2, NIK]


@pytest.mark.parametrize("text", ["5", "0", "-1", "hilang rusak", "2 3", "2 rusak", "ya", "",
                                  "pilih 5", "pindah"])
def test_unknown_reason_is_refused(services, text: str) -> None:
    conversation = start()
    answer_all(conversation, services, NIK, KK)
    assert refused(conversation, services, text).key == "error.reason.unknown"


@pytest.mark.parametrize(("text", "reason"), [
    ("2 hilang", "hilang"), ("no 2", "hilang"), ("pilih 2", "hilang"), ("2 (hilang)", "hilang"),
    ("hilang pak", "hilang"), ("ktp saya hilang", "hilang"), ("hilang ktp", "hilang"),
    ("3. rusak", "rusak"), ("ktp patah", "rusak"), ("ganti data", "perubahan_data"),
    ("4 perubahan data", "perubahan_data"),
    ("pemula", "baru"), ("1 baru, sudah punya suket", "baru"),
])
def test_a_reason_in_a_sentence_is_read(services, text: str, reason: str) -> None:
    conversation = start()
    answer_all(conversation, services, NIK, KK, text)
    assert conversation.answers["reason"] == reason


@pytest.mark.parametrize("text", ["", "??", "ada", "belum punya", "ab", "#470/12", "4" * 41])
def test_unreadable_suket_is_refused(services, text: str) -> None:
    conversation = start()
    answer_all(conversation, services, NIK, KK, "1")
    assert refused(conversation, services, text).key == "error.suket.invalid"


@pytest.mark.parametrize("text", ["mungkin", "", "ya tidak", "3", "nanti"])
def test_unclear_confirmation_is_refused(services, text: str) -> None:
    conversation = start()
    answer_all(conversation, services, NIK, KK, "2")
    assert refused(conversation, services, text).key == "error.confirm.unknown"
    assert services.submissions == 0


def test_a_nik_registered_meanwhile_by_another_family_ends_without_telling_whose(
        services) -> None:
    """Whether a NIK has an application is not told to whoever types it: the dialogue ends
    with the same words whatever the reason, and the family phone is told instead."""
    conversation = start()
    answer_all(conversation, services, NIK, KK, "2")
    reference = services.add_application(OTHER_PHONE, NIK, KK_2)  # meanwhile, another phone
    outcome = REGISTRATION.answer(conversation, "ya", services)
    assert outcome.step == CANCELLED
    assert outcome.error is not None and outcome.error.key == "error.nik.elsewhere"
    assert outcome.error.params == {}
    assert len(services.applications) == 1
    assert services.attempts_told == [(OTHER_PHONE, reference)]


def test_a_nik_registered_meanwhile_by_the_same_phone_gives_its_reference(services) -> None:
    conversation = start()
    answer_all(conversation, services, NIK, KK, "2")
    reference = services.add_application(PHONE, NIK, KK)  # meanwhile, e.g. by USSD
    outcome = REGISTRATION.answer(conversation, "ya", services)
    assert outcome.step == CANCELLED
    assert outcome.error.key == "register.exists"
    assert outcome.error.params == {"ref": reference, "nik": "***0001"}
    assert len(services.applications) == 1 and services.attempts_told == []


def test_a_nik_of_another_family_is_answered_as_any_nik_at_the_nik_step(services) -> None:
    services.add_application(OTHER_PHONE, NIK, KK_2)
    conversation = start()
    outcome = REGISTRATION.answer(conversation, NIK, services)
    assert (outcome.step, outcome.error) == ("kk", None)


# --- prefilled answers (`DAFTAR NIK#KK#...`) ------------------------------------------------
def test_prefilled_answers_are_consumed_and_only_the_missing_asked(services) -> None:
    conversation = start({"nik": NIK, "kk": KK})
    outcome = REGISTRATION.answer(conversation, None, services)
    assert (outcome.step, outcome.error) == ("reason", None)
    assert conversation.answers == {"nik": NIK, "kk": KK}
    assert conversation.prefill == {}


def test_prefilled_reason_two_goes_straight_to_confirmation(services) -> None:
    conversation = start({"nik": NIK, "kk": KK, "reason": "2"})
    assert REGISTRATION.answer(conversation, None, services).step == "confirm"


def test_prefilled_suket_is_used_for_a_new_card(services) -> None:
    conversation = start({"nik": NIK, "kk": KK, "reason": "1", "suket": "470/12/KEC"})
    assert REGISTRATION.answer(conversation, None, services).step == "confirm"
    assert conversation.answers["suket"] == "470/12/KEC"


def test_prefilled_reason_one_without_suket_asks_for_it(services) -> None:
    conversation = start({"nik": NIK, "kk": KK, "reason": "1"})
    assert REGISTRATION.answer(conversation, None, services).step == "suket"


def test_invalid_prefilled_nik_stops_at_nik_and_the_prefilled_kk_is_used_later(services) -> None:
    conversation = start({"nik": "327101450190000", "kk": KK})
    outcome = REGISTRATION.answer(conversation, None, services)
    assert outcome.step == "nik"
    assert outcome.error is not None
    assert (outcome.error.key, outcome.error.params) == ("error.nik.length", {"got": 15})
    assert conversation.answers == {}

    outcome = REGISTRATION.answer(conversation, NIK, services)
    assert (outcome.step, outcome.error) == ("reason", None)
    assert conversation.answers == {"nik": NIK, "kk": KK}
    assert conversation.prefill == {}


def test_invalid_prefilled_kk_stops_at_kk(services) -> None:
    conversation = start({"nik": NIK, "kk": "3201010101200003", "reason": "2"})
    outcome = REGISTRATION.answer(conversation, None, services)
    assert outcome.step == "kk"
    assert outcome.error is not None
    assert outcome.error.key == "error.kk.not_resident"
    outcome = REGISTRATION.answer(conversation, KK, services)
    assert outcome.step == "confirm"  # the prefilled reason is still used


def test_prefill_without_anything_valid_asks_the_first_question(services) -> None:
    conversation = start({})
    outcome = REGISTRATION.answer(conversation, None, services)
    assert (outcome.step, outcome.error) == ("nik", None)


# --- the machine ----------------------------------------------------------------------------
def test_machine_is_built_once_and_keeps_no_models(services, monkeypatch) -> None:
    machine = REGISTRATION._machine
    assert machine.models == []

    def no_new_machines(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a conversation built a new state machine")

    monkeypatch.setattr(dialogue_module, "Machine", no_new_machines)
    for number in range(1, 21):
        nik = f"327102150685{number:04d}"
        kk = f"32710{1 + number % 6}0101200{number:03d}"
        conversation = start(phone=f"+62812000{number:05d}")
        for text in ("salah", nik, kk, "9", "2", "mungkin", "ya" if number % 2 else "tidak"):
            REGISTRATION.answer(conversation, text, services)
            assert machine.models == []
        assert conversation.finished
    assert REGISTRATION._machine is machine
    assert len(services.applications) == 10


def test_interleaved_conversations_do_not_disturb_each_other(services) -> None:
    first, second = start(phone=PHONE), start(phone=OTHER_PHONE)
    REGISTRATION.answer(first, NIK, services)
    REGISTRATION.answer(second, NIK_2, services)
    REGISTRATION.answer(second, KK_2, services)
    assert (first.step, first.answers) == ("kk", {"nik": NIK})
    assert (second.step, second.answers) == ("reason", {"nik": NIK_2, "kk": KK_2})
    REGISTRATION.answer(first, KK, services)
    assert first.answers == {"nik": NIK, "kk": KK}
    assert second.answers == {"nik": NIK_2, "kk": KK_2}


def test_machine_lets_go_of_the_conversation_when_a_service_fails(services, monkeypatch) -> None:
    def database_down(nik: str) -> str | None:
        raise ConnectionError("database down")

    monkeypatch.setattr(services, "active_application", database_down)
    conversation = start()
    with pytest.raises(ConnectionError):
        REGISTRATION.answer(conversation, NIK, services)
    assert REGISTRATION._machine.models == []
    assert conversation.step == "nik"


@pytest.mark.parametrize(
    ("answer", "reason"),
    [("Énggal", "baru"), ("enggal", "baru"), ("leungit", "hilang"), ("RUKSAK", "rusak"),
     ("parobihan data", "perubahan_data"), ("Parobihan", "perubahan_data")],
)
def test_sundanese_reason_words(answer: str, reason: str) -> None:
    assert check_reason(answer) == reason


@pytest.mark.parametrize(("answer", "yes"), [("Enya", True), ("muhun", True), ("LERES", True),
                                             ("henteu", False), ("Teu", False), ("moal", False)])
def test_sundanese_yes_and_no(answer: str, yes: bool) -> None:
    conversation = Conversation("+6281234567890", "register", "confirm", "su",
                                datetime(2026, 11, 30, 2, 0))
    assert read_confirmation(answer, None, conversation) is yes  # type: ignore[arg-type]
