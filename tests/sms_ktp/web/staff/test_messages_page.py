"""The messages page over real HTTP: the inbox and the outbox searched by phone (any Indonesian
form) and status, numbers masked and texts redacted, and a failed SMS sent again."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape

import pytest
from live_service import KK, NIK, PHONE, PHONE_2, LiveService, start_service
from sqlalchemy import select
from staff_browser import StaffBrowser, make_staff

from gateway.console import ConsoleGateway
from gateway.message import OutboundSms, PermanentFailure, SendResult
from sms_ktp.models import AuditEntry, OutboxMessage


class Outage:
    """The console gateway, refusing every SMS while `down` (an operator's outage)."""

    name = "console"

    def __init__(self, path: str) -> None:
        self.console = ConsoleGateway(path)
        self.down = False

    def send(self, sms: OutboundSms) -> SendResult:
        if self.down:
            raise PermanentFailure("operator outage 0812 3456 7890")
        return self.console.send(sms)


@pytest.fixture
def live(database, clock, tmp_path) -> Iterator[tuple[LiveService, Outage]]:
    gateway = Outage(str(tmp_path / "outbox.jsonl"))
    for service in start_service(database, clock, tmp_path, gateway=gateway):
        yield service, gateway


@pytest.fixture
def admin(live) -> StaffBrowser:
    service, _ = live
    make_staff(service.runtime.db, "admin1", "admin")
    browser = StaffBrowser(service.base_url)
    browser.login("admin1")
    return browser


def outbox(service: LiveService) -> list[tuple[str, str, int]]:
    with service.runtime.db.connect() as connection:
        rows = connection.execute(select(OutboxMessage.__table__)
                                  .order_by(OutboxMessage.__table__.c.id)).all()
    return [(row.phone, row.status, row.attempts) for row in rows]


def audit(service: LiveService) -> list[tuple[str, str, str, str]]:
    with service.runtime.db.connect() as connection:
        rows = connection.execute(select(AuditEntry.__table__).where(
            AuditEntry.__table__.c.action != "staff.login")).all()
    return [(row.actor, row.action, row.target, row.detail) for row in rows]


def text_of(service: LiveService, message_id: int) -> str:
    with service.runtime.db.connect() as connection:
        return connection.execute(select(OutboxMessage.__table__.c.text).where(
            OutboxMessage.__table__.c.id == message_id)).scalar_one()


def cells(html: str) -> list[list[str]]:
    table = html.split('id="messages"')[1].split("</table>")[0]
    rows = re.findall(r'<tr class="message.*?</tr>', table, re.S)
    return [[unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cell))).strip()
             for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)] for row in rows]


def test_search_by_phone_in_any_form_masks_numbers_and_redacts_texts(live, admin):
    service, _ = live
    service.sms(PHONE, f"DAFTAR {NIK}#{KK}#2")
    service.sms(PHONE_2, "BANTUAN")
    for typed in ("0812-3456-7890", "6281234567890", "+62 812 3456 7890"):
        page = admin.get("/staff/messages", params={"phone": typed})
        assert page.status_code == 200
        rows = cells(page.text)
        assert [row[1] for row in rows] == ["Keluar", "Masuk"]  # the reply after the SMS
        assert {row[3] for row in rows} == {"+62***890"}
        table = page.text.split('id="messages"')[1]
        assert NIK not in table and KK not in table and "81234567890" not in table
        assert NIK not in page.text and KK not in page.text
    incoming, reply = rows[1], rows[0]
    assert incoming[4] == "DAFTAR ***0001#***0003#2" and incoming[6] == "dibalas"
    assert incoming[0] == "30 Nov 2026 09.00"
    assert reply[5] == "reply" and reply[6] == "terkirim ke operator"
    assert reply[7] == "1" and reply[9] == "console" and reply[10] == "1"  # tries, gateway, parts
    assert "***0001" in reply[4]
    everything = admin.get("/staff/messages")
    assert len(cells(everything.text)) == 4
    only_in = admin.get("/staff/messages", params={"direction": "in"})
    assert [row[1] for row in cells(only_in.text)] == ["Masuk", "Masuk"]


def test_a_number_that_is_no_mobile_is_explained(live, admin):
    page = admin.get("/staff/messages", params={"phone": "022-1234"})
    assert page.status_code == 400 and "bukan nomor HP Indonesia" in page.text


