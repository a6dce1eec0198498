"""The WhatsApp webhook through the real Flask server over HTTP, on both databases: Meta's
verification, the signature on the raw body, messages through the same dialogues as SMS with
their replies queued to go back by WhatsApp, retried deliveries, taps on buttons and list rows,
messages that are not text, a batch of 50, statuses forward and never back."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from live_service import KK, NIK, PHONE, PHONE_2, TOKEN, LiveService, start_service
from sqlalchemy import select, update

from flows.catalogue import render
from sms_ktp.backoffice.dashboard import sms_today
from sms_ktp.messaging.whatsapp_window import window_open
from sms_ktp.models import Application, InboundMessage, OutboxMessage, WhatsAppContact
from sms_ktp.platform.clock import FixedClock
from sms_ktp.platform.config import Settings
from sms_ktp.platform.db import Database

APP_SECRET = "app-secret-for-tests"
VERIFY_TOKEN = "verify-token-for-tests"
WA_ID = PHONE.lstrip("+")  # as Meta sends the number: digits


def _configure(settings: Settings) -> None:
    whatsapp = settings.gateway.whatsapp
    whatsapp.phone_number_id = "106540352242922"
    whatsapp.access_token = "access-token-for-tests"
    whatsapp.app_secret = APP_SECRET
    whatsapp.verify_token = VERIFY_TOKEN


@pytest.fixture
def wa(database: Database, clock: FixedClock, tmp_path) -> Iterator[LiveService]:
    """The service with the WhatsApp channel on."""
    yield from start_service(database, clock, tmp_path, configure=_configure)


def url(service: LiveService, token: str = TOKEN) -> str:
    return f"{service.base_url}/gateway/whatsapp/{token}"


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(service: LiveService, payload: Any, *, signature: str | None = None,
         raw: bytes | None = None) -> requests.Response:
    body = raw if raw is not None else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if signature != "":
        headers["X-Hub-Signature-256"] = signature or sign(body)
    return service.http.post(url(service), data=body, headers=headers, timeout=30)


def envelope(*messages: dict[str, Any], statuses: tuple[dict[str, Any], ...] = ()
             ) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "6281100000000", "phone_number_id": "PNID"},
        "contacts": [{"profile": {"name": "Siti"}, "wa_id": m["from"]} for m in messages]}
    if messages:
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "WABA_ID", "changes": [{"field": "messages", "value": value}]}]}


def text(wamid: str, body: str, sender: str = WA_ID, at: int = 1796003400) -> dict[str, Any]:
    return {"from": sender, "id": wamid, "timestamp": str(at), "type": "text",
            "text": {"body": body}}


def tapped(wamid: str, kind: str, choice: str, title: str) -> dict[str, Any]:
    return {"from": WA_ID, "id": wamid, "timestamp": "1796003400", "type": "interactive",
            "interactive": {"type": kind, kind: {"id": choice, "title": title}}}


def status(wamid: str, state: str, **extra: Any) -> dict[str, Any]:
    return {"id": wamid, "status": state, "timestamp": "1796003400",
            "recipient_id": WA_ID, **extra}


def outbox(service: LiveService, phone: str = PHONE) -> list[OutboxMessage]:
    with service.runtime.db.transaction() as session:
        return list(session.execute(select(OutboxMessage).where(OutboxMessage.phone == phone)
                                    .order_by(OutboxMessage.id)).scalars())


def replies(service: LiveService, phone: str = PHONE) -> list[str]:
    return [row.text for row in outbox(service, phone)]


def inbound(service: LiveService) -> list[InboundMessage]:
    with service.runtime.db.transaction() as session:
        return list(session.execute(select(InboundMessage).order_by(InboundMessage.id))
                    .scalars())


def say(service: LiveService, wamid: str, message_text: str) -> list[str]:
    """One text by WhatsApp; the replies it queued."""
    before = len(outbox(service))
    response = post(service, envelope(text(wamid, message_text)))
    assert response.status_code == 200, response.text
    return replies(service)[before:]


# --- verification -----------------------------------------------------------------------------
def test_meta_verification_gets_the_challenge_back_with_the_right_token(wa):
    response = wa.http.get(url(wa), params={
        "hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"},
        timeout=10)
    assert response.status_code == 200
    assert response.text == "1158201444"
    assert response.headers["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize("params", [
    {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
    {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
    {"hub.challenge": "1"},
])
def test_meta_verification_with_a_wrong_token_is_refused(wa, params):
    response = wa.http.get(url(wa), params=params, timeout=10)
    assert response.status_code == 403
    assert "1" not in response.text


def test_a_wrong_webhook_token_is_not_found(wa):
    response = wa.http.post(url(wa, "wrong-token"), data=b"{}", timeout=10)
    assert response.status_code == 404


def test_the_webhook_is_not_there_while_the_channel_is_off(service):
    body = json.dumps(envelope(text("wamid.off", "DAFTAR"))).encode()
    response = service.http.post(url(service), data=body, timeout=10,
                                 headers={"X-Hub-Signature-256": sign(body)})
    assert response.status_code == 404
    assert inbound(service) == []


# --- the signature ----------------------------------------------------------------------------
@pytest.mark.parametrize(("signature", "code"), [
    ("", 401),
    ("sha256=" + "0" * 64, 403),
    (sign(b"another body"), 403),
    (sign(json.dumps(envelope(text("wamid.S", "DAFTAR"))).encode(), "another secret"), 403),
])
def test_a_missing_or_wrong_signature_is_refused_and_nothing_is_stored(wa, signature, code):
    response = post(wa, envelope(text("wamid.S", "DAFTAR")), signature=signature)

    assert response.status_code == code
    assert inbound(wa) == [] and outbox(wa) == []
    with wa.runtime.db.transaction() as session:
        assert session.execute(select(WhatsAppContact)).first() is None


def test_the_signature_is_checked_before_the_body_is_read(wa):
    response = post(wa, None, raw=b"not json at all", signature="sha256=00")
    assert response.status_code == 403


@pytest.mark.parametrize(("raw", "reason"), [
    (b"{not json", "not JSON"),
    (b"[1, 2]", "not a JSON object"),
    (json.dumps({"object": "page", "entry": []}).encode(), "whatsapp_business_account"),
    (json.dumps({"object": "whatsapp_business_account", "entry": {}}).encode(), "entry"),
    (json.dumps(envelope({"from": WA_ID, "type": "text", "text": {"body": "x"}})).encode(),
     '"id"'),
])
def test_malformed_json_is_refused_with_its_reason(wa, raw, reason):
    response = post(wa, None, raw=raw)

    assert response.status_code == 400
    assert reason in response.text
    assert inbound(wa) == [] and outbox(wa) == []


# --- the dialogues ----------------------------------------------------------------------------
def test_a_registration_by_whatsapp_with_a_list_row_and_a_button(wa):
    assert say(wa, "wamid.1", "DAFTAR") == [render("id", "register.ask_nik")]
    assert say(wa, "wamid.2", NIK) == [render("id", "register.ask_kk")]
    assert say(wa, "wamid.3", KK) == [render("id", "register.ask_reason")]

    assert post(wa, envelope(tapped("wamid.4", "list_reply", "3", "Rusak"))).status_code == 200
    summary = replies(wa)[-1]
    assert summary.startswith("Periksa: NIK ***0001, KK ***0003, alasan rusak")
    assert summary.endswith("Balas YA untuk kirim atau TIDAK untuk batal.")
    assert post(wa, envelope(tapped("wamid.5", "button_reply", "YA", "Ya"))).status_code == 200

    rows = outbox(wa)
    assert len(rows) == 5 and {row.channel for row in rows} == {"whatsapp"}
    assert all(NIK not in row.text and KK not in row.text for row in rows)
    with wa.runtime.db.transaction() as session:
        application = session.execute(select(Application)).scalar_one()
    assert application.channel == "whatsapp"
    assert [(m.provider, m.provider_id, m.sender) for m in inbound(wa)] == [
        ("whatsapp", f"wamid.{n}", PHONE) for n in range(1, 6)]
    assert all(NIK not in m.text and KK not in m.text for m in inbound(wa))


def test_an_sms_is_still_answered_by_sms(wa):
    assert wa.post_sms(PHONE, "DAFTAR").status_code == 200
    assert [row.channel for row in outbox(wa)] == ["sms"]


def test_a_retried_delivery_changes_nothing_and_queues_no_second_reply(wa):
    payload = envelope(text("wamid.R", "DAFTAR"))
    assert post(wa, payload).status_code == 200
    wa.runtime.clock.advance(timedelta(minutes=5))
    assert post(wa, payload).status_code == 200

    assert replies(wa) == [render("id", "register.ask_nik")]
    assert len(inbound(wa)) == 1


def test_a_button_reply_is_read_as_its_id(wa):
    say(wa, "wamid.1", "DAFTAR")
    say(wa, "wamid.2", NIK)
    say(wa, "wamid.3", KK)
    post(wa, envelope(tapped("wamid.4", "button_reply", "2", "Hilang")))

    assert "alasan hilang" in replies(wa)[-1]


def test_a_template_quick_reply_is_read_as_its_payload(wa):
    quick = {"from": WA_ID, "id": "wamid.Q", "timestamp": "1796003400", "type": "button",
             "button": {"payload": "STATUS", "text": "Cek status"}}
    assert post(wa, envelope(quick)).status_code == 200
    assert replies(wa) == [render("id", "status.none")]


@pytest.mark.parametrize("kind", ["image", "audio", "location", "sticker", "unsupported"])
def test_a_message_that_is_not_text_is_answered_that_only_text_is_read_once(wa, kind):
    media = {"from": WA_ID, "id": "wamid.M", "timestamp": "1796003400", "type": kind,
             kind: {"id": "1234", "mime_type": "image/jpeg"}}
    assert post(wa, envelope(media)).status_code == 200
    assert post(wa, envelope(media)).status_code == 200  # retried

    assert replies(wa) == [render("id", "whatsapp.text_only")]
    assert [row.channel for row in outbox(wa)] == ["whatsapp"]
    [stored] = inbound(wa)
    assert (stored.provider, stored.provider_id, stored.text) == ("whatsapp", "wamid.M",
                                                                  f"[{kind}]")


def test_fifty_messages_in_one_post_are_each_answered_once(wa):
    phones = [f"62812000{n:05d}" for n in range(50)]
    payload = envelope(*(text(f"wamid.B{n}", "DAFTAR", phone) for n, phone in enumerate(phones)))

    assert post(wa, payload).status_code == 200
    assert post(wa, payload).status_code == 200  # Meta's retry of the whole batch

    assert len(inbound(wa)) == 50
    for phone in (phones[0], phones[-1]):
        assert replies(wa, f"+{phone}") == [render("id", "register.ask_nik")]
    with wa.runtime.db.transaction() as session:
        assert len(session.execute(select(OutboxMessage)).all()) == 50
        assert len(session.execute(select(WhatsAppContact)).all()) == 50


def test_the_time_the_resident_last_wrote_is_kept_and_never_moves_back(wa):
    post(wa, envelope(text("wamid.1", "HELP", at=1796003400)))
    post(wa, envelope(text("wamid.0", "HELP", at=1796002400)))  # an older one, delivered late
    post(wa, envelope(text("wamid.9", "HELP", sender=PHONE_2.lstrip("+"), at=1796004000)))

    with wa.runtime.db.transaction() as session:
        kept = {c.phone: int(c.last_inbound_at.timestamp())
                for c in session.execute(select(WhatsAppContact)).scalars()}
    assert kept == {PHONE: 1796003400, PHONE_2: 1796004000}
    with wa.runtime.db.connect() as connection:  # Meta's 24-hour window, from the message
        now = wa.runtime.clock.now()
        assert window_open(connection, PHONE, now)
        assert not window_open(connection, PHONE, now + timedelta(hours=23, minutes=55))
        assert window_open(connection, PHONE_2, now + timedelta(hours=23, minutes=55))
        assert not window_open(connection, "+6281399999999", now)


def test_a_message_time_in_the_future_counts_as_now(wa):
    post(wa, envelope(text("wamid.F", "HELP", at=1796004000 + 3600)))
    with wa.runtime.db.transaction() as session:
        [contact] = session.execute(select(WhatsAppContact)).scalars()
    assert contact.last_inbound_at == wa.runtime.clock.now()


# --- statuses ---------------------------------------------------------------------------------
def _sent_by_whatsapp(service: LiveService, wamid: str) -> int:
    """A reply queued by WhatsApp and recorded as sent with `wamid` (as the worker will)."""
    say(service, f"wamid.in.{wamid}", "DAFTAR")
    row = outbox(service)[-1]
    with service.runtime.db.connect() as connection:
        connection.execute(update(OutboxMessage.__table__)
                           .where(OutboxMessage.__table__.c.id == row.id)
                           .values(status="sent", provider="whatsapp",
                                   provider_message_id=wamid))
    return row.id


def _row(service: LiveService, row_id: int) -> OutboxMessage:
    with service.runtime.db.transaction() as session:
        return session.get(OutboxMessage, row_id)


def test_statuses_move_a_message_forward_and_never_back(wa):
    row_id = _sent_by_whatsapp(wa, "wamid.OUT1")

    post(wa, envelope(statuses=(status("wamid.OUT1", "delivered"),)))
    assert _row(wa, row_id).status == "delivered"
    assert _row(wa, row_id).delivered_at == wa.runtime.clock.now()
    post(wa, envelope(statuses=(status("wamid.OUT1", "read"),)))
    assert _row(wa, row_id).status == "read"

    # late and repeated ones, and a failure after it was read: nothing moves back
    post(wa, envelope(statuses=(status("wamid.OUT1", "sent"), status("wamid.OUT1", "delivered"),
                                status("wamid.OUT1", "failed", errors=[
                                    {"code": 131047, "title": "Re-engagement message"}]))))
    row = _row(wa, row_id)
    assert (row.status, row.last_error) == ("read", None)
    assert len(outbox(wa)) == 1  # and no SMS instead of a message that was read
    with wa.runtime.db.connect() as connection:  # counted on the dashboard as delivered
        day = sms_today(connection, wa.runtime.clock.now())
    assert (day.delivered, day.queued) == (1, 0)


def test_a_failed_status_keeps_its_code_and_title_without_the_number(wa):
    row_id = _sent_by_whatsapp(wa, "wamid.OUT2")

    response = post(wa, envelope(statuses=(status("wamid.OUT2", "failed", errors=[
        {"code": 131000, "title": "Something went wrong",
         "error_data": {"details": f"Message failed to send to {WA_ID}"}}]),)))

    assert response.status_code == 200
    row = _row(wa, row_id)
    assert row.status == "failed"
    assert row.last_error == "131000 Something went wrong"
    post(wa, envelope(statuses=(status("wamid.OUT2", "delivered"),)))
    assert _row(wa, row_id).status == "failed"
    assert [r.channel for r in outbox(wa)] == ["whatsapp"]  # nothing else queued


@pytest.mark.parametrize(("code", "title"), [(131047, "Re-engagement message"),
                                             (131026, "Message undeliverable")])
def test_a_message_whatsapp_could_not_carry_goes_out_by_sms_instead_once(wa, code, title):
    row_id = _sent_by_whatsapp(wa, "wamid.OUT5")
    failed = status("wamid.OUT5", "failed", errors=[{"code": code, "title": title}])

    assert post(wa, envelope(statuses=(failed,))).status_code == 200
    assert post(wa, envelope(statuses=(failed,))).status_code == 200  # Meta's retry

    original, instead = outbox(wa)
    assert (original.id, original.status, original.last_error) == (row_id, "failed",
                                                                   f"{code} {title}")
    assert (instead.channel, instead.status, instead.text, instead.kind, instead.inbound_id) == (
        "sms", "queued", original.text, original.kind, original.inbound_id)


def test_a_status_of_an_unknown_message_or_another_provider_is_ignored(wa):
    row_id = _sent_by_whatsapp(wa, "wamid.OUT3")
    with wa.runtime.db.connect() as connection:
        connection.execute(update(OutboxMessage.__table__)
                           .where(OutboxMessage.__table__.c.id == row_id)
                           .values(provider="africastalking"))

    response = post(wa, envelope(statuses=(status("wamid.OUT3", "delivered"),
                                           status("wamid.UNKNOWN", "read"))))

    assert response.status_code == 200
    assert _row(wa, row_id).status == "sent"


def test_messages_and_statuses_in_one_post(wa):
    row_id = _sent_by_whatsapp(wa, "wamid.OUT4")

    response = post(wa, envelope(text("wamid.T", "STATUS"),
                                 statuses=(status("wamid.OUT4", "delivered"),)))

    assert response.status_code == 200
    assert _row(wa, row_id).status == "delivered"
    assert replies(wa)[-1] == render("id", "status.none")
