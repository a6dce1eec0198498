"""The back office's error pages over real HTTP: in Indonesian, with a way back, for a stranger
and for staff; the machines' endpoints answer as they did."""

from __future__ import annotations

import pytest
from live_service import TOKEN
from staff_browser import StaffBrowser, make_staff

from sms_ktp.web.staff import audit_log

# The pages read nothing an engine could answer differently.
pytestmark = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


@pytest.fixture
def admin(service) -> StaffBrowser:
    make_staff(service.runtime.db, "admin1", "admin")
    browser = StaffBrowser(service.base_url)
    browser.login("admin1")
    return browser


def test_a_mistyped_address_for_a_signed_in_admin(service, admin: StaffBrowser):
    page = admin.get("/staff/tidak-ada")
    assert page.status_code == 404
    assert "Halaman tidak ditemukan" in page.text and 'lang="id"' in page.text
    assert '<a class="button" href="/staff/">Kembali ke halaman utama</a>' in page.text
    assert "Not Found" not in page.text and "requested URL" not in page.text
    assert "admin1" in page.text  # the menu and who is signed in, as on every page


def test_a_mistyped_address_for_a_stranger_leads_to_the_sign_in_page(service):
    page = StaffBrowser(service.base_url).get("/staff/tidak/ada")
    assert page.status_code == 404 and "Halaman tidak ditemukan" in page.text
    assert '<a class="button" href="/staff/login">Ke halaman masuk</a>' in page.text


def test_something_that_no_longer_exists(service, admin: StaffBrowser):
    page = admin.get("/staff/broadcasts/999")
    assert page.status_code == 404 and "datanya sudah tidak ada lagi" in page.text


def test_a_button_s_address_opened_directly(service, admin: StaffBrowser):
    page = admin.get("/staff/broadcasts/1/cancel")
    assert page.status_code == 405 and "tidak bisa dibuka langsung" in page.text
    assert page.headers["Allow"]  # what HTTP asks for stays
    assert "Method Not Allowed" not in page.text


def test_a_form_over_the_size_limit(service, admin: StaffBrowser):
    page = admin.post("/staff/broadcasts/new", {"text": "x" * 70_000})
    assert page.status_code == 413 and "Kiriman terlalu besar" in page.text


def test_a_fault_says_so_without_its_details(service, admin: StaffBrowser, monkeypatch):
    def broken(connection):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(audit_log.wording, "staff_roles", broken)
    page = admin.get("/staff/audit")
    assert page.status_code == 500
    assert "Terjadi kesalahan di server" in page.text and "Kode kesalahan 500" in page.text
    assert "secret internals" not in page.text and "Traceback" not in page.text
    assert "Internal Server Error" not in page.text


@pytest.mark.parametrize("path", ["/sms", "/tidak-ada", "/simulator/tidak-ada"])
def test_the_machines_endpoints_answer_as_before(service, path):
    response = service.http.get(service.url(path, token="wrong") if path == "/sms"
                                else service.base_url + path, timeout=10)
    assert response.status_code in (404, 405)
    assert "Halaman tidak ditemukan" not in response.text
    assert "tidak bisa dibuka langsung" not in response.text


def test_the_webhooks_keep_their_answer(service):
    wrong = service.http.post(service.url("/sms", token="wrong"), data={"from": "x"}, timeout=10)
    right = service.http.post(service.url("/sms", token=TOKEN), data={"from": "x"}, timeout=10)
    assert wrong.status_code == 404 and "Halaman" not in wrong.text
    assert right.status_code == 400 and "Permintaan tidak bisa dibaca" not in right.text
