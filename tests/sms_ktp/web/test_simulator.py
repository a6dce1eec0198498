"""The phone simulator over real HTTP shows only the conversation begun in that browser: another
browser typing the same number sees nothing of it, nor anything a number received before it was
begun here (a resident's SMS, pickup codes included); reading residents' SMS is the back
office's, behind login."""

from __future__ import annotations

import html
import re

import requests
from live_service import KK, NIK, PHONE, LiveService
from sqlmodel import select

from sms_ktp.applications import penunggalan, pickup
from sms_ktp.domain.quiet_hours import QuietHours
from sms_ktp.models import InboundMessage, OutboxMessage
from sms_ktp.web.simulator import COOKIE

NUMBER = "081234567890"  # PHONE as a resident types it
SIMULATOR = "/simulator/"


class Browser:
    """One browser (its own cookies) at the simulator."""

    def __init__(self, service: LiveService) -> None:
        self.base_url = service.base_url
        self.http = requests.Session()

    def screen(self, number: str = NUMBER) -> list[str]:
        """The SMS the drawn phone shows for `number`, oldest first."""
        page = self.http.get(self.base_url + SIMULATOR, params={"phone": number}, timeout=10)
        assert page.status_code == 200
        return [re.sub(r"\s+", " ", text).strip() for text in
                re.findall(r'<div class="msg (?:in|out)">([^<]*)</div>', page.text)]

    def text(self, message: str, number: str = NUMBER) -> list[str]:
        answer = self.http.post(self.base_url + SIMULATOR, data={"phone": number,
                                                                 "text": message}, timeout=10)
        assert answer.status_code == 200
        return self.screen(number)


def card_ready_for_pickup(service: LiveService) -> str:
    """The family of PHONE registered by SMS (not in any simulator), its card printed and its
    pickup SMS sent with a code; returns the code."""
    service.sms(PHONE, f"DAFTAR {NIK}#{KK}#2")
    service.sms(PHONE, "YA")
    runtime = service.runtime
    service.print_cards(NIK)
    assert pickup.allocate(runtime.db, runtime.clock, runtime.pickup_policy()) == 1
    service.worker.run_once()
    return re.search(r"Kode ([A-Z0-9]{6})", " ".join(service.received(PHONE))).group(1)


def test_another_browser_typing_the_number_sees_nothing_of_the_conversation(service):
    first, second = Browser(service), Browser(service)
    shown = first.text("DAFTAR")
    assert shown[0] == "DAFTAR" and "Kirim NIK" in shown[1]
    assert second.screen() == []
    page = second.http.get(service.base_url + SIMULATOR, params={"phone": NUMBER}).text
    assert "Kirim NIK" not in page and "Belum ada SMS" in page


def test_a_residents_sms_from_before_never_show_pickup_code_included(service):
    code = card_ready_for_pickup(service)
    stranger = Browser(service)
    assert stranger.screen() == []
    shown = stranger.text("BANTUAN")  # begins the number here: from now on only
    assert shown[0] == "BANTUAN" and len(shown) == 2
    page = stranger.http.get(service.base_url + SIMULATOR, params={"phone": NUMBER}).text
    assert code not in page and "siap diambil" not in page and "Pendaftaran diterima" not in page


def test_the_browser_that_began_it_follows_its_conversation_to_the_end(service):
    browser = Browser(service)
    browser.text(f"DAFTAR {NIK}#{KK}#2")
    shown = browser.text("YA")
    assert any("Pendaftaran diterima" in text for text in shown)
    runtime = service.runtime
    summary = penunggalan.Summary()
    penunggalan.apply(runtime.db, runtime.clock, QuietHours(),
                      list(penunggalan.read_csv(f"nik,result,note\n{NIK},PRR,\n", summary)),
                      summary, "operator:test")
    assert any("siap cetak" in text for text in browser.screen())  # a notice after it began


def test_a_forged_or_foreign_cookie_opens_nothing(service):
    Browser(service).text("DAFTAR")
    forged = Browser(service)
    for value in ('{"+6281234567890": [0, 0]}', "eyJ4IjoxfQ.bm90LXNpZ25lZA",
                  "W10.AAAAAAAAAAAAAAAAAAAAAAAAAAA"):
        forged.http.cookies.set(COOKIE, value, path=SIMULATOR)
        assert forged.screen() == []


def test_dialling_the_menu_begins_the_number_here_too(service):
    Browser(service).text("DAFTAR")  # someone else's conversation
    browser = Browser(service)
    menu = browser.http.get(service.base_url + "/simulator/ussd", params={"phone": NUMBER})
    assert "1 Daftar cetak KTP-el" in menu.text
    assert browser.screen() == []  # begun now: the other browser's SMS stay theirs
    assert browser.text("BANTUAN")[0] == "BANTUAN"


