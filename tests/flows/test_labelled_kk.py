"""A number the resident labels KK ("KK: 3271...", "no kk 3271...", "nomor KK: ...") is the KK
wherever it comes: in the first SMS, or where the KTP-el registration or another document asks
for a NIK. It is kept for the KK question (which is then never asked), the one reply says so and
asks for the NIK, and it is never stored as a NIK: checked here over random exchanges too."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sms_resident import NOW, PHONE, TTL, Resident, handed_drafts

from flows.catalogue import render
from flows.dialogue import Conversation
from flows.documents.common import DocumentDialogue
from flows.sms import DIALOGUES, SmsChannel
from flows.ussd import UssdChannel
from sms_ktp.domain.masking import mask_id

NIK = "3271014501900029"  # a woman born 5 January 1990
DECEASED = "3201021210780012"
# A Kota Bogor KK that passes every rule of a NIK too (a man born 1 January 2020): read by
# its place it could be taken for one, so only its label tells.
KK = "3271010101200003"


def r(key: str, language: str = "id", **params: Any) -> str:
    return render(language, key, **params)


def test_the_ktp_el_nik_question_keeps_a_labelled_kk_and_asks_the_nik(services) -> None:
    resident = Resident(services)
    resident.send("DAFTAR")
    assert resident.send(f"KK: {KK}") == r("register.kk_noted", kk=mask_id(KK))
    assert resident.step == "nik" and resident.conversation.answers == {}
    assert resident.send(NIK) == r("register.ask_reason")
    resident.send("2")
    resident.send("YA")
    [stored] = services.applications
    assert (stored.nik, stored.kk, stored.reason) == (NIK, KK, "hilang")


def test_a_ktp_el_registration_with_only_a_labelled_kk_says_it_is_kept(services) -> None:
    resident = Resident(services)
    assert resident.send(f"DAFTAR No. KK {KK}") == r("register.kk_noted", kk=mask_id(KK))
    assert resident.send(NIK) == r("register.ask_reason")


@pytest.mark.parametrize(("text", "code", "after_nik"), [
    (f"KK: {KK}", "kk", "reason"),
    (f"kk {KK}", "kk", "reason"),
    (f"AKTA LAHIR no kk {KK}", "akta_lahir", "birth_date"),
    (f"AKTA MATI nomor KK: {KK}", "akta_mati", "deceased"),
    (f"KIA KK nya {KK}", "kia", "birth"),
])
def test_a_labelled_kk_as_the_first_sms_is_kept_and_the_nik_asked(services, text: str,
                                                                  code: str,
                                                                  after_nik: str) -> None:
    resident = Resident(services)
    assert resident.send(text) == r(f"{code}.kk_noted", kk=mask_id(KK))
    assert resident.conversation.flow == code and resident.step == "nik"
    resident.send(NIK)
    assert resident.step == after_nik
    assert resident.conversation.answers["nik"] == NIK


@pytest.mark.parametrize("code", ["kk", "akta_lahir", "akta_mati", "kia"])
def test_a_labelled_kk_at_a_documents_nik_question_is_kept(services, code: str) -> None:
    resident = Resident(services)
    keyword = {"kk": "KK", "akta_lahir": "AKTA LAHIR", "akta_mati": "AKTA MATI",
               "kia": "KIA"}[code]
    assert resident.send(keyword) == r(f"{code}.ask.nik")
    assert resident.send(f"No. KK: {KK}") == r(f"{code}.kk_noted", kk=mask_id(KK))
    assert resident.conversation.prefill == {"kk": KK}
    # sent again, it is noted again: never "already sent as the NIK"
    assert resident.send(f"KK {KK}") == r(f"{code}.kk_noted", kk=mask_id(KK))
    resident.send(NIK)
    answers, kept = resident.conversation.answers, resident.conversation.prefill
    assert answers["nik"] == NIK
    assert answers.get("kk", kept.get("kk")) == KK  # the KK answered, or kept for its turn


def test_the_kk_kept_is_said_in_the_phones_language(services) -> None:
    services.set_language(PHONE, "en")
    resident = Resident(services)
    assert resident.send(f"KK: {KK}") == r("kk.kk_noted", "en", kk=mask_id(KK))


def test_the_ussd_nik_question_says_the_kk_typed_there_is_kept(services) -> None:
    channel = UssdChannel(services, timedelta(minutes=30))
    turn = channel.begin(PHONE, None, NOW)
    turn = channel.handle(turn.menu, "1", PHONE, turn.conversation, NOW)
    turn = channel.handle(turn.menu, f"KK {KK}", PHONE, turn.conversation, NOW)
    assert turn.screen.startswith("CON " + r("ussd.register.kk_noted", kk=mask_id(KK)))
    assert turn.conversation.step == "nik" and turn.conversation.prefill == {"kk": KK}


# --- whatever is sent, a number labelled KK is never a NIK -------------------------------------
LABELLED = (f"KK: {KK}", f"kk {KK}", f"no kk {KK}", f"nomor KK: {KK}", f"No. KK {KK}",
            f"KK nya {KK}", f"Kartu Keluarga: {KK}", f"KK {KK} hilang", f"AKTA LAHIR KK {KK}",
            f"KIA no kk {KK}", f"AKTA MATI KK: {KK}", f"DAFTAR KK {KK}",
            f"KK No KK {KK}#{NIK}#2", f"DAFTAR {NIK}#KK {KK}#2",
            f"AKTA MATI {NIK}#{DECEASED}#01-11-2024#KK {KK}",
            f"AKTA LAHIR {NIK} KK {KK} tgl lahir 12/3/19 P")
OTHERS = ("DAFTAR", "KK", "AKTA LAHIR", "AKTA MATI", "KIA", NIK, DECEASED, "12/3/19",
          "tgl 1 nov 2024", "P", "1", "2", "470/12/KEC", "YA", "TIDAK", "BATAL", "halo")
exchanges = st.lists(st.sampled_from(LABELLED + OTHERS), min_size=1, max_size=12)


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=exchanges)
def test_a_number_labelled_kk_is_never_stored_as_a_nik(services_pair, texts) -> None:
    with services_pair() as both:
        for services in both:
            never_a_nik(services, texts)


def never_a_nik(services, texts) -> None:
    """`texts` sent one after the other: the KK is never a NIK kept by the dialogue or stored
    with an application."""
    channel = SmsChannel(services, ttl=TTL)
    conversation = None
    for text in texts:
        conversation = channel.handle(text, PHONE, conversation, NOW).conversation
        kept = conversation.answers if conversation is not None else {}
        assert KK not in (kept.get("nik"), kept.get("deceased")), (text, kept)
    assert all(stored.nik != KK for stored in services.applications)


# --- a document's NIK question read by the labels of the numbers it is sent ----------------------
KEYWORD = {"kk": "KK", "akta_lahir": "AKTA LAHIR", "akta_mati": "AKTA MATI", "kia": "KIA"}
# The question after the NIK's, once the KK is answered or kept: the KK's own is never asked.
AFTER_NIK = {"kk": "reason", "akta_lahir": "birth_date", "akta_mati": "deceased",
             "kia": "birth"}
BOTH_LABELLED = (f"KK {KK} NIK {NIK}", f"nik: {NIK} kk: {KK}", f"No. KK: {KK}, NIK: {NIK}",
                 f"nik#{NIK}#kk#{KK}", f"NIK {NIK}\nKK {KK}", f"kk {KK} {NIK}")


@pytest.mark.parametrize("text", BOTH_LABELLED)
@pytest.mark.parametrize("code", ["kk", "akta_lahir", "akta_mati", "kia"])
def test_a_documents_nik_question_reads_the_numbers_by_their_labels(services, code: str,
                                                                     text: str) -> None:
    resident = Resident(services)
    resident.send(KEYWORD[code])
    reply = resident.send(text)
    assert resident.step == AFTER_NIK[code]
    if code != "kk":  # (the KK's reason question lists its choices after the prompt)
        assert reply == r(f"{code}.ask.{AFTER_NIK[code]}")
    answers, kept = resident.conversation.answers, resident.conversation.prefill
    assert answers["nik"] == NIK
    assert answers.get("kk", kept.get("kk")) == KK  # answered, or kept for its question


@pytest.mark.parametrize("text", BOTH_LABELLED)
def test_the_deceaseds_nik_question_reads_the_numbers_by_their_labels(services,
                                                                      text: str) -> None:
    resident = Resident(services)
    resident.send("AKTA MATI")
    resident.send(NIK)
    assert resident.send(text.replace(NIK, DECEASED)) == r("akta_mati.ask.died")
    assert resident.conversation.answers == {"nik": NIK, "deceased": DECEASED}
    assert resident.conversation.prefill == {"kk": KK}
    resident.send("1 nov 2024")
    assert resident.step == "confirm"  # the KK kept answers its question, never asked
    resident.channel.handle("YA", PHONE, resident.conversation, NOW)  # (two SMS: ref, papers)
    [stored] = services.applications
    assert (stored.nik, stored.kk) == (NIK, KK)


def test_a_labelled_nik_that_is_refused_keeps_the_labelled_kk(services) -> None:
    resident = Resident(services)
    resident.send("KIA")
    assert resident.send(f"KK {KK} NIK 3271 0145 0190") \
        == r("error.nik.length", got=12)
    assert resident.step == "nik" and resident.conversation.prefill == {"kk": KK}
    resident.send(NIK)
    assert resident.step == "birth"
    assert resident.conversation.answers == {"nik": NIK, "kk": KK}


def test_two_numbers_labelled_kk_at_the_nik_question_are_neither_the_nik(services) -> None:
    resident = Resident(services)
    resident.send("AKTA LAHIR")
    resident.send(f"KK {KK} KK {NIK}")
    assert resident.step == "nik" and resident.conversation.answers == {}


# Messages that label a KK, most of them beside a NIK; the KK is never sent without a label.
LABELLED_BESIDE = (*BOTH_LABELLED, f"KK {KK} NIK {DECEASED}", f"nik: {DECEASED}, kk: {KK}",
                   f"NIK almarhum {DECEASED}\nKK: {KK}", f"NIK#{NIK}#KK#{KK}", f"no kk {KK}",
                   f"KK: {KK}", f"kk {KK} nik 3271", f"KK {KK} KK {NIK}",
                   f"KK#{KK}#NIK#{NIK}#hilang", f"KK {KK} NIK {NIK} hilang",
                   f"AKTA MATI KK {KK} NIK {NIK}", f"KIA nik {NIK} kk {KK}",
                   f"AKTA LAHIR {NIK}#KK {KK}", f"AKTA LAHIR KK {KK} NIK {NIK}",
                   f"AKTA MATI NIK {NIK} KK {KK}", f"KK {KK}#NIK {NIK}#5",
                   f"KK#{KK}#NIK#{NIK}", f"kk # {KK} # nik # {DECEASED}", f"No KK#{KK}",
                   f"KK*{KK}", f"KIA#KK#{KK}#NIK#{NIK}")
DOCUMENT_OTHERS = ("KK", "AKTA LAHIR", "AKTA MATI", "KIA", NIK, DECEASED, f"NIK {NIK}",
                   f"nik: {DECEASED}", "12/3/19", "1 nov 2024", "P", "1", "5", "YA", "TIDAK",
                   "BATAL", "halo")
document_exchanges = st.lists(st.sampled_from(LABELLED_BESIDE + DOCUMENT_OTHERS), min_size=1,
                              max_size=12)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=document_exchanges)
def test_a_number_labelled_kk_beside_a_nik_never_becomes_a_documents_nik(services_pair,
                                                                          texts) -> None:
    with services_pair() as both:
        for services in both:
            drafts = handed_drafts(services)
            never_a_nik(services, texts)
            assert all(draft.details.get("deceased_nik") != KK for draft in drafts)


# --- KK#<KK>#NIK#<NIK> at a NIK question answers it -----------------------------------------------
HASH_LISTS = (f"KK#{KK}#NIK#{NIK}", f"kk#{KK}#nik#{NIK}", f"NIK#{NIK}#KK#{KK}",
              f"KK # {KK} # NIK # {NIK}")


@pytest.mark.parametrize("text", HASH_LISTS)
@pytest.mark.parametrize("start", ["DAFTAR", "KK", "AKTA LAHIR", "AKTA MATI", "KIA"])
def test_a_hash_list_of_labelled_numbers_answers_the_nik_question(services, start: str,
                                                                  text: str) -> None:
    """The KK keyword before `#` and a number labels that number: the dialogue in progress
    reads the list as its answer and starts no KK application."""
    resident = Resident(services)
    resident.send(start)
    flow = resident.conversation.flow
    reply = resident.send(text)
    assert resident.conversation.flow == flow
    answers, kept = resident.conversation.answers, resident.conversation.prefill
    assert answers["nik"] == NIK
    assert answers.get("kk", kept.get("kk")) == KK
    if flow in AFTER_NIK and flow != "kk":
        assert reply == r(f"{flow}.ask.{AFTER_NIK[flow]}")


def test_a_hash_list_at_a_question_that_reads_no_labels_asks_it_again(services) -> None:
    resident = Resident(services)
    for text in ("AKTA LAHIR", NIK, KK):
        resident.send(text)
    before = dict(resident.conversation.answers)
    assert resident.send(f"KK#{KK}#NIK#{NIK}") == r("error.date.unreadable")
    assert resident.conversation.flow == "akta_lahir" and resident.step == "birth_date"
    assert resident.conversation.answers == before


@pytest.mark.parametrize("text", [f"KK#{KK}#NIK#{NIK}", f"kk # {KK} # nik # {NIK}"])
def test_outside_a_dialogue_the_hash_list_is_the_kk_application(services, text: str) -> None:
    resident = Resident(services)
    assert resident.send(text).startswith(r("kk.ask.reason"))
    assert resident.conversation.flow == "kk"
    assert resident.conversation.answers == {"nik": NIK, "kk": KK}


def test_the_kk_form_with_its_reason_starts_a_kk_application_mid_dialogue(services) -> None:
    resident = Resident(services)
    resident.send("AKTA LAHIR")
    resident.send(f"KK#{KK}#NIK#{NIK}#hilang")
    assert resident.conversation.flow == "kk" and resident.step == "confirm"


# Texts that may put another application's dialogue in the place of one at a NIK question: a
# keyword alone, or a one-SMS form that carries more than numbers and their labels.
REPLACING = ("DAFTAR", "KK", "kartu keluarga", "AKTA LAHIR", "AKTA MATI", "KIA",
             f"KK#{KK}#NIK#{NIK}#hilang", f"KK {NIK}#{KK}#5", f"DAFTAR {NIK}#{KK}#2",
             f"AKTA LAHIR {NIK}#{KK}#12/3/19#P", f"KIA {NIK}#{KK}#12/3/19",
             f"AKTA MATI {NIK}#{DECEASED}#01-11-2024#{KK}")
# Numbers and their labels (a NIK labelled among them when `#` separates them), after a
# document's keyword or none, and the other answers of the dialogues.
ANSWERING = (*HASH_LISTS, f"KK#{KK}#NIK#{DECEASED}", f"KIA#NIK#{NIK}#KK#{KK}",
             f"AKTA LAHIR # KK {KK} # NIK {NIK}", f"AKTA MATI#no kk#{KK}#nik#{DECEASED}",
             f"KK*{KK}*NIK*{NIK}", f"KK {KK} NIK {NIK}", f"KK: {KK}", f"No KK#{KK}",
             f"KK {KK}", f"AKTA LAHIR {NIK}", NIK, DECEASED, f"NIK {NIK}", "12/3/19", "P",
             "1", "5", "YA", "TIDAK", "BATAL", "halo", "STATUS")
mid_dialogue = st.lists(st.sampled_from(REPLACING + ANSWERING), min_size=1, max_size=10)
NIK_QUESTIONS = st.sampled_from([("DAFTAR",), ("KK",), ("AKTA LAHIR",), ("KIA",),
                                 ("AKTA MATI",), ("AKTA MATI", NIK)])


def at_nik_question(conversation: Conversation | None) -> bool:
    if conversation is None:
        return False
    dialogue = DIALOGUES[conversation.flow]
    asks_nik = dialogue.nik_steps if isinstance(dialogue, DocumentDialogue) else {"nik"}
    return conversation.step in asks_nik


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=NIK_QUESTIONS, texts=mid_dialogue)
def test_a_nik_question_is_replaced_only_by_a_keyword_alone_or_a_form(services_pair, start,
                                                                       texts) -> None:
    """While a dialogue waits at a question that asks for a NIK (the KTP-el's, or one of a
    document's `nik_steps`), an SMS puts another application's dialogue in its place (or the
    same document's, started over) only when it starts with that application's keyword and is
    no answer: the keyword alone, or its one-SMS form carrying more than numbers and their
    labels (a reason, a date). Numbers and their labels, without `#` or as a `#` list that
    labels a NIK, after the KK keyword, another document's or none, answer the question (or
    are refused by it); BATAL may end the dialogue, and a NIK with an open application ends
    it with that application's reference, but neither starts another."""
    with services_pair() as both:
        for services in both:
            channel = SmsChannel(services, ttl=TTL)
            conversation = None
            for text in (*start, *texts):
                waiting = conversation if at_nik_question(conversation) else None
                conversation = channel.handle(text, PHONE, conversation, NOW).conversation
                if waiting is not None and conversation is not None \
                        and conversation is not waiting:
                    assert text in REPLACING, (waiting.flow, text, conversation.flow)
