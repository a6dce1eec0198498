"""The WhatsApp channel end to end: the real Flask server, Meta's webhook calls signed as Meta
signs them, the worker sending through the fake Graph API over HTTP (and the SMS gateway when
WhatsApp cannot carry a message), on both databases. Replies go back on WhatsApp; notices go on
the family's channel: WhatsApp inside the 24-hour window, a template outside it when one is
configured, SMS otherwise."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fake_graph import (
    button_reply,
    envelope,
    inbound_text,
    list_reply,
    post_webhook,
)
from live_service import KK, KK_2, NIK, NIK_2, PHONE, PHONE_2, TOKEN, LiveService
from sqlalchemy import select

from flows.catalogue import render
from sms_ktp.messaging import broadcasts
from sms_ktp.messaging.whatsapp_templates import notice_template
from sms_ktp.models import Application, OutboxMessage
from sms_ktp.platform.config import Settings

PICKUP = "KTP-el NIK ***0001 siap diambil"
TEMPLATE = {"name": "ktp_siap_ambil", "language": "id"}

Start = Callable[..., LiveService]


@pytest.fixture
def start(whatsapp_service) -> Start:
    """Starts the service with the WhatsApp channel on; `templates`:
    `[gateway.whatsapp.templates]`."""

    def started(templates: dict[str, Any] | None = None) -> LiveService:
        def configure(settings: Settings) -> None:
            settings.gateway.whatsapp.templates = dict(templates or {})

        return whatsapp_service(configure)

    return started


def url(service: LiveService) -> str:
    return f"{service.base_url}/gateway/whatsapp/{TOKEN}"


def epoch(service: LiveService) -> str:
    return str(int(service.runtime.clock.now().timestamp()))


def post(service: LiveService, *messages: dict[str, Any]) -> None:
    response = post_webhook(url(service), envelope(*messages))
    assert response.status_code == 200, response.text


def write(service: LiveService, wamid: str, text: str) -> None:
    """One text the resident wrote on WhatsApp, now."""
    post(service, inbound_text(wamid, PHONE, text, timestamp=epoch(service)))


def register(service: LiveService) -> None:
    """A registration by WhatsApp (a list row for the reason, a button for YA), its replies
    sent by the worker."""
    write(service, "wamid.1", "DAFTAR")
    write(service, "wamid.2", NIK)
    write(service, "wamid.3", KK)
    post(service, list_reply("wamid.4", PHONE, "3", "Rusak", timestamp=epoch(service)))
    post(service, button_reply("wamid.5", PHONE, "YA", "Ya", timestamp=epoch(service)))
    service.worker.run_once()


def outbox(service: LiveService) -> list[OutboxMessage]:
    with service.runtime.db.transaction() as session:
        return list(session.execute(select(OutboxMessage).where(OutboxMessage.phone == PHONE)
                                    .order_by(OutboxMessage.id)).scalars())


def pickup_notice(service: LiveService) -> OutboxMessage:
    """The card printed and given a pickup slot by the worker, which sends its notice."""
    service.print_cards(NIK)
    service.worker.run_once()
    [notice] = [row for row in outbox(service)
                if row.kind == "notification" and row.status != "superseded"]
    return notice


# --- replies ----------------------------------------------------------------------------------
def test_a_registration_by_whatsapp_is_answered_at_the_graph_api_not_by_sms(start, graph):
    service = start()
    register(service)

    texts = graph.texts_to(PHONE)
    assert texts[:3] == [render("id", "register.ask_nik"), render("id", "register.ask_kk"),
                         render("id", "register.ask_reason")]
    assert len(texts) == 5 and texts[3].startswith("Periksa: NIK ***0001, KK ***0003")
    assert all(NIK not in text and KK not in text for text in texts)
    assert service.received(PHONE) == []
    rows = outbox(service)
    assert [(row.channel, row.provider, row.status) for row in rows] == [
        ("whatsapp", "whatsapp", "sent")] * 5
    assert [row.provider_message_id for row in rows] == [a.wamid for a in graph.sent_to(PHONE)]
    # Our id travels with each message and comes back in its statuses.
    assert [a.body["biz_opaque_callback_data"] for a in graph.sent_to(PHONE)] == [
        row.uid for row in rows]


def test_a_retried_webhook_sends_no_second_message(start, graph):
    service = start()
    payload = inbound_text("wamid.R", PHONE, "DAFTAR", timestamp=epoch(service))
    post(service, payload)
    service.worker.run_once()
    service.runtime.clock.advance(timedelta(hours=2))
    post(service, payload)  # Meta retries for up to 36 hours
    service.worker.run_once()

    assert graph.texts_to(PHONE) == [render("id", "register.ask_nik")]
    assert service.received(PHONE) == []


def test_a_number_not_on_whatsapp_gets_its_replies_by_sms(start, graph):
    graph.not_on_whatsapp(PHONE)
    service = start()
    write(service, "wamid.1", "DAFTAR")
    service.worker.run_once()

    assert service.received(PHONE) == [render("id", "register.ask_nik")]
    assert graph.sent_to(PHONE) == []
    [row] = outbox(service)
    assert (row.channel, row.provider, row.status) == ("sms", "console", "sent")


def test_a_throttled_message_is_sent_later_on_whatsapp(start, graph):
    service = start()
    graph.throttle(PHONE)
    write(service, "wamid.1", "DAFTAR")
    service.worker.run_once()

    [row] = outbox(service)
    assert (row.status, row.attempts, row.channel) == ("queued", 1, "whatsapp")
    assert "130429" in (row.last_error or "")
    assert graph.sent_to(PHONE) == [] and service.received(PHONE) == []

    service.runtime.clock.advance(timedelta(minutes=1))  # past the first backoff
    service.worker.run_once()
    assert graph.texts_to(PHONE) == [render("id", "register.ask_nik")]
    [row] = outbox(service)
    assert (row.status, row.channel, row.provider) == ("sent", "whatsapp", "whatsapp")
    assert service.received(PHONE) == []


# --- notices ----------------------------------------------------------------------------------
def test_a_pickup_notice_inside_the_window_goes_by_whatsapp(start, graph):
    service = start()
    register(service)
    service.runtime.clock.advance(timedelta(hours=1))
    notice = pickup_notice(service)

    assert graph.texts_to(PHONE)[-1].startswith(PICKUP)
    assert graph.sent_to(PHONE)[-1].type == "text"
    assert (notice.channel, notice.provider, notice.status) == ("whatsapp", "whatsapp", "sent")
    assert notice.template is None  # a text inside the window: not billed
    assert service.received(PHONE) == []


def test_a_pickup_notice_outside_the_window_goes_as_its_template(start, graph):
    service = start(templates={"notification": TEMPLATE})
    register(service)
    service.runtime.clock.advance(timedelta(hours=25))
    graph.close_window(PHONE)
    notice = pickup_notice(service)

    sent = graph.sent_to(PHONE)[-1]
    assert sent.type == "template"
    template = sent.body["template"]
    assert (template["name"], template["language"]) == ("ktp_siap_ambil", {"code": "id"})
    [parameter] = template["components"][0]["parameters"]
    assert parameter["text"].startswith(PICKUP) and parameter["text"] == " ".join(
        notice.text.split())
    assert (notice.channel, notice.provider, notice.status) == ("whatsapp", "whatsapp", "sent")
    assert service.received(PHONE) == []


def test_a_pickup_notice_outside_the_window_goes_as_the_template_made_for_it(start, graph):
    own = {"name": "ktp_jadwal_ambil", "language": "id"}
    service = start(templates={"notify.pickup_scheduled": own, "notification": TEMPLATE})
    register(service)
    service.runtime.clock.advance(timedelta(hours=25))
    graph.close_window(PHONE)
    notice = pickup_notice(service)

    template = graph.sent_to(PHONE)[-1].body["template"]
    assert (template["name"], template["language"]) == ("ktp_jadwal_ambil", {"code": "id"})
    values = [p["text"] for p in template["components"][0]["parameters"]]
    # The approved wording, its variables filled, reads exactly as the SMS would.
    wording = notice_template("notify.pickup_scheduled", "id")
    assert len(values) == len(wording.names) == 6
    assert values[0] == "KTP-el NIK ***0001" and values[-1].isalnum()
    filled = wording.body
    for number, value in enumerate(values, 1):
        filled = filled.replace(f"{{{{{number}}}}}", value)
    assert filled == notice.text and filled.startswith(PICKUP)
    assert (notice.notice, notice.template) == ("notify.pickup_scheduled", "ktp_jadwal_ambil")
    assert (notice.channel, notice.provider, notice.status) == ("whatsapp", "whatsapp", "sent")
    assert service.received(PHONE) == []


def test_a_notice_in_another_language_than_its_template_goes_as_the_general_one(start, graph):
    own = {"name": "ktp_jadwal_ambil", "language": "id"}
    service = start(templates={"notify.pickup_scheduled": own, "notification": TEMPLATE})
    register(service)
    write(service, "wamid.6", "LANG EN")  # the family reads English from now on
    service.worker.run_once()
    service.runtime.clock.advance(timedelta(hours=25))
    graph.close_window(PHONE)
    notice = pickup_notice(service)

    template = graph.sent_to(PHONE)[-1].body["template"]
    assert template["name"] == "ktp_siap_ambil"
    [parameter] = template["components"][0]["parameters"]
    assert parameter["text"] == " ".join(notice.text.split())
    assert notice.text.startswith("Ready: KTP-el NIK ***0001") and PICKUP not in notice.text


def test_a_broadcast_goes_as_its_template_or_by_sms(start, graph):
    broadcast = {"name": "pengumuman_disdukcapil", "language": "id"}
    service = start(templates={"broadcast": broadcast})
    register(service)
    service.runtime.clock.advance(timedelta(hours=25))
    graph.close_window(PHONE)
    service.sms(PHONE_2, f"DAFTAR {NIK_2}#{KK_2}#2")
    service.sms(PHONE_2, "YA")
    now = service.runtime.clock.now()
    with service.runtime.db.connect() as connection:
        broadcasts.create(connection, "Kantor tutup Jumat 25/12. Layanan buka lagi Senin.",
                          broadcasts.Audience.of("all", None), now, "admin", now)
    service.worker.run_once()
    service.runtime.clock.advance(timedelta(seconds=5))  # spread at the gateway's rate
    service.worker.run_once()

    template = graph.sent_to(PHONE)[-1].body["template"]
    assert template["name"] == "pengumuman_disdukcapil"
    assert [p["text"] for p in template["components"][0]["parameters"]] == [
        "Kantor tutup Jumat 25/12. Layanan buka lagi Senin."]
    # Not by SMS to the WhatsApp family; by SMS to a family that never wrote on WhatsApp.
    by_sms = [(sms["to"], sms["text"]) for sms in service.sent() if sms["to"] == PHONE
              or "Kantor tutup" in sms["text"]]
    assert by_sms == [(PHONE_2, "Kantor tutup Jumat 25/12. Layanan buka lagi Senin.")]


def test_a_pickup_notice_outside_the_window_without_a_template_goes_by_sms(start, graph):
    service = start()
    register(service)
    service.runtime.clock.advance(timedelta(hours=25))
    replies = len(graph.sent_to(PHONE))
    notice = pickup_notice(service)

    [sms] = service.received(PHONE)
    assert sms.startswith(PICKUP)
    assert len(graph.sent_to(PHONE)) == replies
    assert (notice.channel, notice.provider, notice.status) == ("sms", "console", "sent")


def test_a_template_to_a_number_not_on_whatsapp_goes_by_sms(start, graph):
    service = start(templates={"notification": TEMPLATE})
    register(service)
    service.runtime.clock.advance(timedelta(hours=25))
    graph.not_on_whatsapp(PHONE)
    notice = pickup_notice(service)

    [sms] = service.received(PHONE)
    assert sms.startswith(PICKUP)
    assert (notice.channel, notice.provider) == ("sms", "console")


def test_a_family_that_wrote_by_sms_since_gets_its_notice_by_sms(start, graph):
    service = start(templates={"notification": TEMPLATE})
    register(service)
    service.runtime.clock.advance(timedelta(minutes=10))
    assert service.post_sms(PHONE, "STATUS").status_code == 200  # the last channel it used
    service.worker.run_once()
    service.received(PHONE)
    replies = len(graph.sent_to(PHONE))
    notice = pickup_notice(service)

    [sms] = service.received(PHONE)
    assert sms.startswith(PICKUP)
    assert len(graph.sent_to(PHONE)) == replies
    assert notice.channel == "sms"


def test_a_family_that_never_used_whatsapp_gets_its_notice_by_sms(start, graph):
    service = start(templates={"notification": TEMPLATE})
    service.sms(PHONE, f"DAFTAR {NIK}#{KK}#2")
    service.sms(PHONE, "YA")
    notice = pickup_notice(service)

    assert service.received(PHONE)[-1].startswith(PICKUP)
    assert graph.sent_to(PHONE) == [] and graph.received == []
    assert (notice.channel, notice.provider) == ("sms", "console")


# --- choices as reply buttons and lists -------------------------------------------------------
def rows_of(sent: Any) -> list[tuple[str, str]]:
    """(id, title) of a list's rows, or of reply buttons, as the fake Graph API took them."""
    interactive = sent.body["interactive"]
    if interactive["type"] == "list":
        return [(row["id"], row["title"])
                for section in interactive["action"]["sections"] for row in section["rows"]]
    return [(button["reply"]["id"], button["reply"]["title"])
            for button in interactive["action"]["buttons"]]


