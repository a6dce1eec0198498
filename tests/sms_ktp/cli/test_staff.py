"""`sms-ktp staff ...` as an administrator runs it on the server: accounts, exit codes, audit."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from cli_runner import invoke


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "sms-ktp.toml").write_text("")
    return tmp_path




def accounts(folder: Path) -> list[tuple[str, str, str | None, bool]]:
    with sqlite3.connect(folder / "var" / "sms-ktp.db") as connection:
        rows = connection.execute("SELECT username, role, office, disabled_at IS NOT NULL, "
                                  "password_hash FROM staff_user ORDER BY username").fetchall()
    assert all(row[4].startswith("$argon2id$") for row in rows)
    return [row[:4] for row in rows]


def test_accounts_are_made_changed_and_disabled_from_the_shell(folder):
    made = invoke(folder, "staff", "add", "Rina", "--role", "operator", "--office", "03",
                  "--password-stdin", stdin="sandi-panjang-sekali\n")
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == "staff rina: role operator, office 03"
    assert invoke(folder, "staff", "add", "budi", "--role", "helper", "--password-stdin",
                  stdin="sandi-panjang-juga\n").returncode == 0
    assert accounts(folder) == [("budi", "helper", None, False), ("rina", "operator", "03", False)]

    assert invoke(folder, "staff", "disable", "budi").returncode == 0
    assert invoke(folder, "staff", "password", "rina", "--password-stdin",
                  stdin="sandi-baru-yang-panjang\n").stdout.strip() == (
        "staff rina: password set")
    listing = invoke(folder, "staff", "list").stdout.splitlines()
    assert listing[1].split() == ["budi", "helper", "-", "disabled"]
    assert listing[2].split() == ["rina", "operator", "03", "active"]
    with sqlite3.connect(folder / "var" / "sms-ktp.db") as connection:
        actions = connection.execute(
            "SELECT action, target FROM audit_entry ORDER BY id").fetchall()
    assert actions == [("staff.add", "staff rina"), ("staff.add", "staff budi"),
                       ("staff.disable", "staff budi"), ("staff.password", "staff rina")]


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (["add", "rina", "--role", "admin", "--password-stdin"], "short\n", "at least 10"),
    (["add", "rina", "--role", "operator", "--password-stdin"], "long-enough-pw\n", "--office"),
    (["add", "rina", "--role", "operator", "--office", "07", "--password-stdin"],
     "long-enough-pw\n", "'07' is no kecamatan of Kota Bogor"),
    (["add", "sari", "--role", "helper", "--office", "3201011001", "--password-stdin"],
     "long-enough-pw\n", "'3201011001' is no kelurahan or desa of Kota Bogor"),
    (["disable", "ghost"], "", "no user 'ghost'"),
])
def test_refusals_exit_1_with_the_reason(folder, args, stdin, message):
    result = invoke(folder, "staff", *args, stdin=stdin)
    assert result.returncode == 1 and message in result.stderr


def test_an_unknown_role_is_bad_usage(folder):
    result = invoke(folder, "staff", "add", "rina", "--role", "boss", "--password-stdin",
                    stdin="long-enough-pw\n")
    assert result.returncode == 2
    assert ("Invalid value for '--role': 'boss' is not one of 'admin', 'operator', 'helper', "
            "'viewer'") in result.stderr
    assert not (folder / "var").exists()  # refused before any database was opened


def test_serving_a_demo_makes_a_first_admin_once(tmp_path, clock):
    from sms_ktp.backoffice.staff import authenticate
    from sms_ktp.cli.main import _first_admin
    from sms_ktp.platform.config import Settings
    from sms_ktp.runtime import Runtime

    settings = Settings()
    settings.data_dir = str(tmp_path / "var")
    settings.database.url = f"sqlite:///{tmp_path / 'var' / 'sms-ktp.db'}"
    runtime = Runtime.from_settings(settings, clock=clock)
    runtime.db.create_schema()
    settings.gateway.provider = "africastalking"
    assert _first_admin(runtime) == "(no account yet: sms-ktp staff add NAME --role admin)"
    settings.gateway.provider = "console"
    told = _first_admin(runtime)
    password_file = tmp_path / "var" / "admin_password"
    assert told == f"(user admin, password in {password_file})"
    assert oct(password_file.stat().st_mode & 0o777) == "0o600"
    with runtime.db.connect() as connection:
        person = authenticate(connection, "admin", password_file.read_text().strip(),
                              clock.now())
    assert person is not None and person.role == "admin"
    assert _first_admin(runtime) == ""  # an account exists: nothing more is made
    runtime.db.dispose()
