"""Password guessing at the back office: a name locked after 5 failures in 15 minutes, an address
made to wait after 20, the same answers for unknown names, the admin's unlock, the settings."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cli_runner import invoke
from click.testing import CliRunner, Result
from sqlalchemy import select
from staff_browser import PASSWORD, StaffBrowser, make_staff

from sms_ktp.backoffice import staff
from sms_ktp.cli.common import Service
from sms_ktp.cli.main import cli
from sms_ktp.models import AuditEntry
from sms_ktp.platform.config import ConfigError, load_settings
from sms_ktp.platform.db import Database

WRONG = "bukan-kata-sandinya"
LOCKED = "Terlalu banyak percobaan masuk yang gagal"


@pytest.fixture
def admin(service) -> str:
    make_staff(service.runtime.db, "admin1", "admin")
    return "admin1"


def attempt(service, name: str, password: str = WRONG, address: str | None = None):
    """One sign-in from a fresh browser (from `address` through the trusted proxy)."""
    browser = StaffBrowser(service.base_url)
    headers = {"X-Forwarded-For": address} if address else {}
    browser.get("/staff/login", headers=headers)
    return browser.post("/staff/login", {"username": name, "password": password},
                        headers=headers, allow_redirects=False)


def actions(service) -> list[tuple[str, str, str]]:
    table = AuditEntry.__table__
    with service.runtime.db.connect() as connection:
        rows = connection.execute(select(table).order_by(table.c.id)).all()
    return [(row.actor, row.action, row.address) for row in rows]


def test_five_failures_lock_the_name_even_for_the_right_password(service, admin, clock):
    assert [attempt(service, admin).status_code for _ in range(4)] == [401] * 4
    fifth = attempt(service, admin)
    assert fifth.status_code == 429 and LOCKED in fifth.text and "Tunggu 15 menit" in fifth.text
    assert "minta admin" in fifth.text and fifth.headers["Retry-After"] == "900"
    right = attempt(service, admin, PASSWORD)
    assert right.status_code == 429 and LOCKED in right.text
    clock.advance(timedelta(minutes=14))
    assert "Tunggu 1 menit" in attempt(service, admin, PASSWORD).text
    clock.advance(timedelta(minutes=1))
    assert attempt(service, admin, PASSWORD).status_code == 303  # signed in
    logged = [action for _, action, _ in actions(service)]
    assert logged == ["staff.login_failed"] * 5 + ["staff.lockout"] + [
        "staff.login_refused"] * 2 + ["staff.login"]


def test_a_locked_name_cannot_open_a_page(service, admin):
    for _ in range(5):
        attempt(service, admin)
    browser = StaffBrowser(service.base_url)
    assert browser.login(admin).status_code == 429
    assert browser.get("/staff/audit").url.endswith("/staff/login?next=/staff/audit")


def _comparable(response, name: str) -> tuple[int, str]:
    text = re.sub(r'(name="csrf-token" content="|name="csrf_token" value=")[^"]*', r"\1",
                  response.text)
    return response.status_code, text.replace(name, "NAME")


def test_an_unknown_name_is_answered_exactly_like_a_real_one(service, admin):
    """Wrong passwords, then the lock, then the right password: the same answers, word for word,
    for a name that exists and one that does not."""
    answers = {}
    for name in (admin, "nobody.here"):
        tries = [attempt(service, name) for _ in range(5)] + [attempt(service, name, PASSWORD)]
        answers[name] = [_comparable(response, name) for response in tries]
    assert answers[admin] == answers["nobody.here"]
    assert [status for status, _ in answers[admin]] == [401] * 4 + [429] * 2


def test_a_successful_sign_in_starts_the_count_again(service, admin):
    assert [attempt(service, admin).status_code for _ in range(4)] == [401] * 4
    assert attempt(service, admin, PASSWORD).status_code == 303
    assert [attempt(service, admin).status_code for _ in range(5)] == [401] * 4 + [429]


def test_failures_older_than_the_window_do_not_count(service, admin, clock):
    for _ in range(4):
        attempt(service, admin)
    clock.advance(timedelta(minutes=15, seconds=1))
    assert [attempt(service, admin).status_code for _ in range(5)] == [401] * 4 + [429]


def test_an_address_waits_after_twenty_failures_whatever_the_names(service, admin, clock):
    service.runtime.settings.server.trusted_proxies = ["127.0.0.1/32"]
    office, elsewhere = "203.0.113.7", "198.51.100.9"
    statuses = [attempt(service, f"guess{n}", address=office).status_code for n in range(19)]
    assert statuses == [401] * 19  # one try per name: no name is locked
    # One's own account signing in does not reset the address's count.
    assert attempt(service, admin, PASSWORD, address=office).status_code == 303
    assert attempt(service, "guess19", address=office).status_code == 429
    waiting = attempt(service, admin, PASSWORD, address=office)
    assert waiting.status_code == 429 and LOCKED in waiting.text
    assert attempt(service, admin, PASSWORD, address=elsewhere).status_code == 303
    lockouts = [entry for entry in actions(service) if entry[1] == "staff.address_lockout"]
    assert lockouts == [("staff:guess19", "staff.address_lockout", office)]
    clock.advance(timedelta(minutes=15))
    assert attempt(service, admin, PASSWORD, address=office).status_code == 303


def test_without_trusted_proxies_a_forwarded_address_is_ignored(service, admin):
    for n in range(20):
        attempt(service, f"guess{n}", address=f"203.0.113.{n}")  # all from 127.0.0.1 really
    assert attempt(service, admin, PASSWORD, address="198.51.100.9").status_code == 429
    assert {address for _, _, address in actions(service)} == {"127.0.0.1"}


def staff_command(service, *args: str) -> Result:  # type: ignore[no-untyped-def]
    """`sms-ktp staff ARGS` on the running service's database."""
    return CliRunner().invoke(cli, ["staff", *args], catch_exceptions=False,
                              obj=Service(runtime=service.runtime))


