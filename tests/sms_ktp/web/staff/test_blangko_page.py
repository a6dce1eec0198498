"""The blangko page over real HTTP: the stock per printing site and kind of card, adding a
delivery (positive numbers only, as `sms-ktp blangko add`), its history and its audit entry."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select
from staff_browser import StaffBrowser, make_staff

from sms_ktp.applications import printing
from sms_ktp.models import AuditEntry, BlangkoMovement


def stock_rows(html: str, card: str = "ktp") -> dict[str, tuple[int, int, int]]:
    """The stock of one kind of card per site: total, reserved, free."""
    return {site: (int(total), int(reserved), int(free)) for site, total, reserved, free in
            re.findall(rf'<tr data-site="([^"]+)" data-card="{card}"><td>[^<]*</td>'
                       r'<td>[^<]*</td><td class="num">(\d+)</td>'
                       r'<td class="num">(\d+)</td><td class="num">(\d+)</td>', html)}


def history(html: str) -> list[list[str]]:
    table = html.split('id="history"')[1].split("</table>")[0]
    return [[unescape(re.sub(r"<[^>]+>", "", cell)).strip()
             for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", table, re.S) if "<td" in row]


def movements(service) -> list[tuple[str, int, str, str]]:
    with service.runtime.db.connect() as connection:
        rows = connection.execute(select(BlangkoMovement.__table__)
                                  .order_by(BlangkoMovement.__table__.c.id)).all()
    return [(row.site, row.delta, row.reason, row.actor) for row in rows]


def audit(service) -> list[tuple[str, str, str, str]]:
    with service.runtime.db.connect() as connection:
        rows = connection.execute(select(AuditEntry.__table__).where(
            AuditEntry.__table__.c.action != "staff.login")).all()
    return [(row.actor, row.action, row.target, row.detail) for row in rows]


@pytest.fixture
def operator(service) -> StaffBrowser:
    make_staff(service.runtime.db, "op01", "operator", office="01")
    browser = StaffBrowser(service.base_url)
    browser.login("op01")
    return browser


def test_adding_blangko_shows_in_the_stock_the_history_and_the_audit(service, operator, clock):
    service.runtime.settings.printing.sites = ["disdukcapil", "mpp"]
    page = operator.get("/staff/blangko")
    assert page.status_code == 200
    assert stock_rows(page.text) == {"disdukcapil": (0, 0, 0), "mpp": (0, 0, 0)}
    assert "Belum ada pergerakan blangko" in page.text
    response = operator.post("/staff/blangko", {"site": "mpp", "count": "250"})
    assert response.status_code == 200
    assert response.url.endswith("/staff/blangko?site=mpp&card=ktp")
    assert "250 blangko KTP-el ditambahkan ke mpp: stok 250, dipesan 0, bebas 250." in (
        response.text)
    assert stock_rows(response.text) == {"disdukcapil": (0, 0, 0), "mpp": (250, 0, 250)}
    assert stock_rows(response.text, "kia") == {"disdukcapil": (0, 0, 0), "mpp": (0, 0, 0)}
    assert [row[:6] for row in history(response.text)] == [
        ["30 Nov 2026 09.00", "mpp", "KTP-el", "+250", "kiriman ditambahkan",
         "op01 (Operator kantor)"]]
    assert movements(service) == [("mpp", 250, "added", "staff:op01")]
    assert audit(service) == [("staff:op01", "blangko.add", "site mpp",
                               "+250 blangko; stock 250, reserved 0, free 250")]


def test_the_history_is_newest_first_and_paged(service, operator, clock):
    from datetime import timedelta

    db = service.runtime.db
    for count in range(1, 56):
        printing.add_blangko(db, clock, "disdukcapil", count, "operator:cli")
        clock.advance(timedelta(seconds=10))
    first = operator.get("/staff/blangko")
    rows = history(first.text)
    assert len(rows) == 50 and rows[0][3] == "+55" and rows[-1][3] == "+6"
    assert "Halaman 1 dari 2" in first.text
    second = history(operator.get("/staff/blangko?page=2").text)
    assert [row[3] for row in second] == ["+5", "+4", "+3", "+2", "+1"]
    assert stock_rows(first.text)["disdukcapil"] == (1540, 0, 1540)


@pytest.mark.parametrize("count", ["0", "-5", "abc", "", "2.5", "1000001"])
def test_only_a_positive_number_is_added(service, operator, count):
    response = operator.post("/staff/blangko", {"site": "disdukcapil", "count": count})
    assert response.status_code == 400
    assert "Jumlah blangko" in response.text
    assert movements(service) == [] and audit(service) == []


def test_kia_blangko_are_a_stock_of_their_own(service, operator):
    operator.post("/staff/blangko", {"site": "disdukcapil", "count": "40"})
    response = operator.post("/staff/blangko", {"site": "disdukcapil", "card": "kia",
                                                "count": "15"})
    assert response.status_code == 200 and response.url.endswith("card=kia")
    assert "15 blangko KIA ditambahkan ke disdukcapil: stok 15, dipesan 0, bebas 15." in (
        response.text)
    assert '<option value="kia" selected>KIA</option>' in response.text  # the next delivery
    assert stock_rows(response.text) == {"disdukcapil": (40, 0, 40)}
    assert stock_rows(response.text, "kia") == {"disdukcapil": (15, 0, 15)}
    assert [row[2:4] for row in history(response.text)] == [["KIA", "+15"], ["KTP-el", "+40"]]
    with service.runtime.db.connect() as connection:
        assert printing.stock(connection, "disdukcapil", "kia").free == 15
    assert audit(service)[-1] == ("staff:op01", "blangko.add", "site disdukcapil",
                                  "+15 blangko kia; stock 15, reserved 0, free 15")
    wrong = operator.post("/staff/blangko", {"site": "disdukcapil", "card": "sim",
                                             "count": "5"})
    assert wrong.status_code == 400 and "Jenis kartu tidak dikenal" in wrong.text
    assert len(movements(service)) == 2


def test_an_unknown_site_is_refused(service, operator):
    response = operator.post("/staff/blangko", {"site": "gudang", "count": "5"})
    assert response.status_code == 400 and "Lokasi cetak tidak dikenal" in response.text
    assert movements(service) == []


@pytest.mark.parametrize("role", ["viewer", "helper"])
def test_viewers_and_helpers_are_refused(service, role):
    make_staff(service.runtime.db, "someone", role, office="01" if role == "operator" else None)
    browser = StaffBrowser(service.base_url)
    browser.login("someone")
    assert browser.get("/staff/blangko").status_code == 403
    assert browser.post("/staff/blangko", {"count": "5"}).status_code == 403
    assert movements(service) == []


def test_a_post_without_the_csrf_token_is_refused(service, operator):
    response = operator.post("/staff/blangko", {"site": "disdukcapil", "count": "5"},
                             csrf=False)
    assert response.status_code == 400 and "Formulir tidak dapat diproses" in response.text
    assert movements(service) == []