def test_the_cookie_is_the_simulators_only_and_not_for_scripts(service):
    browser = Browser(service)
    answer = browser.http.post(service.base_url + SIMULATOR, data={"phone": NUMBER,
                                                                   "text": "DAFTAR"},
                               allow_redirects=False, timeout=10)
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/simulator/" in cookie
    assert NIK not in cookie


def test_a_browser_keeps_each_number_it_began_apart(service):
    browser = Browser(service)
    browser.text("DAFTAR")
    other = browser.text("BANTUAN", number="085711112222")
    assert other[0] == "BANTUAN" and not any("Kirim NIK" in text for text in other)
    assert "Kirim NIK" in browser.screen()[1]  # the first number's conversation is still there


class WhatsAppPhone(Browser):
    """The simulator in WhatsApp mode: the screen's messages and the choices under them."""

    def page(self, number: str = NUMBER) -> str:
        page = self.http.get(self.base_url + SIMULATOR,
                             params={"phone": number, "mode": "whatsapp"}, timeout=10)
        assert page.status_code == 200
        return page.text

    def screen(self, number: str = NUMBER) -> list[str]:
        return [html.unescape(re.sub(r"\s+", " ", text).strip()) for text in
                re.findall(r'<div class="msg (?:in|out)">([^<]*)</div>', self.page(number))]

    def choices(self, number: str = NUMBER) -> list[tuple[str, str, str]]:
        """(kind: reply or row, id, title) of every choice on the screen, in order."""
        return [(kind, value, html.unescape(title.strip())) for value, kind, title in re.findall(
            r'<button name="text" value="([^"]*)" class="(reply|row)">([^<]*)</button>',
            self.page(number))]

    def text(self, message: str, number: str = NUMBER) -> list[str]:
        answer = self.http.post(self.base_url + SIMULATOR, timeout=10, data={
            "phone": number, "text": message, "mode": "whatsapp"})
        assert answer.status_code == 200 and "mode=whatsapp" in answer.url
        return self.screen(number)


def test_whatsapp_mode_shows_the_reasons_list_with_its_rows(service):
    phone = WhatsAppPhone(service)
    phone.text("DAFTAR")
    phone.text(NIK)
    shown = phone.text(KK)
    assert shown[0] == "DAFTAR" and shown[-1].startswith("Alasan cetak KTP-el?")
    assert NIK not in phone.page() and KK not in phone.page()
    assert phone.choices() == [("row", "1", "Baru (punya Suket)"), ("row", "2", "Hilang"),
                               ("row", "3", "Rusak"), ("row", "4", "Perubahan data")]
    assert "<summary>" in phone.page()  # the list opens from its button, as WhatsApp's does
    with service.runtime.db.transaction() as session:
        inbound = session.exec(select(InboundMessage).where(
            InboundMessage.sender == PHONE)).all()
        outbound = session.exec(select(OutboxMessage).where(OutboxMessage.phone == PHONE)).all()
    assert {m.provider for m in inbound} == {"whatsapp"}
    assert all(m.provider_id.startswith("wamid.") for m in inbound)
    assert {m.channel for m in outbound} == {"whatsapp"} and outbound[-1].options
    assert Browser(service).screen() == [] and Browser(service).text("BANTUAN")[0] == "BANTUAN"


def test_whatsapp_mode_sending_a_rows_id_answers_it(service):
    phone = WhatsAppPhone(service)
    phone.text(f"DAFTAR {NIK}#{KK}")
    before = phone.screen()
    assert ("row", "2", "Hilang") in phone.choices()
    shown = phone.text("2")  # what tapping the row sends, as a list_reply's id
    assert shown[:len(before)] == before and shown[len(before)] == "2"
    assert "alasan hilang" in shown[-1] and "Balas YA" in shown[-1]
    assert phone.choices()[-2:] == [("reply", "YA", "Kirim"), ("reply", "TIDAK", "Batal")]
    assert any("Pendaftaran diterima" in text for text in phone.text("YA"))
    sms_side = phone.http.get(service.base_url + SIMULATOR, params={"phone": NUMBER}).text
    assert "Belum ada SMS" in sms_side  # the SMS mode shows none of it


def test_changing_the_number_keeps_the_whatsapp_mode(service):
    page = requests.get(service.base_url + SIMULATOR,
                        params={"phone": NUMBER, "mode": "whatsapp"}, timeout=10).text
    dial = page[page.index('<form method="get" class="dial">'):]
    dial = dial[:dial.index("</form>")]
    assert '<input type="hidden" name="mode" value="whatsapp">' in dial
    sms = requests.get(service.base_url + SIMULATOR, params={"phone": NUMBER}, timeout=10).text
    assert 'name="mode"' not in sms[sms.index('class="dial"'):sms.index("</form>")]
