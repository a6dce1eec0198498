"""The WhatsApp adapter against the fake Graph API over real HTTP: the bodies as the Cloud API
wants them, every class of error, a timeout, the rate limit, and logs without numbers."""

from __future__ import annotations

import json
import logging
import traceback

import pytest
from fake_aggregator import FakeAggregator, refused_url
from fake_graph import (
    ACCESS_TOKEN,
    APP_SECRET,
    FakeGraph,
    button_reply,
    envelope,
    inbound_text,
    post_webhook,
    sign,
    status,
)
from stepped_clock import SteppedClock

from gateway.base import Gateway
from gateway.console import ConsoleGateway
from gateway.message import OutboundSms, PermanentFailure, TemporaryFailure
from gateway.whatsapp import (
    NotOnWhatsApp,
    SmsInstead,
    WhatsAppGateway,
    WhatsAppOrSms,
    WindowClosed,
    buttons_body,
    error_class,
    list_body,
    template_body,
    text_body,
)
from sms_ktp.platform.config import WhatsAppSettings

PHONE = "+6281234567890"
OTHER = "+6285712345678"
SMS = OutboundSms(id="0b7c1f1e-uid-1", to=PHONE, text="KTP-el Anda siap diambil.")


@pytest.fixture
def gateway(graph: FakeGraph) -> WhatsAppGateway:
    return WhatsAppGateway(graph.settings())


def failure_text(error: BaseException) -> str:
    """Everything an error could put in a log: its text and its formatted traceback."""
    return str(error) + "".join(traceback.format_exception(error))




# --- sending ------------------------------------------------------------------------------------
def test_it_is_a_gateway(gateway):
    assert isinstance(gateway, Gateway) and gateway.name == "whatsapp"


def test_the_services_settings_are_enough(graph):
    settings = WhatsAppSettings(phone_number_id=graph.phone_number_id,
                                access_token=ACCESS_TOKEN, api_url=graph.api_url + "/")
    assert WhatsAppGateway(settings).send(SMS).provider_message_id == graph.accepted[0].wamid


def test_an_sms_goes_as_a_text_with_the_wamid_back(graph, gateway):
    result = gateway.send(SMS)
    [request] = graph.received
    [accepted] = graph.accepted
    assert result.provider_message_id == accepted.wamid and result.provider_message_id.startswith(
        "wamid.")
    assert request.path == f"/v23.0/{graph.phone_number_id}/messages"
    assert request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert request.json() == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": "6281234567890",
        "type": "text", "text": {"preview_url": False, "body": "KTP-el Anda siap diambil."},
        "biz_opaque_callback_data": SMS.id}
    assert ACCESS_TOKEN not in result.detail


def test_buttons_and_a_list_as_the_api_wants_them(graph, gateway):
    gateway.send_body(buttons_body(PHONE, "Alasan cetak ulang?",
                                   [("1", "Hilang"), ("2", "Rusak"), ("3", "Ganti data")]))
    gateway.send_body(list_body(PHONE, "Pilih dokumen:", "Pilih", [
        ("1", "KTP-el"), ("2", "Kartu Keluarga", "KK baru atau perubahan"),
        ("3", "Akta Kelahiran Anak Kedua dan Seterusnya")], section="Dokumen"))
    buttons, listed = (a.body for a in graph.sent_to(PHONE))
    assert buttons["interactive"] == {
        "type": "button", "body": {"text": "Alasan cetak ulang?"},
        "action": {"buttons": [{"type": "reply", "reply": {"id": "1", "title": "Hilang"}},
                               {"type": "reply", "reply": {"id": "2", "title": "Rusak"}},
                               {"type": "reply", "reply": {"id": "3", "title": "Ganti data"}}]}}
    assert listed["interactive"] == {
        "type": "list", "body": {"text": "Pilih dokumen:"},
        "action": {"button": "Pilih", "sections": [{"title": "Dokumen", "rows": [
            {"id": "1", "title": "KTP-el"},
            {"id": "2", "title": "Kartu Keluarga", "description": "KK baru atau perubahan"},
            {"id": "3", "title": "Akta Kelahiran Anak…"}]}]}}