def test_an_admin_unlocks_a_name_from_the_shell(service, admin):
    for _ in range(5):
        attempt(service, admin)
    listed = staff_command(service, "list")
    assert listed.exit_code == 0
    assert re.search(r"admin1\s+admin\s+-\s+locked until \d{4}-\d\d-\d\d 09\.15 WIB",
                     listed.stdout)
    unlocked = staff_command(service, "unlock", "Admin1")
    assert unlocked.exit_code == 0
    assert unlocked.stdout.strip() == (
        "staff admin1: unlocked (was locked until 2026-11-30 09.15 WIB)")
    assert attempt(service, admin, PASSWORD).status_code == 303
    unlock = [entry for entry in actions(service) if entry[1] == "staff.unlock"]
    assert len(unlock) == 1 and unlock[0][0].startswith("operator:")
    # The count starts again after an unlock.
    assert [attempt(service, admin).status_code for _ in range(5)] == [401] * 4 + [429]
    ghost = staff_command(service, "unlock", "ghost")
    assert ghost.exit_code == 1 and "no user 'ghost'" in ghost.stderr


def test_a_burst_of_parallel_guesses_gets_no_more_than_the_limit(service, admin):
    """Every attempt is recorded before it is checked, so parallel requests count each other."""
    browsers = [StaffBrowser(service.base_url) for _ in range(16)]
    for browser in browsers:
        browser.get("/staff/login")
    with ThreadPoolExecutor(len(browsers)) as pool:
        statuses = list(pool.map(lambda b: b.post("/staff/login", {
            "username": admin, "password": WRONG}, allow_redirects=False).status_code, browsers))
    logged = [action for _, action, _ in actions(service)]
    checked = logged.count("staff.login_failed")
    assert checked <= 5 and set(statuses) <= {401, 429}
    assert logged.count("staff.login_refused") == 16 - checked
    assert checked < 5 or logged.count("staff.lockout") >= 1


class _CountingHasher:
    def __init__(self, hasher) -> None:  # type: ignore[no-untyped-def]
        self.hasher, self.verified = hasher, 0

    def verify(self, hashed: str, password: str) -> bool:
        self.verified += 1
        return self.hasher.verify(hashed, password)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.hasher, name)


