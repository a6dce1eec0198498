"""The broadcast pages over real HTTP, as an admin's browser uses them: compose (no audience chosen
for the admin), confirm knowing the text as sent, the families, the parts and the cost (by
channel when WhatsApp is on), send, follow the progress, cancel; and what other roles, a missing
CSRF token, a wrong form, a text too long and an audience grown since the confirmation get."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from live_service import LiveService
from sqlalchemy import insert, select
from staff_browser import PASSWORD, StaffBrowser, make_staff

from gsm7.encoding import segments, septets
from sms_ktp.messaging.broadcasts import ChannelSplit
from sms_ktp.messaging.whatsapp_window import note_contact
from sms_ktp.models import AuditEntry, Broadcast, Family, InboundMessage, PhoneState
from sms_ktp.platform.config import Settings

BROADCAST_JS = Path(__file__).parents[4] / "sms_ktp" / "web" / "static" / "broadcast.js"
PRICE = 350  # [gateway] price_per_segment by default
TEMPLATE_PRICE = 320  # [whatsapp] cost_per_message by default
TEXT = "Kantor Disdukcapil Kota Bogor tutup Jumat 4 Desember. Balas BERHENTI untuk berhenti."


def add_family(database, number: int, kecamatan: str, opted_out: bool = False) -> str:
    phone = f"+62812{number:08d}"
    now = datetime(2026, 11, 1, tzinfo=UTC)
    with database.connect() as connection:
        connection.execute(insert(Family.__table__).values(
            kk=f"3271{kecamatan}0101200{number:03d}", phone=phone, kecamatan_code=kecamatan,
            created_at=now))
        if opted_out:  # today: an older row is purged by the worker (see test_broadcasts.py)
            today = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
            connection.execute(insert(PhoneState.__table__).values(
                phone=phone, broadcast_opt_out_at=today, updated_at=today))
    return phone


@pytest.fixture
def phones(database) -> list[str]:
    """Three families in Bogor Selatan (one opted out) and one in Bogor Timur."""
    return [add_family(database, 1, "01"), add_family(database, 2, "01"),
            add_family(database, 3, "01", opted_out=True), add_family(database, 4, "02")]


def signed_in(service, database, username: str, role: str, office: str | None = None
              ) -> StaffBrowser:
    make_staff(database, username, role, office)
    browser = StaffBrowser(service.base_url)
    browser.get("/staff/login")
    browser.post("/staff/login", {"username": username, "password": PASSWORD,
                                  "next": "/staff/broadcasts"})
    return browser


@pytest.fixture
def admin(service, database) -> StaffBrowser:
    return signed_in(service, database, "admin", "admin")


def compose(browser: StaffBrowser, action: str, text: str = TEXT,
            audience: str = "kecamatan:01", when: str = "now", send_at: str = "", **kwargs):
    browser.get("/staff/broadcasts/new")
    return browser.post("/staff/broadcasts/new", {"text": text, "audience": audience,
                                                  "when": when, "send_at": send_at,
                                                  "action": action}, **kwargs)


def send(browser: StaffBrowser, text: str = TEXT, audience: str = "kecamatan:01",
         when: str = "now", send_at: str = "", accept: bool = True):
    """Compose, read the confirmation page, and send from it as the admin's browser does."""
    page = compose(browser, "preview", text, audience, when, send_at)
    assert page.status_code == 200, page.text
    form = confirmation_form(page.text)
    if accept and 'name="accept_parts"' in page.text:
        form["accept_parts"] = "1"
    return browser.post("/staff/broadcasts/new", {**form, "action": "send"})


