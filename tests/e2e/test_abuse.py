"""Abuse of the webhooks over real HTTP: who may call them (address allow-list, token), what a
call may carry (form, size, encoding, field lengths), who is never answered (non-mobile
senders), and how much one phone may be answered (per-phone limits)."""

from __future__ import annotations

import hmac
import re
import sys
from datetime import timedelta

import pytest
from live_service import KK, NIK, PHONE, PHONE_2, TOKEN, LiveService
from scrape import Scrape
from sqlalchemy import func, select
from staff_browser import StaffBrowser, make_staff

from sms_ktp.applications import penunggalan
from sms_ktp.domain.quiet_hours import QuietHours
from sms_ktp.messaging import broadcasts
from sms_ktp.models import Application, InboundMessage, OutboxMessage, PhoneState, UssdSession
from sms_ktp.platform import metrics

SMS_FORM = {"id": "ATXid_1", "from": PHONE, "to": "98765", "text": "DAFTAR"}
USSD_FORM = {"sessionId": "ATUid_1", "serviceCode": "*123*45#", "phoneNumber": PHONE,
             "text": ""}
FORMS = {"/sms": SMS_FORM, "/delivery": {"id": "ATXid_1", "status": "Success"},
         "/ussd": USSD_FORM, "/ussd/end": {"sessionId": "ATUid_1", "status": "Success"}}
REF = re.compile(r"ref (\d{9})")


def scrape() -> Scrape:
    return Scrape(metrics.exposition(None).decode())


def rows(service: LiveService, table) -> list:
    with service.runtime.db.connect() as connection:
        key = next(iter(table.__table__.primary_key))
        return list(connection.execute(select(table.__table__).order_by(key)).all())


def outbox_texts(service: LiveService, phone: str = PHONE) -> list[str]:
    return [row.text for row in rows(service, OutboxMessage) if row.phone == phone]


# --- who may call -------------------------------------------------------------------------------
def test_the_token_is_compared_in_constant_time(service, monkeypatch):
    compared: list[tuple[bytes, bytes]] = []
    constant_time = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return constant_time(a, b)

    # (`sms_ktp.web.webhooks` is also the name of the blueprint in `sms_ktp.web`.)
    monkeypatch.setattr(sys.modules["sms_ktp.web.webhooks"].hmac, "compare_digest", spy)
    assert service.http.post(service.url("/sms"), data=SMS_FORM).status_code == 200
    wrong = TOKEN[:-1] + "x"
    assert service.http.post(service.url("/sms", token=wrong), data=SMS_FORM).status_code == 404
    assert compared == [(TOKEN.encode(), TOKEN.encode()), (wrong.encode(), TOKEN.encode())]


@pytest.mark.parametrize("path", sorted(FORMS))
def test_a_caller_outside_the_allow_list_is_refused_before_anything_else(service, path):
    service.runtime.settings.gateway.allowed_ips = ["203.0.113.0/24", "2001:db8::/32"]
    before = scrape()
    for token in (TOKEN, "wrong-token"):  # before the token: 403 either way
        response = service.http.post(service.url(path, token=token), data=FORMS[path])
        assert response.status_code == 403
        assert response.text == "forbidden: caller address not allowed\n"
    moved = scrape().moved(before)
    counted = {"/sms": ("sms_ktp_inbound_sms_total", "outcome=ip_refused"),
               "/ussd": ("sms_ktp_ussd_requests_total", "outcome=ip_refused"),
               "/delivery": ("sms_ktp_delivery_reports_total", "status=ip_refused")}
    if path in counted:
        assert moved == {counted[path]: 2.0}
    assert rows(service, InboundMessage) == [] and rows(service, UssdSession) == []


def test_a_caller_in_the_allow_list_is_served(service):
    service.runtime.settings.gateway.allowed_ips = ["10.0.0.0/8", "127.0.0.1"]
    assert service.http.post(service.url("/sms"), data=SMS_FORM).status_code == 200
    assert len(rows(service, InboundMessage)) == 1


def test_forwarded_for_is_read_only_from_a_trusted_proxy_and_from_the_right(service):
    settings = service.runtime.settings
    settings.gateway.allowed_ips = ["203.0.113.0/24"]
    ids = iter(range(100))

    def status(forwarded: str | None) -> int:
        headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
        form = {**SMS_FORM, "id": f"ATXid_{next(ids)}"}
        return service.http.post(service.url("/sms"), data=form, headers=headers).status_code

    # The test client (127.0.0.1) is no trusted proxy: what it says in the header is ignored.
    assert status("203.0.113.9") == 403
    settings.server.trusted_proxies = ["127.0.0.0/8", "10.1.0.0/16"]
    assert status("203.0.113.9") == 200
    assert status("198.51.100.1") == 403
    # A client writing an allowed address into the header itself: the proxy appends the real
    # one, which is the one read.
    assert status("203.0.113.9, 198.51.100.1") == 403
    # Through two trusted proxies (10.1.x.x appended by the outer one).
    assert status("198.51.100.1, 203.0.113.9, 10.1.2.3") == 200
    assert status("203.0.113.9:4711") == 200
    assert status("not-an-address") == 403
    assert status(None) == 403  # the proxy itself is no allowed caller


