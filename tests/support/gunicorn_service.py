"""The production web processes in a test: `gunicorn -c deploy/gunicorn.conf.py` on a free port,
configured by a folder's `sms-ktp.toml` (the console gateway into `folder/outbox.jsonl`), and the
SMS it sent."""

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

import requests
from live_service import PHONE

ROOT = Path(__file__).resolve().parents[2]
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
            # Workers booting on a busy machine may accept and answer late: asked again.
            with suppress(requests.ConnectionError, requests.Timeout):
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
