"""Console gateway: the outbox file other tests and demos read back."""

from __future__ import annotations

import json
import logging
import re
import threading
from pathlib import Path

import pytest

from gateway.base import Gateway
from gateway.console import ConsoleGateway
from gateway.message import OutboundSms, SendResult, TemporaryFailure

PHONE = "+6281234567890"
NIK = "3271012345678901"


def read_lines(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_is_a_gateway(tmp_path: Path) -> None:
    gateway = ConsoleGateway(tmp_path / "outbox.jsonl")

    assert isinstance(gateway, Gateway)
    assert gateway.name == "console"


def test_send_appends_json_lines_and_creates_folders(tmp_path: Path) -> None:
    outbox = tmp_path / "var" / "sms" / "outbox.jsonl"
    gateway = ConsoleGateway(str(outbox))

    first = gateway.send(OutboundSms(id="a1", to=PHONE, text="Halo — jadwal Anda: Senin"))
    gateway.send(OutboundSms(id="a2", to="+6285700000001", text="line\nbreak"))

    assert first == SendResult(provider_message_id="console-a1")
    raw = outbox.read_text(encoding="utf-8")
    assert raw.count("\n") == 2
    assert "—" in raw  # ensure_ascii=False
    lines = read_lines(outbox)
    assert lines == [
        {"to": PHONE, "text": "Halo — jadwal Anda: Senin", "id": "a1"},
        {"to": "+6285700000001", "text": "line\nbreak", "id": "a2"},
    ]
    assert list(lines[0]) == ["to", "text", "id"]


def test_concurrent_sends_produce_intact_lines(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.jsonl"
    gateway = ConsoleGateway(outbox)
    threads_count, per_thread = 8, 50
    text = "x" * 2000
    start = threading.Barrier(threads_count)

    def worker(n: int) -> None:
        start.wait()
        for i in range(per_thread):
            gateway.send(OutboundSms(id=f"{n}-{i}", to=PHONE, text=text))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    lines = read_lines(outbox)
    assert len(lines) == threads_count * per_thread
    assert {line["id"] for line in lines} == {
        f"{n}-{i}" for n in range(threads_count) for i in range(per_thread)
    }
    assert all(line["text"] == text for line in lines)


def test_log_line_masks_phone_and_long_numbers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("test.console")
    gateway = ConsoleGateway(tmp_path / "outbox.jsonl", logger=logger)
    text = f"NIK {NIK} terdaftar, hubungi 081234567890 atau {PHONE}. Antrian 12345."

    with caplog.at_level(logging.INFO, logger="test.console"):
        gateway.send(OutboundSms(id="m1", to=PHONE, text=text))

    records = [r for r in caplog.records if r.name == "test.console"]
    assert len(records) == 1
    assert records[0].levelno == logging.INFO
    message = records[0].getMessage()
    assert not re.search(r"[0-9]{16}", message)
    assert NIK not in message
    assert PHONE not in message
    assert "81234567890" not in message
    assert "+62***890" in message
    assert "***8901" in message
    assert "12345" in message  # short numbers such as queue numbers stay readable


def test_default_logger_is_used(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        ConsoleGateway(tmp_path / "o.jsonl").send(OutboundSms(id="d", to=PHONE, text="hi"))

    assert any("+62***890" in r.getMessage() for r in caplog.records)


def test_write_error_is_temporary(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    gateway = ConsoleGateway(blocker / "outbox.jsonl")

    with pytest.raises(TemporaryFailure) as caught:
        gateway.send(OutboundSms(id="e", to=PHONE, text="hi"))

    assert caught.value.reason