def test_a_failed_sms_is_found_by_status_and_sent_again(live, admin):
    service, gateway = live
    gateway.down = True
    assert service.sms(PHONE, "BANTUAN") == []
    service.sms(PHONE_2, "BANTUAN")
    gateway.down = False
    service.sms(PHONE, "STATUS")  # sent: the outage is over
    assert [status for _, status, _ in outbox(service)] == ["failed", "failed", "sent"]
    failed = admin.get("/staff/messages", params={"status": "failed"})
    rows = cells(failed.text)
    assert len(rows) == 2 and {row[6] for row in rows} == {"gagal"}
    assert all(row[1] == "Keluar" for row in rows)
    assert "operator outage ***7890" in rows[0][8]  # the reason, redacted
    [first_id] = [int(i) for i in re.findall(
        r'name="id" value="(\d+)"', admin.get("/staff/messages",
                                              params={"phone": PHONE}).text)]
    response = admin.post("/staff/messages/retry", {"id": str(first_id),
                                                    "back_phone": PHONE})
    assert response.status_code == 200 and "masuk antrean kirim lagi" in response.text
    assert outbox(service)[0] == (PHONE, "queued", 0)
    assert audit(service) == [("staff:admin1", "message.retry", f"outbox {first_id}",
                               "to +62***890: fresh attempts")]
    service.worker.run_once()
    assert service.received(PHONE) == [text_of(service, first_id)]
    assert outbox(service)[0][1] == "sent"
    assert outbox(service)[1] == (PHONE_2, "failed", 1)  # the other phone's is left alone
    twice = admin.post("/staff/messages/retry", {"id": str(first_id)})
    assert "tidak berstatus gagal" in twice.text and len(audit(service)) == 1


def test_every_failed_sms_of_one_phone_is_sent_again(live, admin):
    service, gateway = live
    gateway.down = True
    service.sms(PHONE, "BANTUAN")
    service.sms(PHONE, "STATUS")
    service.sms(PHONE_2, "BANTUAN")
    gateway.down = False
    page = admin.get("/staff/messages", params={"phone": "081234567890"})
    assert "Kirim ulang semua SMS gagal ke +62***890 (2)" in page.text
    response = admin.post("/staff/messages/retry", {"phone": "081234567890"})
    assert "2 SMS gagal ke +62***890 masuk antrean kirim lagi" in response.text
    assert [row[1:] for row in outbox(service)] == [("queued", 0), ("queued", 0),
                                                    ("failed", 1)]
    assert audit(service) == [("staff:admin1", "message.retry", "phone +62***890",
                               "2 failed SMS: fresh attempts")]
    service.worker.run_once()
    assert len(service.received(PHONE)) == 2
    none_left = admin.post("/staff/messages/retry", {"phone": "081234567890"})
    assert "Tidak ada SMS gagal" in none_left.text and len(audit(service)) == 1


def test_pages_of_fifty(live, admin):
    service, _ = live
    limits = service.runtime.settings.limits  # 30 answers to one phone within the hour
    limits.max_sms_per_phone_per_hour = limits.max_identical_replies = 0
    for number in range(30):
        service.post_sms(PHONE, f"halo {number}")
    first = admin.get("/staff/messages", params={"phone": PHONE})
    assert "Halaman 1 dari 2" in first.text and len(cells(first.text)) == 50
    second = admin.get("/staff/messages", params={"phone": PHONE, "page": 2})
    assert len(cells(second.text)) == 10
    assert cells(second.text)[-1][4] == "halo 0"


@pytest.mark.parametrize("role", ["operator", "viewer", "helper"])
def test_only_admins_see_messages(live, role):
    service, gateway = live
    gateway.down = True
    service.sms(PHONE, "BANTUAN")
    make_staff(service.runtime.db, "someone", role, office="01" if role == "operator" else None)
    browser = StaffBrowser(service.base_url)
    browser.login("someone")
    assert browser.get("/staff/messages").status_code == 403
    assert browser.post("/staff/messages/retry", {"phone": PHONE}).status_code == 403
    assert outbox(service) == [(PHONE, "failed", 1)]


def test_a_retry_without_the_csrf_token_is_refused(live, admin):
    service, gateway = live
    gateway.down = True
    service.sms(PHONE, "BANTUAN")
    response = admin.post("/staff/messages/retry", {"phone": PHONE}, csrf=False)
    assert response.status_code == 400 and "Formulir tidak dapat diproses" in response.text
    assert outbox(service) == [(PHONE, "failed", 1)]