def test_argon2_runs_for_unknown_names_and_not_for_locked_ones(database, clock, monkeypatch):
    """An unknown name costs the same hash as a wrong password; a name that waits costs none
    (its answer says it waits, the same for every name, so the time tells nothing)."""
    staff.configure_hashing(1, 32)
    make_staff(database, "rina", "operator", office="01")
    hasher = _CountingHasher(staff._HASHER)
    monkeypatch.setattr(staff, "_HASHER", hasher)
    limits = staff.LoginLimits(max_failures=2)
    now = clock.now()
    for name in ("rina", "nobody"):
        hasher.verified = 0
        outcomes = [staff.sign_in(database, name, WRONG, "10.0.0.1", now, limits)
                    for _ in range(4)]
        assert hasher.verified == 2, name
        assert [outcome.wait_until for outcome in outcomes] == [None] + [
            now + limits.lockout] * 3
    assert staff.sign_in(database, "rina", PASSWORD, "10.0.0.1", now, limits).person is None


def test_limits_of_zero_switch_them_off(database, clock):
    staff.configure_hashing(1, 32)
    make_staff(database, "rina", "helper")
    limits = staff.LoginLimits(max_failures=0, max_failures_per_address=0)
    for _ in range(30):
        assert staff.sign_in(database, "rina", WRONG, "10.0.0.1", clock.now(),
                             limits).wait_until is None
    assert staff.sign_in(database, "rina", PASSWORD, "10.0.0.1", clock.now(),
                         limits).person is not None


def test_the_shell_command_unlocks_and_lists(tmp_path: Path):
    (tmp_path / "sms-ktp.toml").write_text("")
    assert invoke(tmp_path, "staff", "add", "rina", "--role", "helper", "--password-stdin",
                  stdin=f"{PASSWORD}\n").returncode == 0
    database = Database(f"sqlite:///{tmp_path / 'var' / 'sms-ktp.db'}")
    staff.configure_hashing(1, 32)
    for _ in range(5):  # the command runs on the real clock
        staff.sign_in(database, "rina", WRONG, "10.0.0.1", datetime.now(UTC),
                      staff.LoginLimits())
    database.dispose()
    assert "locked until" in invoke(tmp_path, "staff", "list").stdout
    unlocked = invoke(tmp_path, "staff", "unlock", "rina")
    assert unlocked.returncode == 0 and "unlocked (was locked until" in unlocked.stdout
    assert invoke(tmp_path, "staff", "list").stdout.split()[-1] == "active"
    again = invoke(tmp_path, "staff", "unlock", "rina")
    assert again.stdout.strip() == (
        "staff rina: unlocked (was not locked); failed sign-ins count from zero")
    assert invoke(tmp_path, "staff", "unlock", "ghost").returncode == 1


@pytest.mark.parametrize(("content", "expected"), [
    ("", ("auto", 5, 15, 15, 20)),
    ("[staff]\nsecure_cookies = true\nlogin_max_failures = 0\nlogin_window_minutes = 30\n"
     "login_lockout_minutes = 60\nlogin_max_failures_per_address = 100\n",
     (True, 0, 30, 60, 100)),
    ("[staff]\nsecure_cookies = false\n", (False, 5, 15, 15, 20)),
])
def test_the_settings(tmp_path, content, expected):
    path = tmp_path / "sms-ktp.toml"
    path.write_text(content)
    staff_settings = load_settings(path, environ={}).staff
    assert (staff_settings.secure_cookies, staff_settings.login_max_failures,
            staff_settings.login_window_minutes, staff_settings.login_lockout_minutes,
            staff_settings.login_max_failures_per_address) == expected


@pytest.mark.parametrize(("content", "message"), [
    ('secure_cookies = "yes"', 'secure_cookies must be "auto", true or false'),
    ("secure_cookies = 1", "secure_cookies must be str or bool"),
    ("login_max_failures = -1", "must not be negative"),
    ("login_window_minutes = 0", "must be positive"),
    ("login_lockout_minutes = true", "login_lockout_minutes must be int"),
])
def test_wrong_settings_are_refused(tmp_path, content, message):
    path = tmp_path / "sms-ktp.toml"
    path.write_text(f"[staff]\n{content}\n")
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(path, environ={})
