"""The dashboard page over real HTTP: the figures a member of staff reads, the scope an operator
is held to, and who may open it."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from sqlalchemy import insert
from staff_browser import StaffBrowser, make_staff

from sms_ktp.models import Application, BlangkoMovement, Family, OutboxMessage

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # the clock fixture: Monday 09:00 WIB
WIB = timedelta(hours=7)
_numbers = itertools.count(1)


def wib(hour: int, minute: int = 0) -> datetime:
    """Today at this wall-clock time in Bogor."""
    return datetime(2026, 11, 30, hour, minute, tzinfo=UTC) - WIB


def add_family(database, kecamatan: str, phone: str) -> int:
    serial = next(_numbers)
    with database.connect() as connection:
        return connection.execute(insert(Family.__table__).values(
            kk=f"3271{kecamatan}{serial:010d}", phone=phone, kecamatan_code=kecamatan,
            created_at=NOW).returning(Family.__table__.c.id)).scalar_one()


def add_applications(database, family_id: int, stage: str, count: int, **values) -> list[str]:
    rows = []
    for _ in range(count):
        serial = next(_numbers)
        rows.append({"reference": f"{serial:09d}", "nik": f"32710145019{serial:05d}",
                     "family_id": family_id, "reason": "baru", "stage": stage,
                     "language": "id", "channel": "sms", "created_at": NOW, "updated_at": NOW,
                     **values})
    with database.connect() as connection:
        connection.execute(insert(Application.__table__), rows)
    return [row["nik"] for row in rows]


def add_sms(database, phone: str, status: str, segments: int) -> None:
    with database.connect() as connection:
        connection.execute(insert(OutboxMessage.__table__).values(
            uid=f"uid{next(_numbers)}", phone=phone, text="Halo", segments=segments,
            status=status, next_attempt_at=NOW, created_at=NOW))


@pytest.fixture
def city(service) -> dict[str, list[str]]:
    """Kecamatan 01 and 06 with cards in every part of the pipeline; returns the NIKs."""
    database = service.runtime.db
    selatan = add_family(database, "01", "+6281234567890")
    sareal = add_family(database, "06", "+6285711112222")
    niks = {
        "01": add_applications(database, selatan, "submitted", 3)
        + add_applications(database, selatan, "print_queue", 4, ready_at=NOW)
        + add_applications(database, selatan, "pickup_scheduled", 2, pickup_office="01",
                           pickup_at=wib(8), printed_at=wib(7))
        + add_applications(database, selatan, "collected", 1, pickup_office="01",
                           pickup_at=wib(8, 30), collected_at=wib(8, 40), printed_at=wib(7)),
        "06": add_applications(database, sareal, "print_queue", 3, ready_at=NOW)
        + add_applications(database, sareal, "pickup_scheduled", 5, pickup_office="06",
                           pickup_at=wib(13)),
    }
    with database.connect() as connection:
        connection.execute(insert(BlangkoMovement.__table__).values(
            site="disdukcapil", delta=5, reason="added", actor="test", at=NOW))
    add_sms(database, "+6281234567890", "delivered", 2)
    add_sms(database, "+6281234567890", "failed", 1)
    add_sms(database, "+6285711112222", "queued", 3)
    return niks


class Tables(HTMLParser):
    """Every table of a page as rows of cell texts (th and td alike)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th") and self.tables:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def row(self, first_cell: str) -> list[str]:
        return next(row for table in self.tables for row in table
                    if row and row[0] == first_cell)