def test_a_template_goes_with_its_parameters_even_outside_the_window(graph, gateway):
    graph.close_window(PHONE)
    result = gateway.send_body(template_body(PHONE, "ktp_siap_ambil", "id",
                                             ["Kelurahan\nTegallega", "Senin 9 Desember"]))
    [accepted] = graph.accepted
    assert result.provider_message_id == accepted.wamid
    assert accepted.body == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": "6281234567890",
        "type": "template", "template": {
            "name": "ktp_siap_ambil", "language": {"code": "id"},
            "components": [{"type": "body", "parameters": [
                {"type": "text", "text": "Kelurahan Tegallega"},
                {"type": "text", "text": "Senin 9 Desember"}]}]}}


def test_a_template_without_parameters_has_no_components():
    assert "components" not in template_body(PHONE, "hello", "id")["template"]


@pytest.mark.parametrize("options", [
    [("1", "A"), ("2", "B"), ("3", "C"), ("4", "D")],               # four
    [("1", "Kehilangan dompet di jalan")],                            # title of 26
    [("1", "Ya"), ("1", "Tidak")],                                    # same id
    [("1", "Ya"), ("2", "ya")],                                       # same title
    [],
])
def test_buttons_the_api_would_refuse_are_refused_here(options):
    with pytest.raises(ValueError):
        buttons_body(PHONE, "Lanjut?", options)


def test_a_list_over_ten_rows_or_with_a_long_button_is_refused():
    with pytest.raises(ValueError):
        list_body(PHONE, "Pilih:", "Pilih", [(str(i), f"Baris {i}") for i in range(11)])
    with pytest.raises(ValueError):
        list_body(PHONE, "Pilih:", "Pilih salah satu dokumen", [("1", "KTP-el")])


def test_a_number_that_is_not_e164_never_leaves():
    with pytest.raises(ValueError):
        text_body("0812-3456", "Halo")
    with FakeGraph() as graph:
        with pytest.raises(PermanentFailure):
            WhatsAppGateway(graph.settings()).send(OutboundSms("x", "08123", "Halo"))
        assert graph.received == []


# --- errors -------------------------------------------------------------------------------------
def test_a_closed_window_is_window_closed_and_sms_instead(graph, gateway):
    graph.close_window(PHONE)
    with pytest.raises(WindowClosed) as closed:
        gateway.send(SMS)
    assert isinstance(closed.value, SmsInstead) and isinstance(closed.value, PermanentFailure)
    assert closed.value.code == 131047
    assert closed.value.reason.startswith("HTTP 400 code 131047 Re-engagement message")
    assert "6281234567890" not in failure_text(closed.value)
    assert graph.accepted == []
    # another resident, inside the window, is not concerned
    assert gateway.send(OutboundSms("2", OTHER, "Halo")).provider_message_id


def test_a_number_without_whatsapp_is_not_on_whatsapp(graph, gateway):
    graph.not_on_whatsapp(PHONE)
    for body in (text_body(PHONE, "Halo"), template_body(PHONE, "ktp_siap_ambil", "id")):
        with pytest.raises(NotOnWhatsApp) as absent:
            gateway.send_body(body)
        assert absent.value.code == 131026 and isinstance(absent.value, SmsInstead)


@pytest.mark.parametrize(("code", "status"), [
    (130429, 400), (131056, 400), (80007, 400), (130429, 429), (131000, 500)])
def test_throttling_and_server_errors_are_temporary(graph, gateway, code, status):
    graph.error(code, phone=PHONE, times=2, status=status)
    for _ in range(2):
        with pytest.raises(TemporaryFailure) as later:
            gateway.send(SMS)
        assert f"code {code}" in later.value.reason
    assert gateway.send(SMS).provider_message_id
    assert len(graph.accepted) == 1