# --- what a call may carry ----------------------------------------------------------------------
@pytest.mark.parametrize(("body", "content_type", "reason"), [
    (b'{"id": "1", "from": "+6281234567890", "text": "DAFTAR"}', "application/json",
     "not a form"),
    (b"id=1&from=%2B6281234567890&text=DAFTAR", "text/plain", "not a form"),
    (b"id=1&from=%2B6281234567890&text=DAFTAR", None, "not a form"),
    (b"id=1&from=%2B6281234567890&text=%FF%FE", "application/x-www-form-urlencoded",
     "invalid UTF-8"),
    (b"id=1&from=%2B6281234567890&text=\xc3\x28", "application/x-www-form-urlencoded",
     "invalid UTF-8"),
    (b"id=1&from=%2B6281234567890&text=DA%00FTAR", "application/x-www-form-urlencoded",
     "NUL byte in field: text"),
    (b"id=1&from=%2B6281234567890&text=" + b"A" * 1601, "application/x-www-form-urlencoded",
     "field too long: text (at most 1600 characters)"),
    (b"id=1&from=%2B6281234567890&text=x&linkId=" + b"L" * 101,
     "application/x-www-form-urlencoded", "field too long: linkId"),
    (b"id=1&from=%2B6281234567890&text=x&networkCode=" + b"9" * 21,
     "application/x-www-form-urlencoded", "field too long: networkCode"),
])
def test_a_malformed_sms_callback_is_refused_with_its_reason(service, body, content_type,
                                                             reason):
    headers = {"Content-Type": content_type} if content_type else {}
    before = scrape()
    response = service.http.post(service.url("/sms"), data=body, headers=headers)
    assert response.status_code == 400
    assert response.text.startswith("bad request: ") and reason in response.text
    assert scrape().moved(before) == {("sms_ktp_inbound_sms_total", "outcome=bad_request"): 1.0}
    assert rows(service, InboundMessage) == []


def test_the_longest_text_allowed_is_answered(service):
    response = service.post_sms(PHONE, "A" * 1600)
    assert response.status_code == 200
    [inbound] = rows(service, InboundMessage)
    assert len(inbound.text) == 1000  # stored cut, as before


def test_an_oversized_body_is_refused_with_a_reason(service):
    response = service.http.post(service.url("/sms"), data={**SMS_FORM, "text": "A" * 70_000})
    assert response.status_code == 413
    assert response.text == "too large: a callback body is at most 64 KiB\n"


@pytest.mark.parametrize(("form", "reason"), [
    ({"sessionId": "s", "durationInMillis": "²"}, "not a number: durationInMillis"),
    ({"sessionId": "s", "hopsCount": "1" * 7}, "field too long: hopsCount"),
    ({"sessionId": "s", "durationInMillis": "9" * 10}, "field too long: durationInMillis"),
    ({"sessionId": "s" * 101}, "field too long: sessionId"),
])
def test_a_malformed_session_end_is_refused_with_its_reason(service, form, reason):
    response = service.http.post(service.url("/ussd/end"), data=form)
    assert response.status_code == 400 and reason in response.text


def test_a_malformed_ussd_request_is_refused_not_answered(service):
    form = {**USSD_FORM, "networkCode": "5" * 21}
    response = service.http.post(service.url("/ussd"), data=form)
    assert response.status_code == 400 and "field too long: networkCode" in response.text
    form = {**USSD_FORM, "text": "1*\x00"}
    response = service.http.post(service.url("/ussd"), data=form)
    assert response.status_code == 400 and "NUL byte in field: text" in response.text
    assert rows(service, UssdSession) == []


# --- who is never answered ----------------------------------------------------------------------
@pytest.mark.parametrize("sender", ["4444", "98765", "TELKOMSEL", "+62251123456", "Info-Bank"])
def test_a_non_mobile_sender_gets_no_reply_by_sms(service, sender):
    assert service.post_sms(sender, "BANTUAN").status_code == 200
    assert rows(service, OutboxMessage) == []
    [inbound] = rows(service, InboundMessage)
    assert inbound.replied is False


