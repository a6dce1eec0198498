"""bench/surge.py follows the load on a bar of the SMS answered, with the RSS of the service's
processes, on a terminal only: its standard output (the figures, the JSON last) stays as it was."""

from __future__ import annotations

import importlib
import io
import sys
import time
from pathlib import Path
from types import ModuleType, SimpleNamespace

import psutil
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def surge(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCH))  # as the script runs: its `common` beside it
    for name in ("surge", "common"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    module = importlib.import_module("surge")
    monkeypatch.setattr(module, "SAMPLE_SECONDS", 0.01)
    return module


def load(surge: ModuleType, stderr: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> object:
    """A monitor over this process as the service's, through a load of 100 SMS."""
    monkeypatch.setattr(sys, "stderr", stderr)
    answered = SimpleNamespace(value=0)
    this = psutil.Process()
    monitor = surge.Monitor(this, this, answered, warm_at=10, total=100)
    monitor.start()
    time.sleep(0.05)  # sampled before the clients start: no bar yet
    assert stderr.getvalue() == ""
    monitor.released()
    for answered.value in (5, 40, 100):
        time.sleep(0.3)
    monitor.finish()
    monitor.stop()
    return monitor


def test_on_a_terminal_the_answered_sms_go_up_a_bar(surge, monkeypatch, capsys):
    terminal = Terminal()
    monitor = load(surge, terminal, monkeypatch)
    shown = terminal.getvalue()
    assert "answered:" in shown and "100/100" in shown and "RSS MB: gunicorn_master " in shown
    assert "40/100" in shown  # it moved while the load went on
    assert capsys.readouterr().out == ""
    assert monitor.warm.answered >= 10 and monitor.end.answered == 100
    assert monitor.peaks["sms_ktp_worker"] > 0


def test_in_a_log_there_is_no_bar(surge, monkeypatch, capsys):
    log = io.StringIO()
    monitor = load(surge, log, monkeypatch)
    assert log.getvalue() == "" and capsys.readouterr().out == ""
    assert monitor.end.answered == 100 and monitor.peaks["gunicorn_master"] > 0
