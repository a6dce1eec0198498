"""The staff pages' common fixture: an admin signed in through the real login form."""

from __future__ import annotations

import pytest
from staff_browser import StaffBrowser, make_staff


@pytest.fixture
def admin(service) -> StaffBrowser:
    make_staff(service.runtime.db, "admin1", "admin")
    browser = StaffBrowser(service.base_url)
    browser.login("admin1")
    return browser