def confirmation_form(page: str) -> dict[str, str]:
    """The hidden fields of the confirmation page's form."""
    form = page[page.index('id="broadcast-confirm"'):]
    return {name: html.unescape(value) for name, value in re.findall(
        r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">', form)
        if name != "csrf_token"}


def rows(database, table):
    with database.connect() as connection:
        return connection.execute(select(table).order_by(table.c.id)).all()


def audit(database) -> list[tuple[str, str, str]]:
    return [(e.actor, e.action, e.target) for e in rows(database, AuditEntry.__table__)
            if e.action.startswith("broadcast.")]


def count(page: str, name: str) -> int:
    return int(re.search(rf'data-count="{name}">(\d+)<', page).group(1))


def deliver(service, clock) -> list[dict[str, str]]:
    """The worker's runs over the next seconds; the SMS they sent."""
    before = len(service.sent())
    service.worker.run_once()
    clock.advance(timedelta(seconds=5))
    service.worker.run_once()
    return service.sent()[before:]


# --- composing and sending -----------------------------------------------------------------------
def test_the_compose_page_ships_its_script_under_a_strict_policy(admin):
    page = admin.get("/staff/broadcasts/new")
    assert page.status_code == 200
    text = page.text
    assert '<script src="/static/broadcast.js" defer></script>' in text
    assert not re.search(r"<script(?![^>]*\bsrc=)", text), "no inline script"
    assert not re.search(r"\son[a-z]+=", text), "no inline event handler"
    assert not re.search(r"\sstyle=", text), "no inline style"
    assert f'data-price="{PRICE}"' in text and 'data-template-price="320"' in text
    assert 'data-recipients-url="/staff/broadcasts/recipients"' in text
    assert 'name="csrf_token"' in text
    for value in ("all", "kecamatan:01", "kecamatan:06", "stage:print_queue"):
        assert f'<option value="{value}">' in text  # none of them chosen
    assert '<option value="" selected disabled>Pilih penerima' in text  # the admin chooses
    assert 'name="action" value="send"' not in text  # nothing is sent from the form itself
    script = admin.get("/static/broadcast.js")
    assert script.status_code == 200 and "javascript" in script.headers["Content-Type"]


def test_every_element_the_script_looks_for_is_on_the_page(admin):
    page = admin.get("/staff/broadcasts/new").text
    script = BROADCAST_JS.read_text("utf-8")
    ids = set(re.findall(r'querySelector\("#([a-z-]+)"\)', script))
    ids |= set(re.findall(r'getElementById\("([a-z-]+)"\)', script))
    outputs = set(re.findall(r'setText\([a-z]+, "([a-z]+)"', script))
    datasets = set(re.findall(r"dataset\.([a-zA-Z]+)", script)) - {"confirm"}
    assert {"broadcast-form", "broadcast-text", "broadcast-audience"} <= ids
    assert {"segments", "cost", "recipients"} <= outputs and {"price", "recipientsUrl"} <= datasets
    for name in ids:
        assert f'id="{name}"' in page, name
    for name in outputs:
        assert f'data-out="{name}"' in page, name
    for name in datasets:
        attribute = re.sub(r"([A-Z])", lambda m: "-" + m.group(1).lower(), name)
        assert f"data-{attribute}=" in page, name


def test_the_recipient_count_for_the_live_preview(admin, phones):
    def recipients(audience: str):
        return admin.get("/staff/broadcasts/recipients", params={"audience": audience})

    def by_sms(count: int) -> dict[str, int]:  # the WhatsApp channel is off: all by SMS
        return {"recipients": count, "sms": count, "whatsapp_template": 0, "whatsapp_free": 0}

    assert recipients("all").json() == by_sms(3)
    assert recipients("kecamatan:01").json() == by_sms(2)  # one opted out
    assert recipients("kecamatan:02").json() == by_sms(1)
    assert recipients("stage:submitted").json() == by_sms(0)
    wrong = recipients("kecamatan:99")
    assert wrong.status_code == 400 and "error" in wrong.json()


def test_admin_previews_sends_and_follows_a_broadcast(service, database, clock, admin, phones):
    text = "\u201cKantor\u201d Disdukcapil tutup Jumat \u2013 buka lagi Senin."
    preview = compose(admin, "preview", text)
    assert preview.status_code == 200
    shown = html.unescape(preview.text)
    assert ('<blockquote class="sms" id="broadcast-sms">"Kantor" Disdukcapil tutup Jumat - buka '
            'lagi Senin.</blockquote>') in shown
    assert "\u201c \u2192 \"" in shown and "\u2013 \u2192 -" in shown  # what was replaced
    assert '<strong data-confirm-out="recipients">2</strong> nomor HP' in preview.text
    assert "Kecamatan Bogor Selatan" in preview.text
    assert '<strong data-confirm-out="segments">1 SMS</strong>' in preview.text
    assert '<strong data-confirm-out="cost">Rp 700</strong>' in preview.text  # 1 x 2 x Rp 350
    assert "Ya, kirim ke 2 keluarga" in preview.text and "accept_parts" not in preview.text
    assert rows(database, Broadcast.__table__) == []  # a preview saves nothing

    sent = send(admin, text)
    assert sent.status_code == 200 and sent.url.endswith("/staff/broadcasts/1")
    assert "Siaran dijadwalkan" in sent.text
    # due: it starts soon; the page offers fresh figures and never reloads itself
    assert "Perbarui angka" in sent.text and "http-equiv" not in sent.text
    [broadcast] = rows(database, Broadcast.__table__)
    assert (broadcast.text, broadcast.audience, broadcast.audience_value, broadcast.status,
            broadcast.created_by, broadcast.recipients) == (
        '"Kantor" Disdukcapil tutup Jumat - buka lagi Senin.', "kecamatan", "01", "scheduled",
        "staff:admin", 2)
    assert audit(database) == [("staff:admin", "broadcast.create", "broadcast 1")]

    delivered = deliver(service, clock)
    assert sorted((sms["to"], sms["text"]) for sms in delivered) == [
        (phones[0], broadcast.text), (phones[1], broadcast.text)]

    page = admin.get("/staff/broadcasts/1")
    assert page.status_code == 200
    assert (count(page.text, "recipients"), count(page.text, "queued"),
            count(page.text, "waiting"), count(page.text, "sent"),
            count(page.text, "delivered"), count(page.text, "failed")) == (2, 2, 0, 2, 0, 0)
    assert '<progress id="progress" max="2" value="2">' in page.text
    assert "selesai" in page.text
    assert "http-equiv" not in page.text  # nothing left to follow
    assert "Batalkan siaran" not in page.text
    assert "Rp 700" in page.text

    listing = admin.get("/staff/broadcasts")
    assert listing.status_code == 200
    assert 'href="/staff/broadcasts/1"' in listing.text
    assert "Kecamatan Bogor Selatan" in listing.text and "selesai" in listing.text
    assert 'href="/staff/broadcasts/new"' in listing.text
    assert ">Siaran SMS</a>" in listing.text  # the menu entry


def test_two_parts_are_sent_only_when_the_admin_says_they_know(database, admin, phones):
    text = "Pengumuman " * 20  # 219 characters after trimming: two parts
    preview = compose(admin, "preview", text, audience="all")
    assert segments(text.strip()) == 2
    assert '<strong data-confirm-out="segments">2 SMS</strong>' in preview.text
    assert '<strong data-confirm-out="cost">Rp 2.100</strong>' in preview.text  # 2 x 3 x 350
    assert ("Saya mengerti pesan ini terkirim sebagai 2 SMS per keluarga, dengan biaya Rp 2.100"
            in preview.text)
    unticked = send(admin, text, audience="all", accept=False)
    assert unticked.status_code == 422 and "Centang pernyataan" in unticked.text
    assert rows(database, Broadcast.__table__) == [] and audit(database) == []
    assert send(admin, text, audience="all").url.endswith("/staff/broadcasts/1")
    [broadcast] = rows(database, Broadcast.__table__)
    assert broadcast.text == text.strip()  # whole: never cut


def test_sending_without_the_confirmation_page_shows_it_first(database, admin, phones):
    direct = compose(admin, "send", audience="all")
    assert direct.status_code == 200 and "Periksa sebelum mengirim" in direct.text
    assert rows(database, Broadcast.__table__) == []
    edit = admin.post("/staff/broadcasts/new", {**confirmation_form(direct.text),
                                                "action": "edit"})
    assert edit.status_code == 200 and "Tulis siaran SMS" in edit.text
    assert f">{TEXT}</textarea>" in edit.text and '<option value="all" selected>' in edit.text


def test_an_audience_grown_since_the_confirmation_is_confirmed_again(database, admin, phones):
    confirm = compose(admin, "preview", audience="all")
    form = confirmation_form(confirm.text)
    assert form["confirmed_recipients"] == "3"
    add_family(database, 5, "02")
    again = admin.post("/staff/broadcasts/new", {**form, "action": "send"})
    assert again.status_code == 409
    assert "Jumlah penerima berubah dari 3 menjadi 4" in again.text
    assert '<strong data-confirm-out="cost">Rp 1.400</strong>' in again.text
    assert rows(database, Broadcast.__table__) == []
    sent = admin.post("/staff/broadcasts/new", {**confirmation_form(again.text),
                                                "action": "send"})
    assert sent.url.endswith("/staff/broadcasts/1")
    assert rows(database, Broadcast.__table__)[0].recipients == 4


def test_a_broadcast_for_a_later_wib_time_waits_for_it(service, database, clock, admin, phones):
    # the clock says Monday 30 November 2026, 09:00 WIB
    page = send(admin, audience="all", when="later", send_at="2026-11-30T14:00")
    assert page.status_code == 200
    assert "Dijadwalkan untuk 30 Nov 2026 14.00 WIB" in page.text
    assert "http-equiv" not in page.text
    [broadcast] = rows(database, Broadcast.__table__)
    assert broadcast.send_at == datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
    assert deliver(service, clock) == []
    clock.set(datetime(2026, 11, 30, 7, 0, tzinfo=UTC))
    assert sorted(sms["to"] for sms in deliver(service, clock)) == [phones[0], phones[1],
                                                                     phones[3]]


@pytest.mark.parametrize(("form", "message"), [
    ({"text": "  "}, "Tulis isi pesan siaran."),
    ({"text": "x" * 500}, "Pesan terlalu panjang: 4 SMS."),
    ({"text": "x" * 2500}, "Pesan terlalu panjang: 2500 karakter."),
    ({"audience": ""}, "Pilih penerima siaran"),
    ({"audience": "kecamatan:09"}, "Pilih penerima siaran"),
    ({"when": "later", "send_at": "besok"}, "Waktu kirim tidak terbaca"),
    ({"when": "later", "send_at": "2026-11-30T08:00"}, "Waktu kirim sudah lewat"),
    ({"audience": "stage:collected"}, "Tidak ada penerima"),
])
def test_a_wrong_form_is_shown_again_with_the_reason(database, admin, phones, form, message):
    page = compose(admin, "preview", **form)
    assert page.status_code == 422
    assert message in page.text and 'role="alert"' in page.text
    assert compose(admin, "send", **form).status_code == 422
    assert rows(database, Broadcast.__table__) == []
    assert audit(database) == []


def test_cancel_from_the_progress_page_stops_the_rest(service, database, clock, admin, phones):
    send(admin, audience="all")
    service.worker.run_once()  # 3 queued 0.2 s apart at 5 per second: the first one leaves
    assert len(service.sent()) == 1
    page = admin.get("/staff/broadcasts/1")
    assert "Batalkan siaran" in page.text and 'data-confirm="Batalkan siaran 1?' in page.text
    assert (count(page.text, "queued"), count(page.text, "waiting"),
            count(page.text, "sent")) == (3, 2, 1)

    cancelled = admin.post("/staff/broadcasts/1/cancel")
    assert cancelled.status_code == 200 and cancelled.url.endswith("/staff/broadcasts/1")
    assert "Siaran dibatalkan. 2 SMS yang belum terkirim tidak akan dikirim." in cancelled.text
    assert "dibatalkan" in cancelled.text and "Batalkan siaran" not in cancelled.text
    assert audit(database)[-1] == ("staff:admin", "broadcast.cancel", "broadcast 1")
    assert deliver(service, clock) == []
    assert len(service.sent()) == 1

    again = admin.post("/staff/broadcasts/1/cancel")
    assert "sudah dibatalkan" in again.text


# --- the channels --------------------------------------------------------------------------------
@pytest.fixture
def whatsapp_service(whatsapp_service) -> LiveService:
    """The service with `[gateway.whatsapp]` on (the fake Graph API) and a broadcast
    template."""
    def template(settings: Settings) -> None:
        settings.gateway.whatsapp.templates = {
            "broadcast": {"name": "pengumuman", "language": "id"}}

    return whatsapp_service(template)


@pytest.fixture
def by_channel(database, clock) -> dict[str, str]:
    """Families of Bogor Selatan by the channel they last wrote on: WhatsApp an hour ago (its
    window open until tomorrow 08.00 WIB), WhatsApp 30 hours ago, WhatsApp then SMS, never
    WhatsApp; and one opted out that wrote on WhatsApp an hour ago."""
    now = clock.now()
    named = {"open": add_family(database, 11, "01"), "closed": add_family(database, 12, "01"),
             "sms_since": add_family(database, 13, "01"), "never": add_family(database, 14, "01"),
             "opted_out": add_family(database, 15, "01", opted_out=True)}
    with database.connect() as connection:
        for name, hours in (("open", 1), ("closed", 30), ("sms_since", 2), ("opted_out", 1)):
            note_contact(connection, named[name], (now - timedelta(hours=hours)).isoformat(), now)
        connection.execute(insert(InboundMessage.__table__).values(
            provider="africastalking", provider_id="ATXid_1", sender=named["sms_since"],
            text="STATUS", received_at=now - timedelta(hours=1)))
    return named


def channel_line(page: str, channel: str) -> str:
    found = re.search(rf'<dd data-channel="{channel}">(.*?)</dd>', page)
    assert found is not None, channel
    return html.unescape(found.group(1)).replace("<strong>", "").replace("</strong>", "")


def cost_shown(page: str, which: str) -> str:
    found = re.search(rf'<dd data-cost="{which}">(.*?)</dd>', page)
    assert found is not None, which
    return html.unescape(found.group(1))


def test_the_live_preview_counts_the_families_by_channel_as_of_now(
        database, clock, whatsapp_service, by_channel):
    admin = signed_in(whatsapp_service, database, "admin", "admin")
    answer = admin.get("/staff/broadcasts/recipients", params={"audience": "kecamatan:01"})
    # The family in its window gets a free text, the one outside it the template, the family
    # that wrote by SMS since and the one that never used WhatsApp an SMS; one opted out.
    assert answer.json() == {"recipients": 4, "sms": 2, "whatsapp_template": 1,
                             "whatsapp_free": 1}


def test_the_confirmation_splits_families_and_cost_by_channel(
        database, clock, whatsapp_service, graph, by_channel):
    admin = signed_in(whatsapp_service, database, "admin", "admin")
    preview = compose(admin, "preview")
    assert preview.status_code == 200
    page = preview.text
    assert '<strong data-confirm-out="recipients">4</strong> nomor HP' in page
    assert channel_line(page, "sms") == "2 keluarga \u00d7 1 SMS \u00d7 Rp 350 = Rp 700"
    assert channel_line(page, "whatsapp-template") == (
        "1 keluarga (di luar jendela 24 jam) \u00d7 Rp 320 = Rp 320")
    assert channel_line(page, "whatsapp-free") == "1 keluarga (dalam jendela 24 jam) = Rp 0"
    assert '<strong data-confirm-out="cost">Rp 1.020</strong>' in page  # 2 x 350 + 320

    sent = send(admin)
    assert sent.url.endswith("/staff/broadcasts/1")
    scheduled = sent.text  # due now: the estimate by channel, nothing spent yet
    assert channel_line(scheduled, "whatsapp-template").startswith("1 keluarga")
    assert cost_shown(scheduled, "estimate") == (
        "Rp 1.020 (menurut saluran tiap keluarga saat ini)")
    assert cost_shown(scheduled, "spent") == "Rp 0"
    with database.connect() as connection:
        [entry] = connection.execute(select(AuditEntry.__table__.c.detail).where(
            AuditEntry.__table__.c.action == "broadcast.create")).scalars()
    assert "2 SMS, 1 WhatsApp template, 1 WhatsApp gratis; perkiraan biaya Rp 1.020" in entry

    # What the families receive: the text in the window, the template outside it, SMS else.
    texts = [(sms["to"], sms["text"]) for sms in deliver(whatsapp_service, clock)]
    assert sorted(texts) == [(by_channel["sms_since"], TEXT), (by_channel["never"], TEXT)]
    assert graph.texts_to(by_channel["open"]) == [TEXT]
    [template] = graph.sent_to(by_channel["closed"])
    assert template.body["template"]["name"] == "pengumuman"
    assert template.body["template"]["components"][0]["parameters"] == [
        {"type": "text", "text": TEXT}]

    done = admin.get("/staff/broadcasts/1").text
    assert (count(done, "queued"), count(done, "sent"), count(done, "waiting")) == (4, 4, 0)
    assert 'data-cost="estimate"' not in done and 'data-channel=' not in done  # all went
    # The text inside the window was free; the template is billed.
    assert cost_shown(done, "spent") == (
        "Rp 1.020 (2 keluarga lewat SMS: Rp 700; 2 lewat WhatsApp, 1 di antaranya template: "
        "Rp 320)")


def test_a_later_broadcast_counts_the_windows_as_they_will_be(
        database, clock, whatsapp_service, by_channel):
    admin = signed_in(whatsapp_service, database, "admin", "admin")
    # Tomorrow 09.00 WIB the window of the family that wrote an hour ago has closed.
    preview = compose(admin, "preview", when="later", send_at="2026-12-01T09:00")
    assert channel_line(preview.text, "sms").startswith("2 keluarga")
    assert channel_line(preview.text, "whatsapp-template") == (
        "2 keluarga (di luar jendela 24 jam) \u00d7 Rp 320 = Rp 640")
    assert channel_line(preview.text, "whatsapp-free").startswith("0 keluarga")
    assert '<strong data-confirm-out="cost">Rp 1.340</strong>' in preview.text
    page = send(admin, when="later", send_at="2026-12-01T09:00").text
    assert "Dijadwalkan untuk 1 Des 2026 09.00 WIB" in page
    assert cost_shown(page, "estimate") == (
        "Rp 1.340 (menurut saluran tiap keluarga saat mulai kirim)")
    # Today it would still be free: the confirmation for now says so.
    assert channel_line(compose(admin, "preview").text, "whatsapp-free").startswith(
        "1 keluarga")


def test_without_a_broadcast_template_outside_the_window_is_sms(
        database, whatsapp_service, by_channel):
    whatsapp_service.runtime.settings.gateway.whatsapp.templates = {}
    admin = signed_in(whatsapp_service, database, "admin", "admin")
    page = compose(admin, "preview").text
    assert channel_line(page, "sms") == "3 keluarga \u00d7 1 SMS \u00d7 Rp 350 = Rp 1.050"
    assert channel_line(page, "whatsapp-template") == (
        "belum ada template siaran: keluarga di luar jendela 24 jam menerima SMS")
    assert channel_line(page, "whatsapp-free").startswith("1 keluarga")
    assert '<strong data-confirm-out="cost">Rp 1.050</strong>' in page


def test_with_the_whatsapp_channel_off_every_family_is_an_sms(database, admin, by_channel):
    page = compose(admin, "preview").text
    assert "data-channel=" not in page
    assert '<strong data-confirm-out="recipients">4</strong> nomor HP' in page
    assert '<strong data-confirm-out="cost">Rp 1.400</strong>' in page  # 4 x Rp 350
    detail = send(admin).text
    assert "data-channel=" not in detail
    assert cost_shown(detail, "estimate") == "Rp 1.400 (1 \u00d7 4 penerima)"


# --- who may -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("role", "office"), [("operator", "01"), ("viewer", None),
                                              ("helper", "3271011001")])
