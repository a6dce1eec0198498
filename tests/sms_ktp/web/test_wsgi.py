"""The web app as production runs it: a real gunicorn with deploy/gunicorn.conf.py serving
`sms_ktp.web.wsgi:app`, and `sms-ktp worker` a process of its own that sends the replies."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
import requests
from cli_runner import run
from live_service import KK, NIK, PHONE

from sms_ktp.platform.db import scratch_schema

ROOT = Path(__file__).resolve().parents[3]
CONF = ROOT / "deploy" / "gunicorn.conf.py"
GUNICORN = Path(sys.executable).with_name("gunicorn")
GUNICORN_COMMAND = [str(GUNICORN)] if GUNICORN.exists() else [sys.executable, "-m", "gunicorn"]
TOKEN = "wsgi-test-token-0123456789abcdef"
POSTGRES_ENV = "SMS_KTP_TEST_DATABASE_URL"


def write_config(folder: Path, database_url: str, *, embedded: bool = False,
                 token: str | None = TOKEN) -> None:
    """`folder/sms-ktp.toml`, as `cli_runner.run` reads it: the console gateway into
    `folder/outbox.jsonl`, data (generated secrets) under `folder/var`."""
    lines = [f"data_dir = {json.dumps(str(folder / 'var'))}",
             "[database]", f"url = {json.dumps(database_url)}",
             "[gateway]", 'provider = "console"',
             *([f'webhook_token = "{token}"'] if token else []),
             "[gateway.console]", f"outbox_file = {json.dumps(str(folder / 'outbox.jsonl'))}",
             "[worker]", f"embedded = {'true' if embedded else 'false'}",
             "dispatch_interval_seconds = 0.2",
             "[staff]", "password_time_cost = 1", "password_memory_kib = 32"]
    (folder / "sms-ktp.toml").write_text("\n".join(lines) + "\n", "utf-8")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Gunicorn:
    def __init__(self, process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
        self.process = process
        self.base_url = base_url
        self.log = log

    def sms(self, text: str, message_id: str, sender: str = PHONE,
            token: str = TOKEN) -> requests.Response:
        form = {"id": message_id, "from": sender, "to": "98765", "text": text,
                "date": "2026-11-30 09:00:00", "linkId": "", "networkCode": "51010"}
        # A new connection each time, so that the requests spread over the workers.
        return requests.post(f"{self.base_url}/gateway/africastalking/{token}/sms", data=form,
                             headers={"Connection": "close"}, timeout=10)

    def output(self) -> str:
        return self.log.read_text("utf-8", "replace")


@contextmanager
def gunicorn(folder: Path, *extra: str, workers: int = 2) -> Iterator[Gunicorn]:
    """gunicorn -c deploy/gunicorn.conf.py on a free port, configured by `folder/sms-ktp.toml`;
    it and every process it started are killed at the end, whatever happens."""
    port = free_port()
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith("SMS_KTP_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    environment["SMS_KTP_CONFIG"] = str(folder / "sms-ktp.toml")
    log = folder / "gunicorn.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*GUNICORN_COMMAND, "-c", str(CONF), "--bind", f"127.0.0.1:{port}",
             "--workers", str(workers), *extra, "sms_ktp.web.wsgi:app"],
            cwd=folder, env=environment, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True)
    server = Gunicorn(process, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, f"gunicorn exited:\n{server.output()}"
            with suppress(requests.ConnectionError):
                if requests.get(server.base_url + "/", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, f"gunicorn did not answer:\n{server.output()}"
            time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=15)
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def sent(folder: Path) -> list[dict[str, str]]:
    outbox = folder / "outbox.jsonl"
    if not outbox.exists():
        return []
    return [json.loads(line) for line in outbox.read_text("utf-8").splitlines()]


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
    created = run(tmp_path, "init-db")
    assert created.returncode == 0, created.stderr
    with gunicorn(tmp_path) as server:
        answer = server.sms(f"REG {NIK}#{KK}#2", "ATXid_wsgi_1")
        assert (answer.status_code, answer.text) == (200, "ok\n")
        assert sent(tmp_path) == []  # no worker inside the web processes

        once = run(tmp_path, "worker", "--once")
        assert once.returncode == 0, once.stderr
        [summary] = sent(tmp_path)
        assert summary["to"] == PHONE
        assert summary["text"].startswith("Periksa: NIK ***0001, KK ***0003, alasan hilang.")
        assert NIK not in summary["text"] and KK not in summary["text"]

        assert server.sms("YA", "ATXid_wsgi_2").status_code == 200
        assert server.sms("YA", "ATXid_wsgi_2").text == "duplicate\n"  # a retried webhook
        assert run(tmp_path, "worker", "--once").returncode == 0
        [_, done] = sent(tmp_path)
        assert done["to"] == PHONE
        assert done["text"].startswith("Pendaftaran diterima, no ref ")
        assert server.process.poll() is None
    output = server.output()
    assert "Traceback" not in output
    assert NIK not in output and KK not in output and PHONE not in output


def test_an_embedded_worker_is_not_started_under_gunicorn(tmp_path):
    write_config(tmp_path, f"sqlite:///{tmp_path / 'sms-ktp.db'}", embedded=True)
    assert run(tmp_path, "init-db").returncode == 0
    with gunicorn(tmp_path, workers=1) as server:
        assert server.sms("BANTUAN", "ATXid_embedded").status_code == 200
        time.sleep(1.0)  # five dispatch intervals: an embedded worker would have sent it
        assert sent(tmp_path) == []
        assert "[worker] embedded = true is ignored under gunicorn" in server.output()
    assert run(tmp_path, "worker", "--once").returncode == 0
    assert [sms["to"] for sms in sent(tmp_path)] == [PHONE]


def test_generated_secrets_are_the_same_in_every_worker(tmp_path):
    """No token in the configuration: the master generates it once before forking, so every
    worker accepts the same webhook URL (workers generating their own would disagree)."""
    write_config(tmp_path, f"sqlite:///{tmp_path / 'sms-ktp.db'}", token=None)
    assert run(tmp_path, "init-db").returncode == 0
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
    assert run(tmp_path, "init-db").returncode == 0
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