def test_the_reason_comes_as_a_list_and_the_summary_with_ya_tidak_buttons(start, graph):
    service = start()
    write(service, "wamid.1", "DAFTAR")
    write(service, "wamid.2", NIK)
    write(service, "wamid.3", KK)
    service.worker.run_once()

    asked = graph.sent_to(PHONE)[-1]
    assert (asked.type, asked.body["interactive"]["type"]) == ("interactive", "list")
    # The numbered text stays the body: the same words as the SMS.
    assert asked.body["interactive"]["body"]["text"] == render("id", "register.ask_reason")
    assert asked.body["interactive"]["action"]["button"] == "Pilih"
    assert rows_of(asked) == [("1", "Baru (punya Suket)"), ("2", "Hilang"), ("3", "Rusak"),
                              ("4", "Perubahan data")]
    assert [sent.type for sent in graph.sent_to(PHONE)[:2]] == ["text", "text"]

    post(service, list_reply("wamid.4", PHONE, "3", "Rusak", timestamp=epoch(service)))
    service.worker.run_once()
    summary = graph.sent_to(PHONE)[-1]
    assert summary.body["interactive"]["type"] == "button"
    assert summary.body["interactive"]["body"]["text"].startswith(
        "Periksa: NIK ***0001, KK ***0003")
    assert rows_of(summary) == [("YA", "Kirim"), ("TIDAK", "Batal")]
    assert summary.body["biz_opaque_callback_data"] == outbox(service)[-1].uid

    post(service, button_reply("wamid.5", PHONE, "YA", "Kirim", timestamp=epoch(service)))
    service.worker.run_once()
    done = graph.sent_to(PHONE)[-1]
    assert done.type == "text" and done.body["text"]["body"].startswith("Pendaftaran diterima")
    with service.runtime.db.transaction() as session:
        assert len(session.execute(select(Application)).scalars().all()) == 1
    assert service.received(PHONE) == []
    assert all(NIK not in (row.options or "") and KK not in (row.options or "")
               for row in outbox(service))


