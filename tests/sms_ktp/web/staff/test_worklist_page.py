"""The work queues over real HTTP: filters in the query string, the total, keyset pages followed
by their links, an operator held to their kecamatan, the dashboard's counts leading to their
lists, and exports read back (masked; full NIKs only for an admin, audited)."""

from __future__ import annotations

import csv
import io
import itertools
import re
from datetime import UTC, datetime
from html import unescape

import pytest
from openpyxl import load_workbook
from sqlalchemy import insert, select
from staff_browser import signed_in

from sms_ktp.models import Application, AuditEntry, BlangkoMovement, Family

# What staff see and do; the queries behind the page run on both engines in
# tests/sms_ktp/backoffice/test_worklist.py.
pytestmark = pytest.mark.parametrize("database", ["sqlite"], indirect=True)

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
_numbers = itertools.count(1)


def add(database, kecamatan: str, stage: str, count: int, **values) -> list[tuple[str, str]]:
    """`count` applications of one new family: (reference, full NIK), in the order made."""
    serial = next(_numbers)
    with database.connect() as connection:
        family_id = connection.execute(insert(Family.__table__).values(
            kk=f"3271{kecamatan}{serial:010d}", phone=f"+62812{serial:07d}",
            kecamatan_code=kecamatan, created_at=NOW).returning(Family.__table__.c.id)
        ).scalar_one()
        rows = []
        for _ in range(count):
            serial = next(_numbers)
            rows.append({"reference": f"{serial:09d}", "nik": f"32710145019{serial:05d}",
                         "family_id": family_id, "reason": "baru", "stage": stage,
                         "language": "id", "channel": "sms", "created_at": NOW,
                         "updated_at": NOW, **values})
        connection.execute(insert(Application.__table__), rows)
    return [(row["reference"], row["nik"]) for row in rows]




def listed(html: str) -> list[str]:
    table = html.split('class="grid worklist"')[1].split("</table>")[0]
    return re.findall(r'href="/staff/applications/(\d{9})"', table)


def link(html: str, text: str) -> str:
    found = re.search(r'<a href="([^"]+)"[^>]*>' + re.escape(text), html)
    assert found, f"no link {text!r}"
    return unescape(found.group(1))


