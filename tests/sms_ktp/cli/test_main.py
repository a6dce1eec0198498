"""The `sms-ktp` command as an operator runs it: a real process (the installed script), the
embedded default in an empty folder, real HTTP, a worker of its own, the SMS read from the
console gateway's file; the refusals before any work by the script's `main` in this process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from cli_runner import invoke

from sms_ktp.cli.main import whatsapp_line
from sms_ktp.platform.config import Settings

SCRIPT = Path(sys.executable).with_name("sms-ktp")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "sms_ktp.cli.main"]
NIK, KK = "3271014501900001", "3271010101200003"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SMS_KTP_")}
    return subprocess.run([*COMMAND, *args], cwd=cwd, input="", capture_output=True, text=True,
                          timeout=60, env=environment)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def sent(folder: Path) -> list[dict[str, str]]:
    outbox = folder / "var" / "outbox.jsonl"
    if not outbox.exists():
        return []
    return [json.loads(line) for line in outbox.read_text("utf-8").splitlines()]


def test_init_db_creates_the_embedded_default_in_the_current_folder(tmp_path):
    result = run("init-db", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "var" / "sms-ktp.db").exists()
    assert (tmp_path / "var" / "webhook_token").stat().st_mode & 0o077 == 0
    assert invoke(tmp_path, "init-db", config_file=False).returncode == 0  # again: nothing breaks


def test_serve_answers_a_resident_with_one_command(tmp_path):
    port = free_port()
    process = subprocess.Popen([*COMMAND, "serve", "--port", str(port)], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={k: v for k, v in os.environ.items()
                                    if not k.startswith("SMS_KTP_")})
    try:
        banner = wait_for(lambda: process.stdout.readline())
        while "inbound SMS" not in banner:
            banner = process.stdout.readline()
        while "WhatsApp:" not in (line := process.stdout.readline()):
            pass
        assert "off (set [gateway.whatsapp] phone_number_id)" in line  # the embedded default
        token = (tmp_path / "var" / "webhook_token").read_text().strip()
        assert f"/gateway/africastalking/{token}/sms" in banner
        url = f"http://127.0.0.1:{port}/gateway/africastalking/{token}/sms"
        form = {"id": "ATXid_1", "from": "081234567890", "to": "98765",
                "text": f"DAFTAR {NIK}#{KK}#2"}
        assert requests.post(url, data=form, timeout=10).status_code == 200
        [reply] = wait_for(lambda: sent(tmp_path))
        assert reply["to"] == "+6281234567890"
        assert reply["text"].startswith("Periksa: NIK ***0001, KK ***0003, alasan hilang.")
        assert requests.post(url, data=form, timeout=10).status_code == 200  # retried
        form = {**form, "id": "ATXid_2", "text": "YA"}
        assert requests.post(url, data=form, timeout=10).status_code == 200
        replies = wait_for(lambda: sent(tmp_path)[1:])
        assert [r["text"][:22] for r in replies] == ["Pendaftaran diterima, "]
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0]
    assert NIK not in output and KK not in output  # nothing in the logs either


def test_worker_once_sends_what_a_separate_web_process_queued(tmp_path):
    config = tmp_path / "sms-ktp.toml"
    config.write_text('[gateway]\nwebhook_token = "secret-token-123"\n'
                      '[worker]\nembedded = false\n')
    simulate = invoke(tmp_path, "simulate", "--phone", "0857 1111 2222",
                      stdin="DAFTAR\n3271014501900001\n")  # SMS_KTP_CONFIG: the file above
    assert simulate.returncode == 0, simulate.stderr
    assert "<< Daftar cetak KTP-el Kota Bogor." in simulate.stdout
    assert "<< Kirim nomor KK" in simulate.stdout
    assert [sms["to"] for sms in sent(tmp_path)] == ["+6285711112222"] * 2
    once = run("--config", str(config), "worker", "--once", cwd=tmp_path)
    assert once.returncode == 0, once.stderr
    assert "'sent': 0" in once.stdout


def test_a_broken_configuration_is_reported_not_a_traceback(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("[gateway]\nprovider = \"pigeon\"\n")
    result = invoke(tmp_path, "--config", str(config), "init-db", config_file=False)
    assert result.returncode == 2
    assert "unknown [gateway] provider 'pigeon'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("number", ["4444", "not-a-phone"])
def test_simulate_refuses_a_number_that_is_not_a_mobile(tmp_path, number):
    result = invoke(tmp_path, "simulate", "--phone", number, config_file=False)
    assert result.returncode == 2
    assert "not a mobile number" in result.stderr


def test_serve_on_a_port_in_use_says_so(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = run("serve", "--port", str(busy.getsockname()[1]), cwd=tmp_path)
    assert result.returncode == 1
    assert "is in use by another program" in result.stderr and "Traceback" not in result.stderr


def test_serve_names_the_whatsapp_callback_url_or_how_to_switch_it_on():
    settings = Settings()
    settings.gateway.webhook_token = "t0ken"
    assert whatsapp_line(settings, "127.0.0.1", 8000) == (
        "off (set [gateway.whatsapp] phone_number_id)")
    settings.gateway.whatsapp.phone_number_id = "1234567890"
    assert whatsapp_line(settings, "127.0.0.1", 8000).startswith(
        "GET/POST http://127.0.0.1:8000/gateway/whatsapp/t0ken  (Meta's callback URL")
    settings.server.public_url = "https://ktp.bogorkota.go.id/"
    assert whatsapp_line(settings, "0.0.0.0", 8000).startswith(
        "GET/POST https://ktp.bogorkota.go.id/gateway/whatsapp/t0ken  ")