def test_choices_follow_the_phones_language(start, graph):
    service = start()
    write(service, "wamid.1", "LANG EN")
    write(service, "wamid.2", "DAFTAR")
    write(service, "wamid.3", NIK)
    write(service, "wamid.4", KK)
    service.worker.run_once()

    asked = graph.sent_to(PHONE)[-1]
    assert asked.body["interactive"]["action"]["button"] == "Choose"
    assert rows_of(asked) == [("1", "New (have a Suket)"), ("2", "Lost"), ("3", "Damaged"),
                              ("4", "Data changed")]


def test_a_kk_reason_comes_as_a_list_of_six(start, graph):
    service = start()
    write(service, "wamid.1", "KK")
    service.worker.run_once()
    sent = graph.sent_to(PHONE)
    # Whatever the KK dialogue asks first, a question with choices goes as a list or buttons
    # and one without as a text; answering each in turn reaches the reason list.
    for answer in (NIK, KK):
        if sent[-1].type == "interactive":
            break
        write(service, f"wamid.{answer}", answer)
        service.worker.run_once()
        sent = graph.sent_to(PHONE)
    asked = sent[-1]
    assert asked.body["interactive"]["type"] == "list"
    assert [row_id for row_id, _ in rows_of(asked)] == ["1", "2", "3", "4", "5", "6"]
    assert rows_of(asked)[0][1] == render("id", "kk.choice.reason.tambah")


def test_a_question_with_choices_goes_by_sms_as_its_text_alone(start, graph):
    graph.not_on_whatsapp(PHONE)
    service = start()
    write(service, "wamid.1", f"DAFTAR {NIK}#{KK}")
    service.worker.run_once()

    assert service.received(PHONE) == [render("id", "register.ask_reason")]
    assert graph.sent_to(PHONE) == []
    [row] = outbox(service)
    assert (row.channel, row.provider, row.status) == ("sms", "console", "sent")


def test_a_keyword_inside_a_dialogue_is_answered_without_choices(start, graph):
    service = start()
    write(service, "wamid.1", f"DAFTAR {NIK}#{KK}")
    write(service, "wamid.2", "STATUS")
    service.worker.run_once()

    first, second = graph.sent_to(PHONE)
    assert first.body["interactive"]["type"] == "list"
    assert second.type == "text"


