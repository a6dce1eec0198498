"""The kelurahan helper's home over real HTTP: where they land, their registrations, and their
kelurahan's list of SMS for the families without a phone, which reach it (and the kelurahan's
phone) through the worker that sends every SMS."""

from __future__ import annotations

import html
import re

import pytest
from live_service import KK, KK_2, NIK, NIK_2, PHONE, LiveService, start_service
from sqlmodel import select
from staff_browser import StaffBrowser, make_staff

from sms_ktp.models import AuditEntry, Family, KelurahanNotice, OutboxMessage

HOME = "/staff/home"
KELURAHAN = "3271011001"  # Kelurahan Batu Tulis, Bogor Selatan
OTHER_KELURAHAN = "3271061001"
KELURAHAN_PHONE = "+6281311112222"
REF = re.compile(r'class="reference">(\d{9})<')
NIK_3 = "3271064101950003"


@pytest.fixture
def service(database, clock, tmp_path):
    """The service with a phone for one kelurahan (`[kelurahan] phones`)."""
    def configure(settings):
        settings.kelurahan.phones = {KELURAHAN: "0813-1111-2222"}

    yield from start_service(database, clock, tmp_path, configure=configure)


def helper(service: LiveService, username: str = "kel1",
           office: str | None = KELURAHAN) -> StaffBrowser:
    make_staff(service.runtime.db, username, "helper", office)
    browser = StaffBrowser(service.base_url)
    landed = browser.login(username)
    assert landed.url == f"{service.base_url}{HOME}"  # never a "not for your role" page
    return browser


def text_of(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def register(browser: StaffBrowser, **typed: str) -> str:
    form = {"nik": NIK, "kk": KK, "reason": "hilang", "suket": "", "phone": "",
            "language": "id", **typed}
    done = browser.post("/staff/register", form)
    assert done.status_code == 200, text_of(done.text)
    return REF.search(done.text).group(1)


def test_a_helper_lands_on_their_home_and_every_link_they_see_opens(service):
    browser = helper(service)
    home = browser.get(HOME)
    assert "Beranda · Kelurahan Batu Tulis" in text_of(home.text)
    assert "Belum ada pendaftaran oleh Anda." in text_of(home.text)
    assert "Tidak ada kabar yang menunggu disampaikan." in text_of(home.text)
    links = set(re.findall(r'href="(/staff/[^"#?]*)', home.text))
    assert {"/staff/register", "/staff/applications"} <= links
    for link in links:
        assert browser.get(link).status_code == 200, link


def test_their_registrations_are_listed_newest_first_with_masked_niks(service):
    browser = helper(service)
    first = register(browser, phone="0812-3456-7890")
    second = register(browser, nik=NIK_2, kk=KK_2, phone="0857-1111-2222")
    register(helper(service, "kel2"), nik=NIK_3, kk=KK_2, phone="0857-1111-2222")  # not theirs
    home = browser.get(HOME)
    page = text_of(home.text)
    assert page.index(second) < page.index(first)
    assert f"{first} ***0001" in page and f"{second} ***0002" in page
    assert "***0003" not in page
    assert NIK not in home.text and NIK_2 not in home.text
    assert browser.get(f"/staff/applications/{first}").status_code == 200


def test_a_family_without_a_phone_is_told_through_the_kelurahan_list_and_phone(service):
    browser = helper(service)
    first = register(browser, no_phone="1")
    family = family_of(service)
    second = register(browser, nik=NIK_2, kk="", family=family)
    with_phone = register(browser, nik=NIK_3, kk=KK_2, phone="0812-3456-7890")
    service.worker.run_once()
    assert service.received(KELURAHAN_PHONE) == []  # the receipt, not an SMS, at registration

    service.print_cards(NIK, NIK_2, NIK_3)
    service.worker.run_once()  # the pickup allocated, every SMS due sent
    # The notices of the print queue were made untrue by the printing before they were due
    # (superseded): only the family visit's pickup SMS, one for both cards, reaches anyone.
    [pickup] = service.received(KELURAHAN_PHONE)
    assert pickup.startswith("2 KTP-el (NIK ***0001, ***0002) siap diambil")
    assert "Kode " in pickup
    assert all(sms["to"].startswith("+62") for sms in service.sent())  # never an address
    # The family with a phone is told on it, as ever, and is not on the kelurahan's list.
    assert any(sms["text"].startswith("KTP-el NIK ***0003 siap diambil")
               for sms in service.sent() if sms["to"] == PHONE)
    with service.runtime.db.transaction() as session:
        to_address = session.exec(select(OutboxMessage).where(
            OutboxMessage.phone == f"kel:{KELURAHAN}")).all()
        copy = session.exec(select(OutboxMessage).where(
            OutboxMessage.phone == KELURAHAN_PHONE)).one()
    assert {(sms.text, sms.status, sms.provider, sms.segments) for sms in to_address
            if sms.status != "superseded"} == {(pickup, "delivered", "kelurahan", 0)}
    assert (copy.kind, copy.status) == ("kelurahan", "sent")

    home = browser.get(HOME)
    page = text_of(home.text)
    assert "1 belum disampaikan" in page
    assert pickup in page  # as the family would have read it: the code is theirs to get
    assert f"Ref {first}" in page or f"Ref {second}" in page
    assert f"Ref {with_phone}" not in page and "***0003" not in page.split("Pendaftaran oleh")[0]
    ticks = re.findall(r'action="(/staff/home/notices/\d+/passed)"', home.text)
    assert len(ticks) == 1

    # Another kelurahan's helper sees none of it and cannot tick it.
    other = helper(service, "kel9", OTHER_KELURAHAN)
    assert "Tidak ada kabar yang menunggu disampaikan." in text_of(other.get(HOME).text)
    refused = other.post(ticks[0], allow_redirects=False)
    assert refused.status_code == 303
    assert "tidak ada di daftar kelurahan Anda" in text_of(other.get(HOME).text)

    ticked = browser.post(ticks[0], allow_redirects=False)
    assert ticked.status_code == 303
    after = text_of(browser.get(HOME).text)
    assert "Kabar ditandai sudah disampaikan kepada keluarga." in after
    assert "Tidak ada kabar yang menunggu disampaikan." in after
    assert "Sudah disampaikan (1 terakhir)" in after and "oleh kel1" in after
    again = browser.post(ticks[0])
    assert "sudah ditandai disampaikan" in text_of(again.text)
    with service.runtime.db.transaction() as session:
        [tick] = session.exec(select(KelurahanNotice)).all()
        [entry] = session.exec(select(AuditEntry).where(
            AuditEntry.action == "kelurahan.notice_passed")).all()
    assert (tick.kelurahan, tick.passed_by, entry.actor) == (KELURAHAN, "staff:kel1",
                                                              "staff:kel1")
    assert entry.target == f"sms {tick.outbox_id}"


def test_a_helper_without_a_kelurahan_has_no_list_and_no_phoneless_option(service):
    browser = helper(service, "kel0", None)
    assert "Kabar untuk keluarga tanpa HP" not in browser.get(HOME).text
    assert 'name="no_phone"' not in browser.get("/staff/register").text


def test_an_operator_is_not_sent_to_the_helpers_home(service):
    make_staff(service.runtime.db, "op1", "operator", "01")
    browser = StaffBrowser(service.base_url)
    assert HOME not in browser.login("op1").url
    assert browser.get(HOME).status_code == 403


def family_of(service: LiveService) -> str:
    with service.runtime.db.transaction() as session:
        return str(session.exec(select(Family.id)).first())
