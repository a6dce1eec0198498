"""`sms-ktp region show` and `find` for the person installing the service, an unknown
`[region] code` stopping every command with one line, and a database of one regency refused
under another's code."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_runner import invoke

from sms_ktp.domain.wilayah import kecamatan_of

NIK = "3271014501900001"
KK = "3271010101200003"


def configured(folder: Path, code: str | None) -> Path:
    (folder / "sms-ktp.toml").write_text(
        '[notifications]\nquiet_hours = ""\n' + (f'[region]\ncode = "{code}"\n' if code else ""))
    return folder


def test_show_says_what_the_code_means(tmp_path):
    shown = invoke(configured(tmp_path, "7371"), "region", "show")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[:4] == ["regency     7371 Kota Makassar", "province    73 Sulawesi Selatan",
                         "time zone   WITA (Asia/Makassar)",
                         "kecamatan   15: KKs starting " + ", ".join(
                             f"7371{code}" for code in sorted(kecamatan_of("7371")))]
    assert lines[4:6] == ["languages   id, en", "offices     15"]
    assert lines[6] == "  01  Kantor Kec. Mariso (Kota Makassar)"
    assert len(lines) == 6 + 15


def test_show_without_a_region_is_kota_bogor_with_sundanese(tmp_path):
    shown = invoke(configured(tmp_path, None), "region", "show").stdout.splitlines()
    assert shown[0] == "regency     3271 Kota Bogor"
    assert shown[2] == "time zone   WIB (Asia/Jakarta)"
    assert shown[4] == "languages   id, en, su" and shown[5] == "offices     6"


@pytest.mark.parametrize(("words", "expected"), [
    (["bogor"], ["3201  Kabupaten Bogor", "3271  Kota Bogor"]),
    (["kota", "JAYAPURA"], ["9171  Kota Jayapura"]),
    (["737"], ["7371  Kota Makassar", "7372  Kota Parepare", "7373  Kota Palopo"]),
])
def test_find_lists_regencies_with_their_codes(tmp_path, words, expected):
    found = invoke(configured(tmp_path, None), "region", "find", *words)
    assert found.returncode == 0 and found.stdout.splitlines() == expected


def test_find_says_when_nothing_matches(tmp_path):
    found = invoke(configured(tmp_path, None), "region", "find", "atlantis")
    assert found.returncode == 1 and found.stderr.strip() == (
        "sms-ktp: no regency matches 'atlantis'")


@pytest.mark.parametrize("command", [["init-db"], ["worker", "--once"], ["serve"]])
def test_an_unknown_code_stops_the_service_with_one_line(tmp_path, command):
    stopped = invoke(configured(tmp_path, "9999"), *command)
    assert stopped.returncode == 2
    assert stopped.stderr.strip().splitlines() == [
        "sms-ktp: configuration: [region] code: '9999' is not a regency code of the Kemendagri "
        "table (4 digits, e.g. 3271 Kota Bogor; `sms-ktp region find NAME` lists them)"]


def test_a_database_of_another_regency_is_refused(tmp_path):
    folder = configured(tmp_path, "3271")
    registered = invoke(folder, "simulate", "--phone", "081234567890",
                        stdin=f"DAFTAR {NIK}#{KK}#2\nYA\n")
    assert "Pendaftaran diterima" in registered.stdout, registered.stderr
    configured(folder, "3276")
    for command in (["init-db"], ["worker", "--once"]):
        refused = invoke(folder, *command)
        assert refused.returncode == 1, refused.stdout
        assert refused.stderr.strip().splitlines()[-1] == (
            "sms-ktp: this database holds families of 3271 Kota Bogor, but "
            "[region] code is 3276 (Kota Depok): serve each regency from a database of its own "
            "([database] url)")
    configured(folder, "3271")
    assert invoke(folder, "init-db").returncode == 0


def test_kelurahan_lists_the_codes_a_helper_account_takes(tmp_path):
    found = invoke(configured(tmp_path, None), "region", "kelurahan", "batu", "TULIS")
    assert found.returncode == 0, found.stderr
    assert found.stdout.splitlines() == ["3271011001  Batu Tulis (Kec. Bogor Selatan)"]
    everything = invoke(configured(tmp_path, None), "region", "kelurahan").stdout.splitlines()
    assert len(everything) == 68 and everything[0].startswith("3271011001  ")
    missing = invoke(configured(tmp_path, None), "region", "kelurahan", "makassar")
    assert missing.returncode == 1 and "no kelurahan or desa of Kota Bogor" in missing.stderr

