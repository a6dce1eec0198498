"""CSRF tokens over real HTTP: every POST a browser makes needs the token of its own session,
and only the machine endpoints (operators' servers, which hold no session) go without one. A
token does not outlive the session it came from: sign-in and sign-out start afresh."""

from __future__ import annotations

import time

import pytest
from itsdangerous import TimestampSigner
from live_service import TOKEN
from staff_browser import PASSWORD, StaffBrowser, make_staff

from sms_ktp.web import create_app

REFUSED = "Formulir ini dibuka terlalu lama atau dari halaman yang sudah lewat"
# The routes posted to by operators' servers, not browsers: they prove themselves with a token
# of their own (in the URL or a bearer token) and are exempt. A new machine endpoint belongs
# here and in `sms_ktp.web.security_headers.MACHINE_BLUEPRINTS`; anything else needs the token.
MACHINE_ENDPOINTS = {
    "/gateway/africastalking/<token>/sms",
    "/gateway/africastalking/<token>/delivery",
    "/gateway/africastalking/<token>/ussd",
    "/gateway/africastalking/<token>/ussd/end",
    "/gateway/http/<token>/sms",
    "/gateway/http/<token>/delivery",
    "/gateway/whatsapp/<token>",
    "/integration/penunggalan",
}
# A resident's form whose refusal asks again rather than saying "form expired": the PIN page of
# a signed PDF (tests/sms_ktp/web/test_document_download.py checks no PIN is counted then).
ASKED_AGAIN = {"/d/<code>"}
VALUES = {"<token>": TOKEN, "<reference>": "123456789", "<code>": "01",
          "<int:broadcast_id>": "1", "<int:visit_id>": "1", "<int:family_id>": "1",
          "<int:batch_id>": "1", "<int:notice_id>": "1", "<fmt>": "csv", "<int:file_id>": "1"}
INTEGRATION_TOKEN = "integration-secret"


def url(rule: str) -> str:
    for placeholder, value in VALUES.items():
        rule = rule.replace(placeholder, value)
    return rule


def refused(response) -> bool:  # type: ignore[no-untyped-def]
    return response.status_code == 400 and REFUSED in response.text


def test_every_post_route_needs_the_token_unless_it_is_a_machine_endpoint(service, admin):
    """With a real gateway (the simulator then is an admin's, and checks the token too), an
    admin's POST without the token is refused everywhere but at the machine endpoints, which
    are reached without one."""
    rules = sorted(rule.rule for rule in create_app(service.runtime).url_map.iter_rules()
                   if "POST" in rule.methods)
    service.runtime.settings.integration.token = INTEGRATION_TOKEN
    service.runtime.gateway.name = "africastalking"  # as if a real gateway were configured
    try:
        answers = {rule: admin.post(url(rule), {}, csrf=False, allow_redirects=False,
                                    headers={"Authorization": f"Bearer {INTEGRATION_TOKEN}"})
                   for rule in rules}
    finally:
        service.runtime.gateway.name = "console"
    assert all(answers[rule].status_code >= 400 for rule in ASKED_AGAIN)
    unprotected = {rule for rule, answer in answers.items()
                   if not refused(answer) and rule not in ASKED_AGAIN}
    assert unprotected == MACHINE_ENDPOINTS, (
        f"POST without a CSRF token: {sorted(unprotected - MACHINE_ENDPOINTS)}; "
        f"machine endpoints refused or gone: {sorted(MACHINE_ENDPOINTS - unprotected)}")
    assert {"/staff/login", "/staff/logout", "/simulator/"} <= set(rules) - unprotected


def test_a_token_from_before_sign_in_is_refused_after_it(service):
    make_staff(service.runtime.db, "admin1", "admin")
    browser = StaffBrowser(service.base_url)
    browser.get("/staff/login")
    before = browser.token
    browser.post("/staff/login", {"username": "admin1", "password": PASSWORD})
    assert browser.token != before
    assert refused(browser.post("/staff/logout", {"csrf_token": before}))
    assert "Log audit" in browser.get("/staff/audit").text  # still signed in
    assert browser.post("/staff/logout").url.endswith("/staff/login?out=1")


def test_a_token_from_before_sign_out_is_refused_after_it(service, admin):
    admin.get("/staff/audit")
    signed_in = admin.token
    admin.post("/staff/logout")
    answer = admin.post("/staff/login", {"username": "admin1", "password": PASSWORD,
                                         "csrf_token": signed_in})
    assert refused(answer)
    assert admin.get("/staff/audit").url.endswith("/staff/login?next=/staff/audit")


def test_another_browsers_token_is_refused(service, admin):
    make_staff(service.runtime.db, "admin2", "admin")
    other = StaffBrowser(service.base_url)
    other.login("admin2")
    assert refused(admin.post("/staff/logout", {"csrf_token": other.token}))
    assert "Log audit" in admin.get("/staff/audit").text


def test_a_form_left_open_for_hours_is_sent_while_the_session_lasts(service, admin, monkeypatch):
    """The token has no expiry of its own (a clerk working in another tab keeps the session
    open): only the end of the session refuses the form."""
    admin.get("/staff/audit")
    monkeypatch.setattr(TimestampSigner, "get_timestamp",
                        lambda self: int(time.time()) + 8 * 3600)
    answer = admin.post("/staff/logout", allow_redirects=False)
    assert answer.status_code == 303 and "/staff/login?out=1" in answer.headers["Location"]


def test_a_form_over_https_needs_no_referer(service):
    """The pages send `Referrer-Policy: no-referrer`: a form posted over HTTPS comes without a
    Referer, and the token alone lets it through."""
    make_staff(service.runtime.db, "admin1", "admin")
    client = create_app(service.runtime).test_client()
    https = "https://sms-ktp.example"
    page = client.get("/staff/login", base_url=https)
    token = page.text.split('name="csrf-token" content="')[1].split('"')[0]
    answer = client.post("/staff/login", base_url=https, data={
        "username": "admin1", "password": PASSWORD, "csrf_token": token})
    assert "Referer" not in answer.request.headers
    assert answer.status_code == 303 and answer.headers["Location"] == "/staff/"
    assert client.post("/staff/login", base_url=https, data={
        "username": "admin1", "password": PASSWORD}).status_code == 400


@pytest.mark.parametrize("path", ["/simulator/", "/simulator/ussd"])
def test_the_simulator_needs_the_admins_token_with_a_real_gateway(service, admin, path):
    service.runtime.gateway.name = "africastalking"  # as if a real gateway were configured
    try:
        admin.get("/simulator/")
        form = {"phone": "081234567890", "text": "STATUS", "session": "s1", "input": "1"}
        assert refused(admin.post(path, form, csrf=False))
        assert refused(admin.post(path, {**form, "csrf_token": "forged"}))
        assert admin.post(path, form).status_code == 200
    finally:
        service.runtime.gateway.name = "console"
