"""BAHASA's languages and LAYANAN's documents as choices on WhatsApp, end to end: the real Flask
server, Meta's webhook calls signed as Meta signs them, the worker sending through the fake
Graph API, on both databases. The list's text is the SMS's, word for word; each choice's id is
the words that text tells the resident to send, so a tap switches the language or starts the
document's dialogue as typing them does. By SMS nothing changes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fake_graph import button_reply, envelope, inbound_text, list_reply, post_webhook
from live_service import NIK, PHONE, PHONE_2, TOKEN, LiveService
from sqlalchemy import select

from flows.catalogue import render
from flows.sms import layanan
from sms_ktp.domain import documents
from sms_ktp.models import OutboxMessage, PhoneState
from sms_ktp.platform.config import Settings

# What the SMS said before WhatsApp had choices, in Kota Bogor (Indonesia, English, Sunda).
LANGUAGES_SMS = "Pilih bahasa. Indonesia: BAHASA ID. English: LANG EN. Sunda: BASA SUNDA"
LAYANAN_SMS = ("Layanan Kota Bogor: DAFTAR (KTP-el), KK, AKTA LAHIR, AKTA MATI, KIA. Ketik "
               "salah satu untuk mulai, STATUS untuk cek proses.")
LANGUAGES = [("BAHASA ID", "Bahasa Indonesia"), ("LANG EN", "English"),
             ("BASA SUNDA", "Basa Sunda")]

Start = Callable[..., LiveService]


@pytest.fixture
def start(whatsapp_service) -> Iterator[Start]:
    """Starts the service with the WhatsApp channel on; `region_languages`, `enabled`:
    `[region] languages`, `[services] enabled` (the documents offered are the process's again
    afterwards; tests/conftest.py sees to the region)."""
    offered = documents.enabled()

    def started(region_languages: list[str] | None = None,
                enabled: list[str] | None = None) -> LiveService:
        def configure(settings: Settings) -> None:
            settings.region.languages = list(region_languages or [])
            if enabled is not None:
                settings.services.enabled = enabled

        return whatsapp_service(configure)

    yield started
    documents.configure(offered)


def send(service: LiveService, message: dict[str, Any]) -> None:
    """One message of the resident on WhatsApp, then the worker's run."""
    response = post_webhook(f"{service.base_url}/gateway/whatsapp/{TOKEN}", envelope(message))
    assert response.status_code == 200, response.text
    service.worker.run_once()


def now(service: LiveService) -> str:
    return str(int(service.runtime.clock.now().timestamp()))


def write(service: LiveService, wamid: str, text: str) -> None:
    send(service, inbound_text(wamid, PHONE, text, timestamp=now(service)))


def choices(sent: Any) -> tuple[str, list[tuple[str, str]]]:
    """The kind of an interactive message (button, list) and its (id, title) choices."""
    interactive = sent.body["interactive"]
    if interactive["type"] == "list":
        return "list", [(row["id"], row["title"])
                        for section in interactive["action"]["sections"]
                        for row in section["rows"]]
    return "button", [(button["reply"]["id"], button["reply"]["title"])
                      for button in interactive["action"]["buttons"]]


def chosen_language(service: LiveService, phone: str = PHONE) -> str | None:
    with service.runtime.db.transaction() as session:
        return session.execute(select(PhoneState.language)
                               .where(PhoneState.phone == phone)).scalar_one_or_none()


def rows_to(service: LiveService, phone: str) -> list[OutboxMessage]:
    with service.runtime.db.transaction() as session:
        return list(session.execute(select(OutboxMessage).where(OutboxMessage.phone == phone)
                                    .order_by(OutboxMessage.id)).scalars())


def test_bahasa_offers_the_languages_as_buttons_and_a_tap_switches(start, graph):
    service = start()
    write(service, "wamid.1", "BAHASA")

    [asked] = graph.sent_to(PHONE)
    assert asked.body["interactive"]["body"]["text"] == LANGUAGES_SMS
    assert choices(asked) == ("button", LANGUAGES)

    send(service, button_reply("wamid.2", PHONE, "BASA SUNDA", "Basa Sunda",
                               timestamp=now(service)))
    assert graph.texts_to(PHONE)[-1] == render("su", "lang.set")
    assert graph.sent_to(PHONE)[-1].type == "text"
    assert chosen_language(service) == "su"

    # The list asked again is worded in the language chosen, its choices the same words.
    write(service, "wamid.3", "BASA")
    again = graph.sent_to(PHONE)[-1]
    assert again.body["interactive"]["body"]["text"] == render("su", "lang.choose")
    assert choices(again) == ("button", LANGUAGES)
    assert service.received(PHONE) == []


