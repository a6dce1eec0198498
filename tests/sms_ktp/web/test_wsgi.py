"""The web app as production runs it: a real gunicorn with deploy/gunicorn.conf.py serving
`sms_ktp.web.wsgi:app`, and `sms-ktp worker` apart from the web processes (the command's own
`main`, run by the test) that sends the replies."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_runner import invoke
from gunicorn_service import gunicorn, sent, write_config
from live_service import KK, NIK, PHONE

from sms_ktp.platform.db import scratch_schema

POSTGRES_ENV = "SMS_KTP_TEST_DATABASE_URL"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A SQLite file, or a PostgreSQL schema of this test's own (several processes use it)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'sms-ktp.db'}"
        return
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV} "
                    "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    with scratch_schema(url, "sms_ktp_wsgi") as scoped:
        yield scoped


def test_a_registration_sms_through_gunicorn_and_a_separate_worker(database_url, tmp_path):
    write_config(tmp_path, database_url)
    created = invoke(tmp_path, "init-db")
    assert created.returncode == 0, created.stderr
    with gunicorn(tmp_path) as server:
        answer = server.sms(f"REG {NIK}#{KK}#2", "ATXid_wsgi_1")
        assert (answer.status_code, answer.text) == (200, "ok\n")
        assert sent(tmp_path) == []  # no worker inside the web processes

        once = invoke(tmp_path, "worker", "--once")
        assert once.returncode == 0, once.stderr
        [summary] = sent(tmp_path)
        assert summary["to"] == PHONE
        assert summary["text"].startswith("Periksa: NIK ***0001, KK ***0003, alasan hilang.")
        assert NIK not in summary["text"] and KK not in summary["text"]

        assert server.sms("YA", "ATXid_wsgi_2").status_code == 200
        assert server.sms("YA", "ATXid_wsgi_2").text == "duplicate\n"  # a retried webhook
        assert invoke(tmp_path, "worker", "--once").returncode == 0
        [_, done] = sent(tmp_path)
        assert done["to"] == PHONE
        assert done["text"].startswith("Pendaftaran diterima, no ref ")
        assert server.process.poll() is None
    output = server.output()
    assert "Traceback" not in output
    assert NIK not in output and KK not in output and PHONE not in output


def test_an_embedded_worker_is_not_started_under_gunicorn(tmp_path):
    write_config(tmp_path, f"sqlite:///{tmp_path / 'sms-ktp.db'}", embedded=True)
    assert invoke(tmp_path, "init-db").returncode == 0
    with gunicorn(tmp_path, workers=1) as server:
        assert server.sms("BANTUAN", "ATXid_embedded").status_code == 200
        time.sleep(1.0)  # five dispatch intervals: an embedded worker would have sent it
        assert sent(tmp_path) == []
        assert "[worker] embedded = true is ignored under gunicorn" in server.output()
    assert invoke(tmp_path, "worker", "--once").returncode == 0
    assert [sms["to"] for sms in sent(tmp_path)] == [PHONE]


def test_generated_secrets_are_the_same_in_every_worker(tmp_path):
    """No token in the configuration: the master generates it once before forking, so every
    worker accepts the same webhook URL (workers generating their own would disagree)."""
    write_config(tmp_path, f"sqlite:///{tmp_path / 'sms-ktp.db'}", token=None)
    assert invoke(tmp_path, "init-db").returncode == 0
    (tmp_path / "var" / "webhook_token").unlink()  # init-db made one: start without it
    with gunicorn(tmp_path, workers=3) as server:
        token = (tmp_path / "var" / "webhook_token").read_text("utf-8").strip()
        answers = {server.sms("BANTUAN", f"ATXid_secret_{n}", token=token).status_code
                   for n in range(12)}
        assert answers == {200}
        assert server.sms("BANTUAN", "ATXid_wrong", token="not-the-token").status_code == 404


def test_a_preloaded_app_serves_from_forked_workers(tmp_path):
    """--preload builds the app in the master; post_fork drops the pool it inherited."""
    write_config(tmp_path, f"sqlite:///{tmp_path / 'sms-ktp.db'}")
    assert invoke(tmp_path, "init-db").returncode == 0
    with gunicorn(tmp_path, "--preload") as server:
        answers = {server.sms("STATUS", f"ATXid_preload_{n}").status_code for n in range(6)}
        assert answers == {200}
    assert "Traceback" not in server.output()


def test_gunicorn_upgrades_an_empty_database_before_its_workers_serve(database_url, tmp_path):
    from sms_ktp.platform import schema
    from sms_ktp.platform.db import Database

    write_config(tmp_path, database_url)  # and no init-db
    with gunicorn(tmp_path, workers=2) as server:
        assert server.sms("STATUS", "ATXid_fresh").status_code == 200
    database = Database(database_url)
    try:
        assert schema.current_revision(database) == schema.head_revision()
    finally:
        database.dispose()
