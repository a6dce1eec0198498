"""`sms-ktp privacy rotate-key` as an operator runs it: after a new data key is configured (the old
one kept among the previous keys), every sealed value is sealed again under the new key, then
the old key can go; `--lookup` makes every keyed hash again under a new lookup key. Through the
command line's own `main` (in this process; in a real one where a terminal shows the progress),
on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import cli_runner
import pytest
import sqlalchemy as sa
from live_service import DATA_KEY, KK, KK_2, LOOKUP_KEY, NIK, NIK_2

from flows.catalogue import render
from sms_ktp import crypto
from sms_ktp.platform.db import Database

NEW_KEY = "bmV3LWRhdGEta2V5LTAwMDAwMDAwMDAwMDAwMDAwMDA"
NEW_LOOKUP = "bmV3LWxvb2t1cC1rZXktMDAwMDAwMDAwMDAwMDAwMDA"
PHONE, PHONE_2 = "081234567890", "085711112222"
SEALED_COLUMNS = (("application", "nik"), ("family", "kk"), ("phone_state", "answers"),
                  ("phone_state", "prefill"))


def key_id(key: str) -> str:
    return crypto.key_id(crypto.parse_key(key, "test"))


def configure(folder: Path, url: str, data_key: str, previous: tuple[str, ...] = (),
              lookup_key: str = LOOKUP_KEY) -> None:
    (folder / "sms-ktp.toml").write_text(
        'data_dir = "var"\n'
        f"[database]\nurl = {json.dumps(url)}\n"
        '[gateway]\nprovider = "console"\nwebhook_token = "rotation-token-0123456789"\n'
        '[gateway.console]\noutbox_file = "outbox.jsonl"\n'
        f'[privacy]\ndata_key = "{data_key}"\nprevious_data_keys = {json.dumps(list(previous))}\n'
        f'lookup_key = "{lookup_key}"\n', "utf-8")


def sms(folder: Path, phone: str, *texts: str) -> list[str]:
    """The replies a terminal phone (`sms-ktp simulate`) gets to `texts`."""
    done = cli_runner.invoke(folder, "simulate", "--phone", phone,
                             stdin="\n".join(texts) + "\n")
    assert done.returncode == 0, done.stderr
    return re.findall(r"^  << (.*)$", done.stdout, re.M)


def rotate(folder: Path, *args: str) -> Any:
    return cli_runner.invoke(folder, "privacy", "rotate-key", *args)


def rotate_on_a_terminal(folder: Path) -> tuple[subprocess.CompletedProcess[str], str]:
    return cli_runner.run_on_a_terminal(folder, "privacy", "rotate-key")


def stored(database: Database) -> dict[str, list[str]]:
    """The sealed values as the database holds them, by column."""
    with database.connect() as connection:
        return {f"{table}.{column}": list(connection.execute(sa.text(
            f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL")).scalars())
            for table, column in SEALED_COLUMNS}


def hashes(database: Database) -> tuple[Any, ...]:
    with database.connect() as connection:
        return (*connection.execute(sa.text("SELECT nik_hash, active_nik FROM application")
                                    ).one(),
                connection.execute(sa.text("SELECT kk_hash FROM family")).scalar_one())


def audited(database: Database) -> list[tuple[str, str, str]]:
    with database.connect() as connection:
        return [tuple(row) for row in connection.execute(sa.text(
            "SELECT actor, action, target FROM audit_entry WHERE action LIKE 'privacy.%' "
            "ORDER BY id"))]


@pytest.fixture
def folder(tmp_path: Path, database: Database) -> Path:
    """A service on `database` (a SQLite file or a PostgreSQL schema) with data sealed under
    DATA_KEY: an application and a dialogue left half-way."""
    configure(tmp_path, database.url, DATA_KEY)
    assert "ref" in " ".join(sms(tmp_path, PHONE, f"DAFTAR {NIK}#{KK}#2", "YA"))
    sms(tmp_path, PHONE_2, "DAFTAR", NIK_2, KK_2)
    return tmp_path


def test_a_new_data_key_takes_over_every_value_and_the_old_key_can_go(folder, database):
    old, new = key_id(DATA_KEY), key_id(NEW_KEY)
    before = stored(database)
    assert before["application.nik"] and before["family.kk"] and before["phone_state.answers"]
    assert all(value.startswith(f"1:{old}:") for values in before.values() for value in values)
    configure(folder, database.url, NEW_KEY, previous=(DATA_KEY,))

    done = rotate(folder)

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no progress bar in a log or a script's pipe
    lines = done.stdout.splitlines()
    assert lines[0] == f"data key {new}; previous keys {old}"
    for name, values in before.items():
        assert f"  {name}: {len(values)} encrypted again" in lines
    assert lines[-1] == (f"every value is under data key {new}: the previous keys may now be "
                         "removed from [privacy] previous_data_keys")
    after = stored(database)
    assert {name: len(values) for name, values in after.items()} == {
        name: len(values) for name, values in before.items()}
    assert all(value.startswith(f"1:{new}:") for values in after.values() for value in values)

    again = rotate(folder)  # nothing left to do
    assert again.returncode == 0, again.stderr
    assert all(f"  {name}: 0 encrypted again" in again.stdout for name in before)
    assert stored(database) == after

    configure(folder, database.url, NEW_KEY)  # the old key removed: everything still reads
    [status] = sms(folder, PHONE, "STATUS")
    assert "***0001" in status
    assert "***0004" in sms(folder, PHONE_2, "4")[0]  # the dialogue half-way goes on
    assert [(action, target) for _, action, target in audited(database)] == [
        ("privacy.rotate_key", f"data key {new}")] * 2
    assert all(actor.startswith("operator:") for actor, _, _ in audited(database))


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_on_a_terminal_each_column_shows_a_progress_bar(folder, database):
    configure(folder, database.url, NEW_KEY, previous=(DATA_KEY,))

    done, shown = rotate_on_a_terminal(folder)

    assert done.returncode == 0, shown
    for table, column in SEALED_COLUMNS:
        assert re.search(rf"{table}\.{column}: +\d+%\|.*\| \d+/\d+ ", shown), shown
    assert "  application.nik: 1 encrypted again" in done.stdout.splitlines()
    assert all(value.startswith(f"1:{key_id(NEW_KEY)}:")
               for values in stored(database).values() for value in values)


def test_values_under_a_key_no_longer_configured_are_left_and_reported(folder, database):
    configure(folder, database.url, NEW_KEY)  # the old key forgotten instead of kept

    done = rotate(folder)

    assert done.returncode == 1
    assert "  application.nik: 0 encrypted again, 1 under a key not configured" in done.stdout
    assert "add that key to previous_data_keys and run again" in done.stderr
    assert all(value.startswith(f"1:{key_id(DATA_KEY)}:")
               for values in stored(database).values() for value in values)


def test_a_new_lookup_key_makes_every_keyed_hash_again(folder, database):
    before = hashes(database)
    new = crypto.make_ring(DATA_KEY, (), NEW_LOOKUP)

    done = rotate(folder, "--lookup", "--new-lookup-key", NEW_LOOKUP)

    assert done.returncode == 0, done.stderr
    for name in ("application.nik_hash", "application.active_nik", "family.kk_hash"):
        assert f"  {name}: 1 keyed hashes made again" in done.stdout
    assert "Put the new lookup key into [privacy] lookup_key" in done.stdout
    assert NEW_LOOKUP not in done.stdout  # given by the operator: not printed
    assert hashes(database) == (new.keyed_hash(NIK, "nik"), new.keyed_hash(NIK, "nik"),
                                new.keyed_hash(KK, "kk")) != before
    assert [action for _, action, _ in audited(database)] == [
        "privacy.rotate_key", "privacy.rotate_lookup_key"]

    # With the new key configured, the lookups find the resident and the family again.
    configure(folder, database.url, DATA_KEY, lookup_key=NEW_LOOKUP)
    again = sms(folder, PHONE, f"DAFTAR {NIK}#{KK}#2")[-1]  # its family: the reference back
    assert again.startswith(f"NIK ***{NIK[-4:]} sudah terdaftar, no ref ")
    assert sms(folder, "081300000003", "BATAL", f"DAFTAR {NIK_2}#{KK}#2")[-1] == render(
        "id", "error.kk.other_phone")


def test_without_a_new_lookup_key_one_is_made_and_shown_once(folder, database):
    done = rotate(folder, "--lookup")

    assert done.returncode == 0, done.stderr
    [shown] = re.findall(r"^  ([A-Za-z0-9_-]{43})$", done.stdout, re.M)
    assert hashes(database)[0] == crypto.make_ring(DATA_KEY, (), shown).keyed_hash(NIK, "nik")


WRONG = [
    (("--batch", "0"), "--batch must be at least 1"),
    (("--new-lookup-key", NEW_LOOKUP), "--new-lookup-key is used only with --lookup"),
    (("--lookup", "--new-lookup-key", "short"), "the new lookup key must be 32 random bytes"),
    (("--lookup", "--new-lookup-key", LOOKUP_KEY), "the one configured now"),
    (("--lookup", "--new-lookup-key", DATA_KEY), "must differ from the data keys"),
]


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_wrong_usage_changes_nothing(folder, database):
    before = (stored(database), hashes(database))

    for args, message in WRONG:
        done = rotate(folder, *args)
        assert done.returncode == 2 and message in done.stderr, args

    assert (stored(database), hashes(database)) == before
