"""The choices a WhatsApp question carries, for every dialogue step that offers them in every
language: each id reads, in the SMS dialogue, as the choice it names; each title fits reply
buttons (20 characters) or a list row (24), so nothing is cut. The same for the lists BAHASA and
LAYANAN answer with: each id is the keyword the list's text names."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from live_service import NIK

from flows.catalogue import languages, render
from flows.dialogue import CANCELLED, Conversation, Step
from flows.keywords import language_named, parse_command
from flows.sms import DIALOGUES, layanan
from gateway.message import OutboundSms, SendResult
from gateway.whatsapp import (
    BUTTON_TITLE_MAX,
    BUTTONS_MAX,
    LIST_ROWS_MAX,
    ROW_TITLE_MAX,
    WindowClosed,
)
from sms_ktp.channels import whatsapp_options
from sms_ktp.channels.whatsapp_options import (
    LIST_BUTTON_KEY,
    keyword_options,
    options_for,
    step_options,
)
from sms_ktp.domain import documents, region
from sms_ktp.messaging.outbox import _Choices, interactive_body

LATER = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
STEPS = [(flow, step) for flow, dialogue in DIALOGUES.items()
         for step in dialogue.steps.values() if step.choices]


# What a reader may look at: an adult applicant's NIK (a split KK needs one) and today.
SERVICES = SimpleNamespace(today=lambda: LATER.date())


def at(flow: str, step: str, language: str) -> Conversation:
    return Conversation("+6281234567890", flow, step, language, LATER, answers={"nik": NIK})


def test_the_dialogues_offer_choices_where_expected():
    named = {(flow, step.name) for flow, step in STEPS}
    assert {("register", "reason"), ("register", "confirm")} <= named
    assert any(flow == "kk" and name == "reason" for flow, name in named)


@pytest.mark.parametrize("language", languages())
@pytest.mark.parametrize(("flow", "step"), STEPS, ids=[f"{f}.{s.name}" for f, s in STEPS])
def test_every_choice_fits_and_reads_as_itself(flow: str, step: Step, language: str):
    options = step_options(step, language)
    assert 1 <= len(options) <= LIST_ROWS_MAX
    limit = BUTTON_TITLE_MAX if len(options) <= BUTTONS_MAX else ROW_TITLE_MAX
    for (option_id, title), choice in zip(options, step.choices, strict=True):
        assert title == render(language, choice.label)
        assert 0 < len(title) <= limit, title
        # A tap sends the id: the dialogue reads it as the choice it stands for.
        assert step.read(option_id, SERVICES, at(flow, step.name, language)) in (choice.value,
                                                                              choice.value == "YA")
    assert len({title.casefold() for _, title in options}) == len(options)

    stored = options_for(at(flow, step.name, language))
    assert stored is not None and json.loads(stored)["options"] == [list(o) for o in options]
    body = interactive_body("6281234567890", "?", stored)
    assert body["interactive"]["type"] == ("button" if len(options) <= BUTTONS_MAX else "list")


@pytest.mark.parametrize("language", languages())
def test_the_list_button_is_a_short_word(language: str):
    assert 0 < len(render(language, LIST_BUTTON_KEY)) <= 20


def test_a_question_without_choices_or_a_finished_dialogue_carries_none():
    assert options_for(at("register", "nik", "id")) is None
    assert options_for(at("register", CANCELLED, "id")) is None
    assert options_for(None) is None


def test_the_confirmation_ids_are_the_words_the_sms_reads():
    [(yes, _), (no, _)] = json.loads(options_for(at("register", "confirm", "jv")))["options"]
    assert (yes, no) == ("YA", "TIDAK")


@pytest.mark.parametrize("stored", ["not json", '{"options": [["1"]]}', '{"button": "Pilih"}',
                                    '{"options": [], "button": "Pilih"}'])
def test_unreadable_or_empty_options_are_refused_before_sending(stored: str):
    with pytest.raises(ValueError):
        interactive_body("6281234567890", "?", stored)


class _Route:
    """A `WhatsAppOrSms` stand-in that records what went which way."""

    def __init__(self, refuse: Exception | None = None) -> None:
        self.bodies: list[dict] = []
        self.texts: list[str] = []
        self.by_sms: list[str] = []
        self.last_wait = 0.0
        self.whatsapp = SimpleNamespace(send_body=self._body, last_wait=0.0)
        self.sms = SimpleNamespace(send=self._sms, name="console")
        self.refuse = refuse

    def _body(self, body: dict) -> SendResult:
        if self.refuse is not None:
            raise self.refuse
        self.bodies.append(body)
        return SendResult("wamid.1", "HTTP 200 accepted")

    def _sms(self, sms: OutboundSms) -> SendResult:
        self.by_sms.append(sms.text)
        return SendResult("sms-1", "ok")

    def send(self, sms: OutboundSms) -> SendResult:
        self.texts.append(sms.text)
        return SendResult("wamid.2", "HTTP 200 accepted", "whatsapp")


def test_choices_go_as_buttons_the_text_alone_when_they_do_not_fit_or_by_sms():
    stored = options_for(at("register", "confirm", "id"))
    sms = OutboundSms(id="u1", to="+6281234567890", text="Periksa ... Balas YA/TIDAK")

    sent = _Route()
    assert _Choices(sent, stored).send(sms).gateway == "whatsapp"
    assert sent.bodies[0]["interactive"]["body"]["text"] == sms.text
    assert sent.bodies[0]["biz_opaque_callback_data"] == "u1"

    unreadable = _Route()
    _Choices(unreadable, "not json").send(sms)
    assert (unreadable.bodies, unreadable.texts) == ([], [sms.text])

    closed = _Route(WindowClosed("code 131047", 131047))
    result = _Choices(closed, stored).send(sms)
    assert closed.by_sms == [sms.text] and result.gateway == "console"


# --- the lists keywords answer with: BAHASA's languages, LAYANAN's documents --------------------
def fits(options: list[list[str]]) -> bool:
    """Whether every title shows whole as WhatsApp shows this many choices."""
    limit = BUTTON_TITLE_MAX if len(options) <= BUTTONS_MAX else ROW_TITLE_MAX
    return all(0 < len(title) <= limit for _, title in options)


@pytest.mark.parametrize("offering", [("id", "en"), ("id", "en", "su"), ("id", "en", "jv"),
                                      ("id", "en", "su", "jv")])
def test_the_language_list_offers_each_language_by_the_words_that_switch_to_it(
        offering: tuple[str, ...]):
    region.configure(region.region("3271", offering))
    for language in offering:
        text = render(language, "lang.choose")
        stored = json.loads(keyword_options(text))
        assert stored["button"] == render(language, LIST_BUTTON_KEY)
        assert [title for _, title in stored["options"]] == [
            render(code, "lang.name") for code in offering]
        assert fits(stored["options"])
        for (words, _), code in zip(stored["options"], offering, strict=True):
            assert words in text  # what the list tells the resident to send
            command = parse_command(words)
            assert (command.action, language_named(command.args[0])) == ("language", code)
        interactive = interactive_body("6281234567890", text, json.dumps(stored))["interactive"]
        assert interactive["type"] == ("button" if len(offering) <= BUTTONS_MAX else "list")


@pytest.mark.parametrize("language", ["id", "en", "su"])
def test_a_language_not_offered_is_answered_with_the_same_choices(language: str):
    text = render(language, "lang.unavailable", language=render("jv", "lang.name"))
    assert keyword_options(text) == keyword_options(render(language, "lang.choose"))


@pytest.mark.parametrize("enabled", [tuple(documents.DOCUMENTS), ("ktp", "kk"),
                                     ("kk", "akta_lahir", "kia")])
@pytest.mark.parametrize("language", languages())
def test_the_document_list_offers_each_document_by_the_keyword_that_starts_it(
        language: str, enabled: tuple[str, ...]):
    region.configure(region.region("3271", languages()))
    offered = documents.enabled()
    documents.configure(enabled)
    try:
        text = layanan(language)
        stored = json.loads(keyword_options(text))
    finally:
        documents.configure(offered)
    assert [command_of(keyword) for keyword, _ in stored["options"]] == [
        "register" if code == "ktp" else code for code in enabled]
    assert all(keyword in text for keyword, _ in stored["options"])
    assert [title for _, title in stored["options"]] == [
        "KTP-el" if code == "ktp" else render(language, f"{code}.name") for code in enabled]
    assert fits(stored["options"])
    interactive_body("6281234567890", text, json.dumps(stored))


def command_of(keyword: str) -> str | None:
    command = parse_command(keyword)
    return None if command is None or command.guessed or command.args else command.action


def test_more_than_ten_documents_leave_the_list_as_text(monkeypatch):
    many = [(f"DOKUMEN {n}", f"Dokumen {n}") for n in range(1, 12)]
    monkeypatch.setattr(whatsapp_options, "layanan_choices", lambda language: many)
    whatsapp_options._lists.cache_clear()
    try:
        assert keyword_options(layanan("id")) is None
        assert keyword_options(render("id", "lang.choose")) is not None
    finally:
        monkeypatch.undo()
        whatsapp_options._lists.cache_clear()
    assert keyword_options(layanan("id")) is not None


def test_other_replies_carry_no_list():
    for text in (render("id", "help.main"), render("id", "lang.set"), render("en", "status.none"),
                 layanan("id") + " ", ""):
        assert keyword_options(text) is None