def test_a_notice_superseded_before_it_left_is_shown_with_what_superseded_it(live):
    from datetime import UTC, datetime

    from sms_ktp.applications import penunggalan, printing

    service, _ = live
    runtime = service.runtime
    service.sms(PHONE, f"DAFTAR {NIK}#{KK}#2")
    reference = re.search(r"ref (\d{9})", service.sms(PHONE, "YA")[0]).group(1)
    runtime.clock.set(datetime(2026, 11, 30, 14, 0, tzinfo=UTC))  # 21:00 WIB: quiet hours
    summary = penunggalan.Summary()
    rows = list(penunggalan.read_csv(f"nik,result,note\n{NIK},PRR,\n", summary))
    penunggalan.apply(runtime.db, runtime.clock, runtime.quiet_hours, rows, summary, "operator:ani")
    printing.add_blangko(runtime.db, runtime.clock, "disdukcapil", 1, "operator:ani")
    batch = printing.reserve_next(runtime.db, runtime.clock, "disdukcapil", None)
    printing.mark_printed(runtime.db, runtime.clock, runtime.quiet_hours, batch.batch_id,
                          "operator:budi")

    make_staff(runtime.db, "admin1", "admin")
    admin = StaffBrowser(service.base_url)
    admin.login("admin1")  # in the evening
    page = admin.get("/staff/messages", params={"status": "superseded"})
    assert page.status_code == 200
    [row] = cells(page.text)
    assert row[1] == "Keluar" and "Kini antre cetak" in row[4]
    assert row[5] == f"notification ref {reference}"
    assert row[6] == "diganti, tidak dikirim"
    assert row[8] == "diganti oleh perubahan 30 Nov 2026 21.00: dicetak (operator:budi)"
    assert 'value="superseded" selected' in page.text  # the filter offers the status
    assert [status for _, status, _ in outbox(service)][-1] == "superseded"
    service.worker.run_once()
    assert service.received(PHONE) == []  # and it never leaves


def _insert_both_channels(service: LiveService) -> None:
    """An SMS and a WhatsApp message in, a reply to each, a WhatsApp notice, and a notice for a
    phone on WhatsApp that went by SMS (the 24-hour window had closed): the worker records it
    as an SMS row."""
    from datetime import timedelta

    from sqlalchemy import insert

    from sms_ktp.models import InboundMessage

    now = service.runtime.clock.now()
    with service.runtime.db.transaction() as session:
        connection = session.connection()
        connection.execute(insert(InboundMessage.__table__), [
            {"provider": "console", "provider_id": "in-sms", "sender": PHONE, "text": "BANTUAN",
             "replied": True, "received_at": now - timedelta(minutes=5)},
            {"provider": "whatsapp", "provider_id": "wamid.IN", "sender": PHONE_2,
             "text": "STATUS", "replied": True, "received_at": now - timedelta(minutes=4)}])
        connection.execute(insert(OutboxMessage.__table__), [
            {"uid": "out-sms", "phone": PHONE, "text": "bantuan sms", "kind": "reply",
             "status": "delivered", "provider": "console", "channel": "sms", "segments": 1,
             "next_attempt_at": now, "created_at": now - timedelta(minutes=3)},
            {"uid": "out-wa", "phone": PHONE_2, "text": "status wa", "kind": "reply",
             "status": "read", "provider": "whatsapp", "channel": "whatsapp", "segments": 1,
             "next_attempt_at": now, "created_at": now - timedelta(minutes=2)},
            {"uid": "out-wa-notice", "phone": PHONE_2, "text": "kartu siap", "kind": "pickup",
             "status": "queued", "provider": None, "channel": "whatsapp", "segments": 1,
             "next_attempt_at": now, "created_at": now - timedelta(minutes=1)},
            {"uid": "out-wa-by-sms", "phone": PHONE, "text": "kartu dicetak", "kind": "printed",
             "status": "sent", "provider": "console", "channel": "sms", "segments": 1,
             "next_attempt_at": now, "created_at": now}])


def test_every_message_shows_its_channel_and_the_page_filters_by_it(live, admin):
    service, _ = live
    _insert_both_channels(service)

    page = admin.get("/staff/messages")
    assert page.status_code == 200
    rows = cells(page.text)
    shown = [(row[1], row[2], row[4]) for row in rows]
    assert shown == [
        ("Keluar", "SMS", "kartu dicetak"),
        ("Keluar", "WhatsApp", "kartu siap"),
        ("Keluar", "WhatsApp", "status wa"),
        ("Keluar", "SMS", "bantuan sms"),
        ("Masuk", "WhatsApp", "STATUS"),
        ("Masuk", "SMS", "BANTUAN"),
    ]
    assert rows[2][6] == "dibaca" and rows[2][9] == "whatsapp"  # status and gateway

    whatsapp = admin.get("/staff/messages", params={"channel": "whatsapp"})
    assert [row[4] for row in cells(whatsapp.text)] == ["kartu siap", "status wa", "STATUS"]
    assert 'value="whatsapp" selected' in whatsapp.text
    sms = admin.get("/staff/messages", params={"channel": "sms", "direction": "out"})
    assert [row[4] for row in cells(sms.text)] == ["kartu dicetak", "bantuan sms"]
    both = admin.get("/staff/messages", params={"channel": "whatsapp", "phone": "0812 3456 7890"})
    assert cells(both.text) == []  # PHONE's notice went by SMS
    unknown = admin.get("/staff/messages", params={"channel": "telegram"})
    assert len(cells(unknown.text)) == 6  # no such channel: no filter