def words(html: str) -> str:
    """The page's text as a reader sees it: no tags, single spaces."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def open_dashboard(service, username: str, role: str, office: str | None = None):
    make_staff(service.runtime.db, username, role, office)
    browser = StaffBrowser(service.base_url)
    assert browser.login(username).status_code == 200
    page = browser.get("/staff/")
    assert page.status_code == 200, page.text
    return page


def test_a_viewer_sees_the_whole_city(service, city):
    page = open_dashboard(service, "viewer1", "viewer")
    text, tables = words(page.text), Tables(page.text)

    assert "Cakupan: seluruh Kota Bogor" in text
    stages = tables.row("Kecamatan")
    column = {name: index for index, name in enumerate(stages)}
    selatan, sareal = tables.row("01 Bogor Selatan"), tables.row("06 Tanah Sareal")
    assert selatan[column["diterima"]] == "3" and selatan[column["antre cetak"]] == "4"
    assert selatan[column["siap ambil"]] == "2" and selatan[column["diambil"]] == "1"
    assert selatan[column["Jumlah"]] == "10"
    assert sareal[column["antre cetak"]] == "3" and sareal[column["Jumlah"]] == "8"
    assert tables.row("03 Bogor Tengah")[column["Jumlah"]] == "0"
    assert tables.row("Jumlah")[column["antre cetak"]] == "7"

    # 7 cards wait, 5 blangko are free: the page says so plainly.
    assert "Blangko tidak cukup" in text and "kurang 2" in text
    assert tables.row("disdukcapil") == ["disdukcapil", "5", "0", "5"]

    # Pickups today: booked, collected, still to come, missed (the 08:00 slot is over at 09:00).
    assert tables.row("Kantor Kec. Bogor Selatan") == ["Kantor Kec. Bogor Selatan",
                                                       "3", "1", "0", "2"]
    assert tables.row("Kantor Kec. Tanah Sareal") == ["Kantor Kec. Tanah Sareal",
                                                      "5", "0", "5", "0"]
    assert "Pengambilan hari ini, 30 Nov 2026" in text

    # SMS today: 3 SMS, 6 segments at Rp 350.
    assert "Perkiraan biaya Rp 2.100" in text and "Rp 350 per segmen" in text
    assert "Gagal 1" in text and "Diterima 1" in text and "Menunggu kirim 1" in text

    # Three charts, drawn on the server, well-formed, and a table of the same figures.
    charts = re.findall(r"<svg.*?</svg>", page.text, re.S)
    assert len(charts) == 3
    titles = [ET.fromstring(svg).find("{http://www.w3.org/2000/svg}title").text
              for svg in charts]
    assert titles == ["Pendaftaran per hari", "Kartu dicetak per hari", "Diambil per hari"]
    # New applications in all and per document (KTP-el, KK, akta lahir, akta mati, KIA).
    assert tables.row("30 Nov 2026") == ["30 Nov 2026", "18", "18", "0", "0", "0", "0", "3",
                                         "1"]
    # No script written into the page (the charts are drawn on the server), nothing fetched
    # from elsewhere.
    assert not re.search(r"<script(?![^>]*\bsrc=\"/static/)", page.text)
    assert "http://" not in page.text.replace("http://www.w3.org/2000/svg", "")

    for nik in city["01"] + city["06"]:
        assert nik not in page.text


def test_an_operator_sees_only_their_office(service, city):
    page = open_dashboard(service, "operator6", "operator", "06")
    text, tables = words(page.text), Tables(page.text)

    assert "Cakupan: Kecamatan 06 Tanah Sareal (hanya angka kantor Anda)" in text
    column = {name: index for index, name in enumerate(tables.row("Kecamatan"))}
    assert tables.row("06 Tanah Sareal")[column["Jumlah"]] == "8"
    assert "Bogor Selatan" not in text  # neither its kecamatan row nor its office
    assert tables.row("Kantor Kec. Tanah Sareal")[1:] == ["5", "0", "5", "0"]
    # Its own print queue, and the city's against the shared blangko: the 5 free blangko go
    # to the oldest-ready cards first, 4 of Bogor Selatan's and 1 of Tanah Sareal's; its 2
    # others wait for blangko.
    assert "Menunggu blangko (kecamatan Anda) 2" in text
    assert "Menunggu batch cetak (kecamatan Anda) 1" in text
    assert "Antre cetak (seluruh kota) 7" in text
    # Only SMS to the families of kecamatan 06.
    assert "Perkiraan biaya Rp 1.050" in text and "Gagal 0" in text
    assert tables.row("30 Nov 2026") == ["30 Nov 2026", "8", "8", "0", "0", "0", "0", "0",
                                         "0"]


def test_an_admin_sees_the_city_and_the_menu_leads_there(service, city):
    page = open_dashboard(service, "admin1", "admin")
    assert "Cakupan: seluruh Kota Bogor" in words(page.text)
    assert re.search(r'<a href="/staff/"[^>]*aria-current="page"[^>]*>Ringkasan</a>', page.text)


def test_an_empty_service_shows_zeros_not_errors(service):
    page = open_dashboard(service, "viewer1", "viewer")
    text = words(page.text)
    assert "Blangko tidak cukup" not in text and "cukup untuk antrean" in text
    assert "Perkiraan biaya Rp 0" in text
    assert page.text.count("<svg") == 3


def test_a_helper_is_refused(service):
    make_staff(service.runtime.db, "helper1", "helper", "3271011001")
    browser = StaffBrowser(service.base_url)
    browser.login("helper1")
    response = browser.get("/staff/")
    assert response.status_code == 403
    assert "Cakupan" not in response.text


def test_a_stranger_is_sent_to_the_login_page(service):
    response = StaffBrowser(service.base_url).get("/staff/", allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/staff/login?next=/staff/")


def test_the_figures_split_by_document_and_one_document_chosen(service, city):
    database = service.runtime.db
    selatan = add_family(database, "01", "+6281299990000")
    add_applications(database, selatan, "submitted", 2, document="kk", reason="pisah")
    add_applications(database, selatan, "signed", 1, document="kk", reason="hilang")
    add_applications(database, selatan, "papers_checked", 2, document="kia")
    page = open_dashboard(service, "viewer1", "viewer")
    tables = Tables(page.text)
    header = next(table[0] for table in tables.tables if table[0][0] == "Dokumen")
    column = {name: index for index, name in enumerate(header)}
    ktp, kk, kia = tables.row("KTP-el"), tables.row("KK"), tables.row("KIA")
    assert ktp[column["diterima"]] == "3" and ktp[column["Jumlah"]] == "18"
    assert kk[column["diterima"]] == "2" and kk[column["sudah TTE"]] == "1"
    assert kk[column["penunggalan"]] == "–" and ktp[column["sudah TTE"]] == "–"
    assert kia[column["berkas lengkap"]] == "2" and kia[column["Jumlah"]] == "2"
    assert tables.row("Akta Kematian")[column["Jumlah"]] == "0"
    assert tables.row("30 Nov 2026")[:7] == ["30 Nov 2026", "23", "18", "3", "0", "0", "2"]

    # The KK alone: its stages per kecamatan, its charts (a PDF: none of printed cards).
    browser = StaffBrowser(service.base_url)
    browser.login("viewer1")
    only = browser.get("/staff/", params={"document": "kk"})
    text, tables = words(only.text), Tables(only.text)
    assert "dokumen KK" in text and "Permohonan per tahap dan kecamatan: KK" in text
    header = tables.row("Kecamatan")
    assert header[1:-1] == ["diterima", "berkas lengkap", "sudah TTE", "siap diunduh",
                            "diambil", "ditolak", "batal"]
    assert tables.row("01 Bogor Selatan")[-1] == "3"
    titles = [ET.fromstring(svg).find("{http://www.w3.org/2000/svg}title").text
              for svg in re.findall(r"<svg.*?</svg>", only.text, re.S)]
    assert titles == ["Pendaftaran per hari (KK)", "Dokumen diserahkan per hari (KK)"]
    assert tables.row("30 Nov 2026") == ["30 Nov 2026", "3", "0"]
    # An unknown document is no filter.
    assert "Cakupan" in browser.get("/staff/", params={"document": "pindah"}).text


def test_kia_cards_wait_for_kia_blangko_and_are_counted_apart(service, city):
    """A KIA is printed on KIA blangko: the KTP-el's figures stay as they were, the KIA's stand
    beside them, and each figure links to as many applications."""
    database = service.runtime.db
    selatan = add_family(database, "01", "+6281299990001")
    add_applications(database, selatan, "print_queue", 3, document="kia",
                     details={"birth_date": "2019-03-12"}, ready_at=NOW)
    with database.connect() as connection:
        connection.execute(insert(BlangkoMovement.__table__).values(
            site="disdukcapil", card="kia", delta=1, reason="added", actor="test", at=NOW))
    make_staff(database, "admin1", "admin")
    browser = StaffBrowser(service.base_url)
    browser.login("admin1")
    page = browser.get("/staff/")
    text, tables = words(page.text), Tables(page.text)
    # 7 KTP-el against 5 KTP-el blangko, 3 KIA against 1 KIA blangko.
    assert "Blangko KTP-el tidak cukup. 7 KTP-el di seluruh kota" in text and "kurang 2" in text
    assert "Blangko KIA tidak cukup. 3 KIA di seluruh kota" in text
    assert "Menunggu blangko KTP-el 2" in text and "Menunggu batch cetak KTP-el 5" in text
    assert "Menunggu blangko KIA 2" in text and "Menunggu batch cetak KIA 1" in text
    assert "Blangko KIA bebas 1" in text
    assert tables.row("disdukcapil") == ["disdukcapil", "KTP-el", "5", "0", "5"]
    assert [row for table in tables.tables for row in table
            if row[:2] == ["disdukcapil", "KIA"]] == [["disdukcapil", "KIA", "1", "0", "1"]]
    for document, wait, count in (("ktp", "blangko", 2), ("ktp", "batch", 5),
                                  ("kia", "blangko", 2), ("kia", "batch", 1)):
        [link] = {href for href in re.findall(r'href="(/staff/applications\?[^"]+)"', page.text)
                  if sorted(href.split("?")[1].split("&amp;")) == [f"document={document}",
                                                                    f"wait={wait}"]}
        listed = words(browser.get(link.replace("&amp;", "&")).text)
        assert f"{count} permohonan sesuai filter" in listed, (document, wait)


def test_before_any_kia_the_printing_figures_are_the_ktp_els_alone(service, city):
    page = open_dashboard(service, "viewer2", "viewer")
    text = words(page.text)
    assert "KIA" not in text.split("Antrean cetak dan stok blangko")[1].split("Pengambilan")[0]
    assert "Menunggu blangko 2" in text


def test_messages_per_channel_and_their_cost(service):
    """Today's and the last 30 days' messages out by SMS and by WhatsApp, each at its price: an
    SMS per segment, a WhatsApp message once when it went as a template (a reply or a text
    inside the 24 hours after the resident wrote is free) and did not fail."""
    service.runtime.settings.whatsapp.cost_per_message = 500
    add_sms(service.runtime.db, "+6281234567890", "delivered", 2)  # SMS: 2 segments
    with service.runtime.db.connect() as connection:
        connection.execute(insert(OutboxMessage.__table__), [
            {"uid": f"uid{next(_numbers)}", "phone": "+6285711112222", "text": "Halo",
             "segments": 1, "status": status, "kind": kind, "channel": "whatsapp",
             "provider": "whatsapp", "next_attempt_at": NOW, "created_at": created_at,
             "template": template}
            for status, kind, created_at, template in (
                ("read", "reply", NOW, None),  # free
                ("delivered", "notification", NOW, "ktp_jadwal_ambil"),  # billed
                ("delivered", "notification", NOW, None),  # a text in the window: free
                ("failed", "notification", NOW, "ktp_jadwal_ambil"),  # not billed
                ("delivered", "notification", NOW - timedelta(days=3),
                 "ktp_jadwal_ambil"))])  # billed, days ago

    page = open_dashboard(service, "viewer1", "viewer")
    text, tables = words(page.text), Tables(page.text)

    assert tables.row("SMS") == ["SMS", "1", "1", "0", "2 segmen", "Rp 700", "1", "Rp 700"]
    assert tables.row("WhatsApp") == ["WhatsApp", "4", "3", "1", "1 pesan", "Rp 500", "5",
                                      "Rp 1.000"]
    assert "SMS 1 · WhatsApp 4 · perkiraan biaya Rp 1.200" in text  # the card at the top
    assert "Perkiraan biaya Rp 1.200 Rp 350 per segmen SMS" in text
    assert "Rp 500 per pesan, hanya untuk pemberitahuan dan siaran" in text
    assert "Balasan dan pesan lain dalam 24 jam sejak warga menulis tidak dihitung" in text


def test_an_operator_sees_the_channels_of_their_kecamatan_only(service):
    add_family(service.runtime.db, "06", "+6285711112222")
    add_sms(service.runtime.db, "+6281234567890", "delivered", 1)  # another kecamatan's phone
    with service.runtime.db.connect() as connection:
        connection.execute(insert(OutboxMessage.__table__).values(
            uid=f"uid{next(_numbers)}", phone="+6285711112222", text="Halo", segments=1,
            status="delivered", kind="pickup", channel="whatsapp", provider="whatsapp",
            next_attempt_at=NOW, created_at=NOW))

    tables = Tables(open_dashboard(service, "operator6", "operator", "06").text)

    assert tables.row("SMS")[1] == "0" and tables.row("WhatsApp")[1] == "1"