@pytest.mark.parametrize("number", ["4444", "TELKOMSEL", "+62251123456"])
def test_a_non_mobile_ussd_caller_gets_a_closing_screen_and_nothing_else(service, number):
    screen = service.ussd("ATUid_9", "", phone=number)
    assert screen == "END Nomor HP tidak dikenali. Gunakan nomor HP biasa."
    screen = service.ussd("ATUid_9", f"1*{NIK}*{KK}*2*1", phone=number)
    assert screen.startswith("END ")
    assert rows(service, OutboxMessage) == [] and rows(service, UssdSession) == []
    assert rows(service, PhoneState) == []


def test_assisted_registration_never_queues_an_sms_to_a_non_mobile_number(service):
    make_staff(service.runtime.db, "helper1", "helper")
    helper = StaffBrowser(service.base_url)
    helper.login("helper1")
    for number in ("4444", "TELKOMSEL", "+62251123456"):
        response = helper.post("/staff/register", {"nik": NIK, "kk": KK, "reason": "hilang",
                                                   "phone": number, "language": "id"})
        assert response.status_code == 422
        assert "Nomor HP tidak dikenali" in response.text
    assert rows(service, OutboxMessage) == []


# --- how much one phone may be answered ---------------------------------------------------------
def test_at_most_twenty_replies_an_hour_to_one_phone_and_it_is_told_once_when_to_write(
        service, clock):
    service.runtime.settings.limits.max_identical_replies = 0  # every reply counts alike here
    before = scrape()
    first = clock.now()
    for number in range(25):
        assert service.post_sms(PHONE, f"halo {number}").status_code == 200
        if number == 0:
            clock.advance(timedelta(minutes=2))  # the first reply leaves the hour first
    texts = outbox_texts(service)
    assert len(texts) == 21
    # 20 replies, then one SMS that says when the phone may write again (the first reply's
    # time plus one hour, in Jakarta time: the clock starts at 02.00 UTC).
    assert texts[-1] == ("Nomor HP ini sudah menerima 20 balasan dalam 1 jam. Kirim lagi "
                         f"setelah pukul {(first.hour + 7 + 1) % 24:02d}.{first.minute:02d} "
                         "WIB. Kabar pendaftaran tetap dikirim lewat SMS.")
    assert [row.kind for row in rows(service, OutboxMessage)] == ["reply"] * 20 + ["limit"]
    inbound = rows(service, InboundMessage)
    assert [row.replied for row in inbound] == [True] * 21 + [False] * 4
    assert scrape().moved(before)[
        "sms_ktp_replies_suppressed_total", "reason=rate"] == 5.0
    service.post_sms(PHONE_2, "halo")  # another phone is answered
    assert len(outbox_texts(service, PHONE_2)) == 1
    clock.advance(timedelta(minutes=57))
    service.post_sms(PHONE, "halo lagi")
    assert len(outbox_texts(service)) == 21
    clock.advance(timedelta(minutes=1, seconds=1))  # the first reply is over an hour old
    service.post_sms(PHONE, "halo lagi")
    assert len(outbox_texts(service)) == 22


def test_a_phone_over_its_limit_changes_nothing(service):
    service.runtime.settings.limits.max_identical_replies = 0
    for number in range(20):
        service.post_sms(PHONE, f"halo {number}")
    service.post_sms(PHONE, f"DAFTAR {NIK}#{KK}#2")  # told the limit; no dialogue begun
    service.post_sms(PHONE, "YA")
    with service.runtime.db.connect() as connection:
        state = connection.execute(select(PhoneState.flow).where(PhoneState.phone == PHONE)
                                   ).scalar()
    assert state is None
    assert len(outbox_texts(service)) == 21  # the 21st: when to write again; then silence


def test_a_family_of_ten_registering_from_one_phone_gets_every_reference(service, clock):
    """One phone per family: ten members in one hour, each in a five-SMS dialogue, with a
    STATUS now and then; none of them is silenced, each gets its reference."""
    references = []
    for member in range(1, 11):
        nik = f"32710215068500{member:02d}"
        assert service.sms(PHONE, "DAFTAR")[0].startswith("Daftar cetak KTP-el")
        service.sms(PHONE, nik)
        service.sms(PHONE, KK)
        summary = service.sms(PHONE, "2")
        assert summary[0].startswith(f"Periksa: NIK ***{nik[-4:]}")
        done = service.sms(PHONE, "YA")
        references.append(REF.search(done[0]).group(1))
        if member % 3 == 0:
            service.sms(PHONE, "STATUS")
        clock.advance(timedelta(minutes=5))
    assert len(set(references)) == 10
    with service.runtime.db.connect() as connection:
        stored = connection.execute(select(func.count()).select_from(
            Application.__table__)).scalar_one()
    assert stored == 10