def test_other_roles_are_refused(service, database, clock, admin, phones, role, office):
    send(admin, audience="all")
    browser = signed_in(service, database, f"user-{role}", role, office)
    for path in ("/staff/broadcasts", "/staff/broadcasts/new", "/staff/broadcasts/1",
                 "/staff/broadcasts/recipients?audience=all"):
        assert browser.get(path).status_code == 403, path
    assert compose(browser, "send", audience="all").status_code == 403
    assert browser.post("/staff/broadcasts/1/cancel").status_code == 403
    assert len(rows(database, Broadcast.__table__)) == 1
    assert rows(database, Broadcast.__table__)[0].status == "scheduled"
    assert "Siaran SMS" not in browser.get("/staff/broadcasts").text


def test_a_stranger_is_sent_to_the_login_page(service):
    browser = StaffBrowser(service.base_url)
    page = browser.get("/staff/broadcasts/new", allow_redirects=False)
    assert page.status_code == 302 and "/staff/login" in page.headers["Location"]


def test_a_post_without_the_csrf_token_is_refused(database, admin, phones):
    assert compose(admin, "send", audience="all", csrf=False).status_code == 400
    assert rows(database, Broadcast.__table__) == []
    send(admin, audience="all")
    assert admin.post("/staff/broadcasts/1/cancel", csrf=False).status_code == 400
    assert admin.post("/staff/broadcasts/1/cancel",
                      {"csrf_token": "not-the-token"}).status_code == 400
    assert rows(database, Broadcast.__table__)[0].status == "scheduled"