def words(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def audit(service) -> list[tuple[str, str, str, str]]:
    table = AuditEntry.__table__
    with service.runtime.db.connect() as connection:
        rows = connection.execute(select(table).where(table.c.action.like("applications.%"))
                                  .order_by(table.c.id)).all()
    return [(row.actor, row.action, row.target, row.detail) for row in rows]


@pytest.fixture
def city(service) -> dict[str, list[tuple[str, str]]]:
    database = service.runtime.db
    return {"queue": add(database, "01", "submitted", 53),
            "other_stage": add(database, "01", "penunggalan", 2),
            "sareal": add(database, "06", "submitted", 3)}


def test_a_queue_is_filtered_counted_and_paged_by_its_links(service, city):
    admin = signed_in(service, "admin1", "admin")
    first = admin.get("/staff/applications", params={"stage": "submitted", "kecamatan": "01"})
    assert first.status_code == 200
    assert "53 permohonan sesuai filter" in words(first.text)
    queue = [reference for reference, _ in city["queue"]]
    assert listed(first.text) == queue[:50]  # the longest wait first
    second = admin.get(link(first.text, "Berikutnya"))
    assert listed(second.text) == queue[50:]
    assert "Berikutnya" not in second.text
    back = admin.get(link(second.text, "&larr; Sebelumnya"))
    assert listed(back.text) == queue[:50]
    last = admin.get(link(first.text, "Akhir"))
    assert listed(last.text) == queue[3:]
    # Newest first, on request.
    newest = admin.get("/staff/applications",
                       params={"stage": "submitted", "kecamatan": "01", "sort": "newest"})
    assert listed(newest.text)[:2] == queue[::-1][:2]
    for page in (first, second, last):
        assert all(nik not in page.text for _, nik in city["queue"])
        assert "***" in page.text


def test_a_filter_that_makes_no_sense_is_said_and_the_list_still_shows(service, city):
    admin = signed_in(service, "admin1", "admin")
    page = admin.get("/staff/applications", params={"stage": "lost", "since": "31/11/2026"})
    assert page.status_code == 200 and 'role="alert"' in page.text
    assert "Tahap tidak dikenal" in words(page.text) and "58 permohonan" in words(page.text)


def test_an_operator_sees_only_their_kecamatan_and_a_helper_only_searches(service, city):
    operator = signed_in(service, "op06", "operator", "06")
    page = operator.get("/staff/applications", params={"kecamatan": "01", "stage": "submitted"})
    assert sorted(listed(page.text)) == sorted(ref for ref, _ in city["sareal"])
    assert "3 permohonan" in words(page.text)
    # their own kecamatan is where they work, not a filter they chose
    unfiltered = words(operator.get("/staff/applications").text)
    assert "filter aktif" not in unfiltered and "sesuai filter" not in unfiltered
    assert f"{len(city['sareal'])} permohonan" in unfiltered
    helper = signed_in(service, "helper1", "helper", "3271011001")
    browsing = helper.get("/staff/applications", params={"stage": "submitted"})
    assert 'class="grid worklist"' not in browsing.text
    assert re.findall(r'href="/staff/applications/(\d{9})"', browsing.text) == []
    assert helper.get("/staff/applications/export.csv").status_code == 403


def test_every_count_of_the_dashboard_leads_to_a_list_of_as_many(service, city):
    database = service.runtime.db
    add(database, "01", "print_queue", 4, ready_at=NOW)
    add(database, "06", "print_queue", 2, ready_at=NOW)
    # Other documents: the table per document and stage, and per day and document.
    add(database, "01", "submitted", 2, document="kk", reason="pisah")
    add(database, "06", "signed", 1, document="kk", reason="hilang")
    add(database, "06", "papers_checked", 3, document="kia")
    add(database, "02", "ready", 1, document="akta_mati", reason="kematian")
    with database.connect() as connection:
        connection.execute(insert(BlangkoMovement.__table__).values(
            site="disdukcapil", delta=5, reason="added", actor="test", at=NOW))
    admin = signed_in(service, "admin1", "admin")
    dashboard = admin.get("/staff/").text
    links = re.findall(r'<a href="(/staff/applications[^"]*)">([\d.]+)</a>', dashboard)
    assert len(links) > 20
    # Every link that counts something, and one of the days when nothing happened.
    counted = {unescape(href): shown for href, shown in links if shown != "0"}
    counted.update([next((unescape(href), shown) for href, shown in links if shown == "0")])
    for href, shown in counted.items():
        page = admin.get(href)
        total = re.search(r'id="worklist-total">([\d.]+) permohonan', page.text).group(1)
        assert total == shown, href
    assert "/staff/applications?wait=blangko" in unescape(dashboard)
    assert "/staff/applications?document=kia&stage=papers_checked" in unescape(dashboard)
    # The same links on the page of one document, which add it to every list.
    only = admin.get("/staff/", params={"document": "kk"}).text
    assert "/staff/applications?document=kk&stage=signed&kecamatan=06" in unescape(only)
    links = re.findall(r'<a href="(/staff/applications[^"]*)">([\d.]+)</a>', only)
    for href, shown in {unescape(href): shown for href, shown in links if shown != "0"}.items():
        page = admin.get(href)
        total = re.search(r'id="worklist-total">([\d.]+) permohonan', page.text).group(1)
        assert total == shown, href
    blangko = admin.get("/staff/applications", params={"wait": "blangko"})
    assert "1 permohonan" in words(blangko.text)  # 6 waiting, 5 free blangko


def test_a_masked_export_streams_the_filtered_list(service, city):
    operator = signed_in(service, "op01", "operator", "01")
    response = operator.get("/staff/applications/export.csv", params={"stage": "submitted"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert [row[0] for row in rows[1:]] == [reference for reference, _ in city["queue"]]
    assert all(row[1].startswith("*") for row in rows[1:])
    assert all(nik not in response.text for _, nik in city["queue"])
    assert audit(service) == [("staff:op01", "applications.export", "53 applications",
                               "csv; stage=submitted, kecamatan=01; masked")]


def test_the_full_export_is_an_admins_posted_and_audited(service, city):
    admin = signed_in(service, "admin1", "admin")
    page = admin.get("/staff/applications", params={"stage": "penunggalan"})
    assert "Unduh dengan NIK dan KK lengkap" in page.text
    response = admin.post("/staff/applications/export",
                          {"stage": "penunggalan", "format": "xlsx"})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert [(row[0], row[1]) for row in rows[1:]] == city["other_stage"]
    assert audit(service) == [("staff:admin1", "applications.export_full", "2 applications",
                               "xlsx; stage=penunggalan; full NIK and KK")]
    for username, role, office in (("op01", "operator", "01"),
                                   ("helper1", "helper", "3271011001")):
        browser = signed_in(service, username, role, office)
        browser.get("/staff/applications")
        refused = browser.post("/staff/applications/export", {"format": "csv"})
        assert refused.status_code == 403 and "3271014501" not in refused.text
    assert admin.post("/staff/applications/export", {"format": "csv"},
                      csrf=False).status_code == 400
    assert len(audit(service)) == 1


def test_the_kelurahan_filter_lists_what_its_helper_registered(service):
    from live_service import KK, KK_2, NIK_2, PHONE_2

    helper = signed_in(service, "sari", "helper", "3271011001")  # Kelurahan Batu Tulis
    done = helper.post("/staff/register", {
        "nik": "3271 0145 0190 0001", "kk": KK, "reason": "hilang", "suket": "",
        "phone": "0812-3456-7890", "language": "id"})
    [at_kelurahan] = re.findall(r'class="reference">(\d{9})<', done.text)
    service.sms(PHONE_2, f"DAFTAR {NIK_2}#{KK_2}#2")  # by SMS: no kelurahan known
    assert any("ref" in reply for reply in service.sms(PHONE_2, "YA"))
    admin = signed_in(service, "admin1", "admin")
    everything = admin.get("/staff/applications").text
    assert "Batu Tulis" in everything and len(listed(everything)) == 2
    batu_tulis = admin.get("/staff/applications", params={"kelurahan": "3271011001"}).text
    assert listed(batu_tulis) == [at_kelurahan]
    assert "1 permohonan sesuai filter" in words(batu_tulis)


def test_a_documents_list_offers_its_stages_and_names_the_document_of_each_row(service, city):
    database = service.runtime.db
    kk = add(database, "01", "submitted", 2, document="kk", reason="pisah")
    akta = add(database, "06", "submitted", 1, document="akta_lahir", reason="tepat")
    admin = signed_in(service, "admin1", "admin")
    page = admin.get("/staff/applications", params={"document": "kk"})
    assert listed(page.text) == [reference for reference, _ in kk[::-1]]
    assert "2 permohonan sesuai filter" in words(page.text)
    table = page.text.split('class="grid worklist"')[1].split("</table>")[0]
    assert words(table).count(" KK ") == 2 and "KTP-el" not in table
    stages = re.findall(r'<select name="stage">(.*?)</select>', page.text, re.S)[0]
    offered = re.findall(r'<option value="(\w+)"', stages)
    assert offered == ["submitted", "papers_checked", "signed", "ready", "collected",
                       "rejected", "cancelled"]
    documents = re.findall(r'<select name="document">(.*?)</select>', page.text, re.S)[0]
    assert re.findall(r'<option value="\w*"[^>]*>([^<]+)<', documents) == [
        "Semua dokumen", "KTP-el", "KK", "Akta Kelahiran", "Akta Kematian", "KIA"]
    assert 'value="kk" selected' in documents
    # Every document's stages when none is chosen; a stage not of the chosen one is said.
    whole = admin.get("/staff/applications").text
    assert "penunggalan" in whole and "papers_checked" in whole
    assert len(listed(whole)) == 50 and "61 permohonan" in words(whole)
    wrong = admin.get("/staff/applications", params={"document": "akta_lahir",
                                                     "stage": "penunggalan"})
    assert "bukan tahap Akta Kelahiran" in words(wrong.text) and 'role="alert"' in wrong.text
    assert listed(wrong.text) == [akta[0][0]]
    # The export carries the document of each row.
    exported = admin.get("/staff/applications/export.csv", params={"document": "kk"})
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][3] == "Dokumen" and {row[3] for row in rows[1:]} == {"KK"}
    assert len(rows) == 3


def test_only_the_documents_offered_are_choices(service, city):
    from sms_ktp.domain import documents

    offered = documents.enabled()
    documents.configure(["ktp", "kia"])
    try:
        admin = signed_in(service, "admin1", "admin")
        page = admin.get("/staff/applications").text
        choices = re.findall(r'<select name="document">(.*?)</select>', page, re.S)[0]
        assert re.findall(r'<option value="(\w*)"', choices) == ["", "ktp", "kia"]
        stages = re.findall(r'<select name="stage">(.*?)</select>', page, re.S)[0]
        assert "papers_checked" in stages and "signed" not in stages
    finally:
        documents.configure(offered)