def test_four_languages_come_as_a_list_opened_in_the_phones_language(start, graph):
    service = start(region_languages=["id", "en", "su", "jv"])
    write(service, "wamid.1", "LANG")

    [asked] = graph.sent_to(PHONE)
    assert choices(asked) == ("list", [*LANGUAGES, ("BASA JAWA", "Basa Jawa")])
    assert asked.body["interactive"]["action"]["button"] == "Choose"
    send(service, list_reply("wamid.2", PHONE, "BASA JAWA", "Basa Jawa", timestamp=now(service)))
    assert graph.texts_to(PHONE)[-1] == render("jv", "lang.set")
    assert chosen_language(service) == "jv"


def test_a_language_not_offered_is_answered_with_those_that_are_as_choices(start, graph):
    service = start()
    write(service, "wamid.1", "BASA JAWA")  # Kota Bogor offers Sundanese, not Javanese

    [asked] = graph.sent_to(PHONE)
    assert asked.body["interactive"]["body"]["text"] == render(
        "id", "lang.unavailable", language="Basa Jawa")
    assert choices(asked) == ("button", LANGUAGES)
    assert chosen_language(service) is None


def test_layanan_offers_the_documents_as_a_list_and_a_tap_starts_its_dialogue(start, graph):
    service = start()
    write(service, "wamid.1", "LAYANAN")

    [asked] = graph.sent_to(PHONE)
    assert asked.body["interactive"]["body"]["text"] == LAYANAN_SMS
    assert asked.body["interactive"]["action"]["button"] == "Pilih"
    assert choices(asked) == ("list", [("DAFTAR", "KTP-el"), ("KK", "KK"),
                                       ("AKTA LAHIR", "Akta Kelahiran"),
                                       ("AKTA MATI", "Akta Kematian"), ("KIA", "KIA")])

    send(service, list_reply("wamid.2", PHONE, "AKTA LAHIR", "Akta Kelahiran",
                             timestamp=now(service)))
    # The same first question as the keyword typed in an SMS.
    [by_sms] = service.sms(PHONE_2, "AKTA LAHIR")
    assert graph.texts_to(PHONE)[-1] == by_sms
    with service.runtime.db.transaction() as session:
        assert session.execute(select(PhoneState.flow).where(PhoneState.phone == PHONE)
                               ).scalar_one() == "akta_lahir"

    # DAFTAR, chosen from the list again, leaves that dialogue for the KTP-el's.
    write(service, "wamid.3", "LAYANAN")
    send(service, list_reply("wamid.4", PHONE, "DAFTAR", "KTP-el", timestamp=now(service)))
    assert graph.texts_to(PHONE)[-1] == render("id", "register.ask_nik")


def test_the_documents_follow_the_phones_language(start, graph):
    service = start()
    write(service, "wamid.1", "LANG EN")
    write(service, "wamid.2", "SERVICES")

    asked = graph.sent_to(PHONE)[-1]
    assert asked.body["interactive"]["body"]["text"] == layanan("en")
    assert asked.body["interactive"]["action"]["button"] == "Choose"
    assert choices(asked)[1][0] == ("REGISTER", "KTP-el")
    send(service, list_reply("wamid.3", PHONE, "REGISTER", "KTP-el", timestamp=now(service)))
    assert graph.texts_to(PHONE)[-1] == render("en", "register.ask_nik")


def test_three_documents_or_fewer_come_as_buttons(start, graph):
    service = start(enabled=["ktp", "kk"])
    write(service, "wamid.1", "LAYANAN")

    [asked] = graph.sent_to(PHONE)
    assert choices(asked) == ("button", [("DAFTAR", "KTP-el"), ("KK", "KK")])
    send(service, button_reply("wamid.2", PHONE, "KK", "KK", timestamp=now(service)))
    [by_sms] = service.sms(PHONE_2, "KK")
    assert graph.texts_to(PHONE)[-1] == by_sms


def test_layanan_inside_a_dialogue_offers_the_documents_and_leaves_the_dialogue_waiting(
        start, graph):
    service = start()
    write(service, "wamid.1", "DAFTAR")
    write(service, "wamid.2", "LAYANAN")
    write(service, "wamid.3", NIK)  # still the registration's NIK question

    _, listed, kk_asked = graph.sent_to(PHONE)
    assert choices(listed)[0] == "list"
    assert kk_asked.body["text"]["body"] == render("id", "register.ask_kk")


def test_by_sms_the_lists_are_the_same_words_and_carry_no_choices(start, graph):
    service = start()
    assert service.sms(PHONE_2, "BAHASA") == [LANGUAGES_SMS]
    assert service.sms(PHONE_2, "LAYANAN") == [LAYANAN_SMS]
    assert service.sms(PHONE_2, "BASA JAWA") == [render("id", "lang.unavailable",
                                                        language="Basa Jawa")]
    assert [(row.channel, row.options) for row in rows_to(service, PHONE_2)] == [
        ("sms", None)] * 3
    assert graph.received == []
