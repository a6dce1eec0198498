"""The webhook contract with Africa's Talking: wrong tokens, malformed bodies, delivery reports."""

from __future__ import annotations

import pytest
from live_service import PHONE, TOKEN
from sqlmodel import select

from sms_ktp.models import InboundMessage, OutboxMessage


def outbox(service) -> list[OutboxMessage]:
    with service.runtime.db.transaction() as session:
        return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())


@pytest.mark.parametrize("path", ["/sms", "/delivery"])
def test_a_wrong_token_is_not_found(service, path):
    response = service.http.post(service.url(path, token=TOKEN[:-1] + "x"),
                                 data={"id": "1", "from": PHONE, "text": "DAFTAR"})
    assert response.status_code == 404
    with service.runtime.db.transaction() as session:
        assert session.exec(select(InboundMessage)).all() == []


@pytest.mark.parametrize("missing", ["id", "from", "text"])
def test_an_inbound_sms_without_a_required_field_is_refused_by_name(service, missing):
    form = {"id": "ATXid_1", "from": PHONE, "to": "98765", "text": "DAFTAR"}
    del form[missing]
    response = service.http.post(service.url("/sms"), data=form)
    assert response.status_code == 400
    assert f"missing field: {missing}" in response.text


def test_a_body_that_is_not_a_form_is_refused(service):
    response = service.http.post(service.url("/sms"), data=b"\x00\xff garbage",
                                 headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 400


def test_an_oversized_body_is_refused(service):
    response = service.http.post(service.url("/sms"),
                                 data={"id": "1", "from": PHONE, "text": "A" * 100_000})
    assert response.status_code == 413


@pytest.mark.parametrize("missing", ["id", "status"])
def test_a_delivery_report_without_a_required_field_is_refused(service, missing):
    form = {"id": "ATXid_1", "status": "Success"}
    del form[missing]
    response = service.http.post(service.url("/delivery"), data=form)
    assert response.status_code == 400
    assert f"missing field: {missing}" in response.text


def test_an_unknown_delivery_status_is_refused(service):
    response = service.http.post(service.url("/delivery"),
                                 data={"id": "ATXid_1", "status": "Teleported"})
    assert response.status_code == 400
    assert "unknown delivery status: Teleported" in response.text


def test_delivery_reports_move_the_status_forward_only(service):
    service.sms(PHONE, "DAFTAR")
    [message] = outbox(service)
    assert message.status == "sent"
    provider_id = message.provider_message_id

    def report(status: str, **extra: str) -> None:
        response = service.http.post(service.url("/delivery"),
                                     data={"id": provider_id, "status": status, **extra})
        assert response.status_code == 200

    report("Buffered")
    assert outbox(service)[0].status == "buffered"
    report("Success")
    assert outbox(service)[0].status == "delivered"
    report("Buffered")                       # late
    report("Failed", failureReason="UserDoesNotExist")  # wrong, after the fact
    report("Success")                        # repeated
    [message] = outbox(service)
    assert (message.status, message.last_error) == ("delivered", None)
    assert message.delivered_at is not None


def test_a_failed_delivery_is_recorded_with_its_reason(service):
    service.sms(PHONE, "DAFTAR")
    provider_id = outbox(service)[0].provider_message_id
    service.http.post(service.url("/delivery"), data={"id": provider_id, "status": "Rejected",
                                                      "failureReason": "DeliveryFailure"})
    [message] = outbox(service)
    assert (message.status, message.last_error) == ("undelivered", "DeliveryFailure")


def test_a_report_for_an_unknown_message_is_acknowledged_and_ignored(service):
    response = service.http.post(service.url("/delivery"),
                                 data={"id": "ATXid_nobody", "status": "Success"})
    assert response.status_code == 200
    assert outbox(service) == []


def test_the_browser_phone_simulator_talks_to_the_same_dialogues(service):
    page = service.http.post(f"{service.base_url}/simulator/",
                             data={"phone": "0812-3456-7890", "text": "DAFTAR"})
    assert page.status_code == 200
    assert "Kirim NIK Bapak/Ibu (16 angka" in page.text
    page = service.http.post(f"{service.base_url}/simulator/",
                             data={"phone": "0812-3456-7890", "text": "3271014501900001"})
    assert "***0001" in page.text and "3271014501900001" not in page.text
    assert "Kirim nomor KK" in page.text


def test_the_browser_simulator_dials_the_ussd_menu(service):
    page = service.http.get(f"{service.base_url}/simulator/ussd?phone=081234567890")
    assert "1 Daftar cetak KTP-el" in page.text
    session = page.text.split('name="session" value="')[1].split('"')[0]
    page = service.http.post(f"{service.base_url}/simulator/ussd",
                             data={"phone": "081234567890", "session": session, "text": "",
                                   "input": "1"})
    assert "Masukkan NIK" in page.text
    page = service.http.post(f"{service.base_url}/simulator/ussd",
                             data={"phone": "081234567890", "session": session, "text": "1",
                                   "input": "3271014501900001"})
    assert "Masukkan nomor KK" in page.text
