"""What the browser tests do again and again: sign in, keep a screenshot as an artifact, and
read axe's verdict on a page."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from staff_browser import PASSWORD

# Screenshots of the main pages, kept as test artifacts to look at (CI keeps the folder).
SCREENSHOTS = Path(os.environ.get("SMS_KTP_SCREENSHOTS", "artifacts/screenshots"))


def sign_in(page: Any, base_url: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{base_url}/staff/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button.primary")
    page.wait_for_load_state()


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def clean(axe: Any, page: Any) -> list[str]:
    """The WCAG violations `axe` finds on the page, one line each (none on a clean page)."""
    return [f"{v['id']}: {v['help']}" for v in axe(page)]