def test_a_throttled_recipient_leaves_the_others_alone(graph, gateway):
    graph.throttle(PHONE, times=1)
    assert gateway.send(OutboundSms("2", OTHER, "Halo")).provider_message_id
    with pytest.raises(TemporaryFailure):
        gateway.send(SMS)
    assert gateway.send(SMS).provider_message_id


def test_a_500_without_a_body_is_temporary(graph, gateway):
    graph.fail(status=502)
    with pytest.raises(TemporaryFailure):
        gateway.send(SMS)


def test_a_wrong_token_waits_for_the_city_to_fix_it(graph):
    gateway = WhatsAppGateway(graph.settings(access_token="EAAG-expired-token"))
    with pytest.raises(TemporaryFailure) as later:
        gateway.send(SMS)
    assert later.value.reason.startswith("HTTP 401 code 190")
    assert "EAAG-expired-token" not in failure_text(later.value)
    assert graph.accepted == []


def test_a_wrong_phone_number_id_is_permanent_with_the_code(graph):
    gateway = WhatsAppGateway(graph.settings(phone_number_id="999"))
    with pytest.raises(PermanentFailure) as refused:
        gateway.send(SMS)
    assert not isinstance(refused.value, SmsInstead)
    assert refused.value.reason.startswith("HTTP 400 code 100 Unsupported post request")


def test_other_errors_are_permanent_with_a_short_reason_and_no_number(graph, gateway):
    graph.error(131030, message="Recipient phone number not in allowed list",
                details=f"Recipient {PHONE[1:]} is not in the allowed list {ACCESS_TOKEN}")
    with pytest.raises(PermanentFailure) as refused:
        gateway.send(SMS)
    reason = refused.value.reason
    assert reason.startswith("HTTP 400 code 131030 Recipient phone number not in allowed list")
    assert "6281234567890" not in reason and "***890" in reason
    assert ACCESS_TOKEN not in failure_text(refused.value) and len(reason) <= 160


def test_a_body_the_api_refuses_is_permanent(graph, gateway):
    body = buttons_body(PHONE, "Lanjut?", [("1", "Ya")])
    body["interactive"]["action"]["buttons"][0]["reply"]["title"] = "x" * 21
    with pytest.raises(PermanentFailure, match="code 131009"):
        gateway.send_body(body)


def test_a_timeout_is_temporary(graph):
    gateway = WhatsAppGateway(graph.settings(read_timeout_seconds=0.3))
    graph.hang(3)
    with pytest.raises(TemporaryFailure) as later:
        gateway.send(SMS)
    assert later.value.reason == "timeout talking to the WhatsApp Cloud API"
    graph.hang(0)
    assert gateway.send(SMS).provider_message_id


def test_a_refused_connection_is_temporary(graph):
    settings = graph.settings(api_url=refused_url().removesuffix("/send"))
    with pytest.raises(TemporaryFailure, match="cannot connect"):
        WhatsAppGateway(settings).send(SMS)


def test_error_codes_of_the_webhook_statuses_are_sorted_alike():
    assert error_class(131047) is WindowClosed and error_class(131026) is NotOnWhatsApp
    assert error_class(130429) is TemporaryFailure and error_class(131051) is PermanentFailure


