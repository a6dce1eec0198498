"""A member of staff at the back office over real HTTP (requests): signs in, follows the CSRF
token of the pages it reads, posts forms as a browser would."""

from __future__ import annotations

import re
from typing import Any

import requests

from sms_ktp.backoffice.staff import add_staff
from sms_ktp.platform.db import Database

PASSWORD = "kata-sandi-rahasia-1"
_TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def make_staff(database: Database, username: str, role: str, office: str | None = None,
               password: str = PASSWORD, now: Any = None) -> int:
    from datetime import UTC, datetime

    with database.connect() as connection:
        return add_staff(connection, username, role, password,
                         now or datetime(2026, 11, 1, tzinfo=UTC), office)


class StaffBrowser:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()
        self.token: str | None = None

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("allow_redirects", True)
        response = self.http.get(self.base_url + path, timeout=15, **kwargs)
        found = _TOKEN.search(response.text)
        if found:
            self.token = found.group(1)
        return response

    def post(self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True,
             **kwargs: Any) -> requests.Response:
        """POST a form (with the CSRF token of the last page read, unless `csrf` is False)."""
        if csrf and self.token is None:
            self.get("/staff/login")
        form = dict(data or {})
        if csrf:
            form.setdefault("csrf_token", self.token)
        kwargs.setdefault("allow_redirects", True)
        response = self.http.post(self.base_url + path, data=form, timeout=30, **kwargs)
        found = _TOKEN.search(response.text)
        if found:
            self.token = found.group(1)
        return response

    def login(self, username: str, password: str = PASSWORD) -> requests.Response:
        self.get("/staff/login")
        return self.post("/staff/login", {"username": username, "password": password})


def signed_in(service: Any, username: str, role: str, office: str | None = None) -> StaffBrowser:
    """A new member of staff of `role` (an operator's kecamatan, a helper's kelurahan in
    `office`), signed in to `service` through the login form, on their landing page."""
    make_staff(service.runtime.db, username, role, office)
    browser = StaffBrowser(service.base_url)
    landing = browser.login(username)
    assert landing.status_code == 200 and "/staff/login" not in landing.url, landing.text
    return browser