def test_an_auto_responder_inside_a_dialogue_ends_it_with_one_sms(service):
    service.sms(PHONE, "DAFTAR")
    replies = [service.sms(PHONE, "Maaf, pesan Anda tidak dapat kami proses.") for _ in range(6)]
    texts = [reply[0] if reply else None for reply in replies]
    assert texts[:3] == [texts[0]] * 3  # the same error three times, as the rule says
    assert texts[3] == ("Pendaftaran dihentikan: jawaban yang sama terus masuk. Ketik DAFTAR "
                        "untuk mulai lagi, atau minta bantuan di kelurahan.")
    assert texts[4].startswith("Maaf, pesan tidak dikenali")  # outside the dialogue now
    assert texts[5].startswith("Maaf, pesan tidak dikenali")


def test_the_same_reply_three_times_then_silence_until_something_else_is_said(service):
    before = scrape()
    for _ in range(6):
        service.post_sms(PHONE, "apa kabar")
    texts = outbox_texts(service)
    assert len(texts) == 3 and len(set(texts)) == 1
    assert scrape().moved(before)[
        "sms_ktp_replies_suppressed_total", "reason=identical"] == 3.0
    service.post_sms(PHONE, "xyz")  # other nonsense, the same help: still silence
    assert len(outbox_texts(service)) == 3
    service.post_sms(PHONE, "STATUS")  # another answer
    service.post_sms(PHONE, "apa kabar")  # and the help again
    texts = outbox_texts(service)
    assert len(texts) == 5 and texts[-1] == texts[0] and texts[-2] != texts[0]


def test_limits_set_to_zero_answer_everything(service):
    limits = service.runtime.settings.limits
    limits.max_sms_per_phone_per_hour = limits.max_identical_replies = 0
    for _ in range(25):
        service.post_sms(PHONE, "apa kabar")
    assert len(outbox_texts(service)) == 25


def test_notices_and_broadcasts_reach_a_phone_over_its_limit(service):
    service.sms(PHONE, f"DAFTAR {NIK}#{KK}#2")
    reference = REF.search(service.sms(PHONE, "YA")[0]).group(1)
    service.runtime.settings.limits.max_identical_replies = 0
    for number in range(25):
        service.post_sms(PHONE, f"halo {number}")
    # The registration's first reply counted (DAFTAR began it; its answers did not), and the
    # registration raised the limit by 5 (25): 24 replies, then the SMS that tells when to
    # write again.
    assert len(outbox_texts(service)) == 27
    summary = penunggalan.Summary()
    penunggalan.apply(service.runtime.db, service.runtime.clock, QuietHours.parse(""),
                      list(penunggalan.read_csv(f"nik,result,note\n{NIK},PRR,\n", summary)),
                      summary, "operator:test")
    notices = [row for row in rows(service, OutboxMessage) if row.kind == "notification"]
    assert len(notices) == 1 and reference in notices[0].text
    now = service.runtime.clock.now()
    with service.runtime.db.connect() as connection:
        broadcasts.create(connection, "Kantor tutup Jumat.", broadcasts.Audience.of("all", None),
                          now, "admin:test", now)
    broadcasts.queue_due(service.runtime.db, service.runtime.clock, 5.0, QuietHours.parse(""),
                         1.0)
    kinds = [row.kind for row in rows(service, OutboxMessage)]
    assert kinds.count("broadcast") == 1
    # ... and they do not use up the phone's replies either.
    service.runtime.settings.limits.max_sms_per_phone_per_hour = 21  # 26 with the registration
    service.post_sms(PHONE, "halo lagi")
    assert len(outbox_texts(service)) == 30  # 27, the notice, the broadcast, this reply


def test_a_registration_by_ussd_sends_its_sms_even_over_the_limit(service):
    service.runtime.settings.limits.max_identical_replies = 0
    for number in range(20):
        service.post_sms(PHONE, f"halo {number}")
    screen = service.ussd("ATUid_1", f"1*{NIK}*{KK}*2*1")
    assert screen.startswith("END ")
    ussd_sms = [row for row in rows(service, OutboxMessage) if row.kind == "ussd"]
    assert len(ussd_sms) == 1
    with service.runtime.db.connect() as connection:
        counted = connection.execute(select(func.count()).select_from(OutboxMessage.__table__)
                                     .where(OutboxMessage.__table__.c.phone == PHONE)
                                     ).scalar_one()
    assert counted == 21


def test_a_resident_trying_wrong_answers_is_answered_and_a_varying_loop_still_ends(service):
    service.sms(PHONE, "DAFTAR")
    service.sms(PHONE, NIK)
    service.sms(PHONE, KK)
    wrong = ["5", "belum tahu", "9", "apa ya", "0", "6", "tujuh", "8", "x", "y", "z"]
    replies = [service.sms(PHONE, text)[0] for text in wrong]
    # Ten times the same explanation to ten different texts; the eleventh ends the dialogue.
    assert replies[:10] == [replies[0]] * 10 and replies[0].startswith("Pilihan tidak dikenal")
    assert replies[10].startswith("Pendaftaran dihentikan")
