"""What every response tells the browser: the session cookie's attributes (HttpOnly, SameSite,
Secure over HTTPS), the Content-Security-Policy and its companions, no-store on pages with
personal data, HSTS over HTTPS only, and nosniff alone for the machine endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from live_service import LiveService, start_service
from staff_browser import PASSWORD, StaffBrowser, make_staff

from sms_ktp.platform.clock import FixedClock
from sms_ktp.platform.db import Database
from sms_ktp.web import create_app
from sms_ktp.web.security_headers import CONTENT_SECURITY_POLICY

POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
          "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
PAGE_HEADERS = {
    "Content-Security-Policy": POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}


@pytest.fixture
def live(tmp_path: Path, clock: FixedClock) -> Iterator[LiveService]:
    """The cookies and headers do not depend on the database: SQLite only."""
    database = Database(f"sqlite:///{tmp_path / 'sms-ktp.db'}")
    database.create_schema()
    yield from start_service(database, clock, tmp_path)
    database.dispose()


def session_cookie(set_cookies: list[str]) -> list[str]:
    """The attributes of the session cookie set by a response, lower-cased, value left out."""
    [cookie] = [c for c in set_cookies if c.startswith("sms_ktp_staff=")]
    return sorted(part.strip().lower() for part in cookie.split(";")[1:])


def test_the_policy_is_the_one_the_pages_are_tested_under():
    assert CONTENT_SECURITY_POLICY == POLICY


def test_over_plain_http_the_cookie_is_httponly_and_lax_but_not_secure(live):
    browser = StaffBrowser(live.base_url)
    page = browser.get("/staff/login")
    attributes = session_cookie([page.headers["Set-Cookie"]])
    assert attributes == ["httponly", "path=/", "samesite=lax"]
    make_staff(live.runtime.db, "admin1", "admin")
    signed_in = browser.post("/staff/login", {"username": "admin1", "password": PASSWORD},
                             allow_redirects=False)
    assert session_cookie([signed_in.headers["Set-Cookie"]]) == attributes
    assert "Strict-Transport-Security" not in signed_in.headers


def test_over_https_the_cookie_is_secure_and_hsts_is_sent(live):
    client = create_app(live.runtime).test_client()
    page = client.get("/staff/login", base_url="https://ktp.bogorkota.go.id")
    assert session_cookie(page.headers.getlist("Set-Cookie")) == [
        "httponly", "path=/", "samesite=lax", "secure"]
    assert page.headers["Strict-Transport-Security"] == "max-age=31536000"


@pytest.mark.parametrize(("peer", "trusted", "secure"), [
    ("10.0.0.2", ["10.0.0.0/8"], True),  # the proxy terminating TLS says so
    ("192.0.2.1", ["10.0.0.0/8"], False),  # anybody else saying so is not believed
    ("10.0.0.2", [], False),
])
def test_a_trusted_proxy_saying_https_counts(live, peer, trusted, secure):
    live.runtime.settings.server.trusted_proxies = trusted
    client = create_app(live.runtime).test_client()
    page = client.get("/staff/login", headers={"X-Forwarded-Proto": "https"},
                      environ_base={"REMOTE_ADDR": peer})
    assert ("secure" in session_cookie(page.headers.getlist("Set-Cookie"))) is secure
    assert ("Strict-Transport-Security" in page.headers) is secure


@pytest.mark.parametrize(("setting", "base_url", "secure"), [
    (True, "http://127.0.0.1:8080", True),
    (False, "https://ktp.bogorkota.go.id", False),
    ("auto", "http://127.0.0.1:8080", False),
])
def test_secure_cookies_may_be_forced_either_way(live, setting, base_url, secure):
    live.runtime.settings.staff.secure_cookies = setting
    client = create_app(live.runtime).test_client()
    page = client.get("/staff/login", base_url=base_url)
    assert ("secure" in session_cookie(page.headers.getlist("Set-Cookie"))) is secure


def test_signing_out_removes_the_cookie_with_the_same_attributes(live):
    make_staff(live.runtime.db, "admin1", "admin")
    browser = StaffBrowser(live.base_url)
    browser.login("admin1")
    out = browser.post("/staff/logout", allow_redirects=False)
    cookie = out.headers["Set-Cookie"]
    assert cookie.startswith("sms_ktp_staff=;") and "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie and "Expires=Thu, 01 Jan 1970" in cookie


@pytest.mark.parametrize("path", ["/staff/login", "/staff/audit", "/simulator/",
                                  "/simulator/ussd", "/", "/static/staff.css",
                                  "/static/broadcast.js", "/no-such-page"])
def test_every_page_carries_the_security_headers(live, path):
    response = StaffBrowser(live.base_url).get(path, allow_redirects=False)
    assert {name: response.headers.get(name) for name in PAGE_HEADERS} == PAGE_HEADERS
    private = path.startswith(("/staff", "/simulator"))
    assert (response.headers.get("Cache-Control") == "no-store") is private, path


def test_a_signed_in_page_is_never_cached(live):
    make_staff(live.runtime.db, "admin1", "admin")
    browser = StaffBrowser(live.base_url)
    browser.login("admin1")
    for path in ("/staff/", "/staff/audit", "/staff/broadcasts/recipients?audience=all"):
        response = browser.get(path)
        assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
        assert response.headers["Content-Security-Policy"] == POLICY


def test_machine_endpoints_get_nosniff_only(live):
    webhook = live.post_sms("+6281234567890", "BANTUAN")
    refused = live.http.post(live.url("/sms", token="wrong"), data={}, timeout=10)
    health = live.http.get(f"{live.base_url}/healthz", timeout=10)
    metrics = live.http.get(f"{live.base_url}/metrics", timeout=10)
    assert webhook.status_code == 200 and refused.status_code == 404
    for response in (webhook, refused, health, metrics):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "Content-Security-Policy" not in response.headers
        assert "X-Frame-Options" not in response.headers
