"""Two regencies from one PostgreSQL server: each its own schema (`[database] url`), its own
gunicorn and its own `sms-ktp worker`, and neither sees the other's residents."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cli_runner import run
from gunicorn_service import gunicorn, sent, write_config

from sms_ktp.platform.db import scratch_schema

POSTGRES_ENV = "SMS_KTP_TEST_DATABASE_URL"
PHONE = "+6281234567890"
# (code, name, a resident's NIK and KK there)
KOTA_BOGOR = ("3271", "Kota Bogor", "3271014501900001", "3271010101200003")
KOTA_MAKASSAR = ("7371", "Kota Makassar", "7371154501900001", "7371150101200003")


@pytest.fixture
def postgres_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV} "
                    "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    return url


def regency_folder(root: Path, code: str, database_url: str) -> Path:
    folder = root / code
    folder.mkdir()
    write_config(folder, database_url)
    with (folder / "sms-ktp.toml").open("a", encoding="utf-8") as config:
        config.write(f'[region]\ncode = "{code}"\n[notifications]\nquiet_hours = ""\n')
    created = run(folder, "init-db")
    assert created.returncode == 0, created.stderr
    return folder


def test_two_regencies_side_by_side_on_one_server(postgres_url, tmp_path):
    with (scratch_schema(postgres_url, "sms_ktp_bogor") as bogor_url,
          scratch_schema(postgres_url, "sms_ktp_makassar") as makassar_url):
        folders = {KOTA_BOGOR: regency_folder(tmp_path, "3271", bogor_url),
                   KOTA_MAKASSAR: regency_folder(tmp_path, "7371", makassar_url)}
        with gunicorn(folders[KOTA_BOGOR], workers=1) as bogor, \
                gunicorn(folders[KOTA_MAKASSAR], workers=1) as makassar:
            servers = {KOTA_BOGOR: bogor, KOTA_MAKASSAR: makassar}
            for (code, _, nik, kk), server in servers.items():
                assert server.sms(f"DAFTAR {nik}#{kk}#2", f"{code}_1").status_code == 200
                assert server.sms("YA", f"{code}_2").status_code == 200
            # Each one's resident, texting the other regency's number, is not its resident.
            assert makassar.sms(f"DAFTAR {KOTA_BOGOR[2]}#{KOTA_BOGOR[3]}#2",
                                "7371_3", sender="+6285711112222").status_code == 200
        for folder in folders.values():
            worked = run(folder, "worker", "--once")
            assert worked.returncode == 0, worked.stderr
            texts = [sms["text"] for sms in sent(folder) if sms["to"] == PHONE]
            assert any("Pendaftaran diterima" in text for text in texts), texts
        refused = [sms["text"] for sms in sent(folders[KOTA_MAKASSAR])
                   if sms["to"] == "+6285711112222"]
        assert len(refused) == 1 and "Kota Makassar" in refused[0] and "Kota Bogor" not in (
            refused[0])
        # A worker pointed at the other regency's schema refuses to start: another
        # installation's keys, and another regency.
        (folders[KOTA_MAKASSAR] / "sms-ktp.toml").write_text(
            (folders[KOTA_MAKASSAR] / "sms-ktp.toml").read_text("utf-8").replace(
                makassar_url, bogor_url), "utf-8")
        mixed = run(folders[KOTA_MAKASSAR], "worker", "--once")
        assert mixed.returncode == 1 and mixed.stderr.startswith(
            "sms-ktp: this database holds families that this installation's keys "
            "cannot open"), mixed.stderr