# --- the script's arithmetic ---------------------------------------------------------------------
SAMPLES = ["", "Halo", "x" * 160, "x" * 161, "x" * 306, "x" * 307, "{" * 80, "{" * 81,
           "Harga \u20ac5 [diskon]~^|\\", "\u00e9\u00e8\u00e0 \u00c4\u00d6\u00dc \u0394\u03a9",
           "line\nbreak\r\n\u000c", "\u201ckutip\u201d", "e\u0301", "\u00ea" * 70,
           "\u00ea" * 71, "\U0001f600 emoji", "\U0001f600" * 35, "\U0001f600" * 36,
           "x" * 459 + "\u00e7", "\u00c7"]


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js to run broadcast.js")
def test_the_script_counts_like_flows_gsm():
    from gsm7.encoding import _BASIC, _EXTENSION

    program = ("const m = require(process.argv[1]);"
               "const samples = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
               "console.log(JSON.stringify({basic: m.BASIC, extension: m.EXTENSION,"
               " rupiah: m.rupiah(1234567), figures: samples.map(m.measure)}));")
    result = subprocess.run(["node", "-e", program, str(BROADCAST_JS)], check=True,
                            input=json.dumps(SAMPLES), capture_output=True, text=True,
                            timeout=30)
    answer = json.loads(result.stdout)
    assert set(answer["basic"]) == _BASIC and len(answer["basic"]) == len(_BASIC)
    assert set(answer["extension"]) == _EXTENSION
    assert answer["rupiah"] == "Rp 1.234.567"
    for text, figures in zip(SAMPLES, answer["figures"], strict=True):
        length = septets(text)
        assert figures["segments"] == segments(text), text
        assert figures["characters"] == len(text), text
        assert figures["encoding"] == ("GSM-7" if length is not None else "UCS-2"), text
        assert figures["units"] == (length if length is not None
                                    else len(text.encode("utf-16-le")) // 2), text


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js to run broadcast.js")
def test_the_script_s_estimate_is_the_confirmation_s():
    splits = [ChannelSplit(sms=3), ChannelSplit(sms=2, whatsapp_template=1, whatsapp_free=1),
              ChannelSplit(whatsapp_free=4), ChannelSplit(sms=1000, whatsapp_template=250)]
    text = "x" * 200  # two parts
    program = ("const m = require(process.argv[1]);"
               "const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
               "console.log(JSON.stringify(cases.map(c => m.cost(2, c, 350, 320))));")
    counted = [{"recipients": split.recipients, "sms": split.sms,
                "whatsapp_template": split.whatsapp_template,
                "whatsapp_free": split.whatsapp_free} for split in splits]
    counted.append({"recipients": 7})  # an answer without the channels: all by SMS
    result = subprocess.run(["node", "-e", program, str(BROADCAST_JS)], check=True,
                            input=json.dumps(counted), capture_output=True, text=True,
                            timeout=30)
    assert json.loads(result.stdout) == [
        *(split.cost(text, 350, 320) for split in splits), 2 * 7 * 350]