# --- by SMS instead ----------------------------------------------------------------------------
def sms_file_lines(path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_whatsapp_or_sms_sends_by_sms_only_what_whatsapp_cannot_carry(graph, gateway, tmp_path):
    outbox = tmp_path / "sms.jsonl"
    both = WhatsAppOrSms(gateway, ConsoleGateway(outbox))
    graph.close_window(OTHER)
    graph.not_on_whatsapp("+6289912345678")
    on_whatsapp = both.send(SMS)
    closed = both.send(OutboundSms("2", OTHER, "Berkas Anda kurang: pas foto."))
    absent = both.send(OutboundSms("3", "+6289912345678", "KTP-el Anda siap diambil."))
    assert on_whatsapp.gateway == "whatsapp" and on_whatsapp.provider_message_id.startswith(
        "wamid.")
    assert closed.gateway == absent.gateway == "console"
    assert closed.detail.startswith("by SMS: HTTP 400 code 131047")
    assert [a.to for a in graph.accepted] == ["6281234567890"]
    assert [(line["to"], line["text"]) for line in sms_file_lines(outbox)] == [
        (OTHER, "Berkas Anda kurang: pas foto."),
        ("+6289912345678", "KTP-el Anda siap diambil.")]


def test_whatsapp_or_sms_keeps_whatsapps_other_failures(graph, gateway, tmp_path):
    outbox = tmp_path / "sms.jsonl"
    both = WhatsAppOrSms(gateway, ConsoleGateway(outbox))
    graph.throttle(PHONE)
    with pytest.raises(TemporaryFailure):
        both.send(SMS)
    graph.error(131030)
    with pytest.raises(PermanentFailure) as refused:
        both.send(SMS)
    assert not isinstance(refused.value, SmsInstead)
    assert sms_file_lines(outbox) == [] and isinstance(both, Gateway)


# --- rate limit and logs ------------------------------------------------------------------------
def test_the_rate_limit_spaces_the_sends(graph):
    clock = SteppedClock(100.0)
    gateway = WhatsAppGateway(graph.settings(rate_per_second=4), monotonic=clock,
                              sleep=clock.sleep)
    for number in range(5):
        gateway.send(OutboundSms(str(number), PHONE, f"Pesan {number}"))
    assert clock.slept == [0.25] * 4 and gateway.last_wait == 0.25
    assert len(graph.accepted) == 5
    gateway.share_with(2)  # two workers: each half the rate, from the next send on
    gateway.send(SMS)
    gateway.send(SMS)
    assert clock.slept[-2:] == [0.25, 0.5]


def test_no_log_line_carries_a_whole_number_or_the_token(graph, gateway, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    gateway.send(SMS)
    gateway.send_body(buttons_body(PHONE, "Lanjut?", [("1", "Ya"), ("2", "Tidak")]))
    graph.close_window(PHONE)
    with pytest.raises(WindowClosed):
        gateway.send(SMS)
    WhatsAppOrSms(gateway, ConsoleGateway(tmp_path / "sms.jsonl")).send(SMS)
    # werkzeug's lines are the fake's own request log: the other side of the wire.
    ours = [record for record in caplog.records if record.name != "werkzeug"]
    assert any(record.name == "gateway.whatsapp" for record in ours), "nothing to check"
    logged = "\n".join(record.getMessage() for record in ours)
    assert "6281234567890" not in logged and "81234567890" not in logged
    assert ACCESS_TOKEN not in logged and "***890" in logged


# --- the fake's webhook side --------------------------------------------------------------------
def test_a_posted_webhook_is_signed_over_its_raw_body():
    payload = envelope(inbound_text("wamid.A", PHONE, "DAFTAR"),
                       button_reply("wamid.B", OTHER, "1", "Hilang"),
                       statuses=[status("wamid.C", "failed", PHONE, errors=[131047])])
    with FakeAggregator() as receiver:
        post_webhook(receiver.send_url, payload)
        post_webhook(receiver.send_url, payload, signature="")
        signed, unsigned = receiver.sends()
    assert signed.headers["X-Hub-Signature-256"] == sign(signed.body, APP_SECRET)
    assert "X-Hub-Signature-256" not in unsigned.headers
    value = signed.json()["entry"][0]["changes"][0]["value"]
    assert [c["wa_id"] for c in value["contacts"]] == ["6281234567890", "6285712345678"]
    assert value["messages"][1]["interactive"]["button_reply"] == {"id": "1", "title": "Hilang"}
    assert value["statuses"][0]["errors"][0]["code"] == 131047
