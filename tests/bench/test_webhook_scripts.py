"""The webhook benchmarks and the allocation benchmark run small, on SQLite: each serves the app
as `serve` builds it, posts to the real webhook and to its floor route, and checks the database
afterwards. A benchmark that cannot run (a refused floor route, a failed check) fails here, not
on the day its figures are needed. The figures themselves are not judged: speed is for `bench/`."""

from __future__ import annotations

import pytest
from bench_scripts import run_script

RUN = ["clients", "database", "server"]  # every webhook benchmark's last keys


@pytest.mark.parametrize(("script", "args", "keys"), [
    ("sms_turns.py", ("--turns", "60"), ["turns_per_s", "floor_per_s", "ratio", "turns"]),
    ("ussd.py", ("--sessions", "16"),
     ["ussd_per_s", "floor_per_s", "ratio", "p50_ms", "p99_ms", "sessions"]),
    ("whatsapp.py", ("--messages", "30"),
     ["whatsapp_per_s", "sms_per_s", "floor_per_s", "ratio", "messages"]),
])
def test_a_webhook_benchmark_measures_the_webhook_and_its_floor(script, args, keys):
    status, figures, output = run_script(script, *args, "--warmup", "12", "--rounds", "1",
                                         "--database-url", "sqlite")
    assert status == 0, output
    assert list(figures) == keys + RUN  # the last line's shape, which reports compare
    assert figures["database"] == "sqlite"
    assert figures[keys[0]] > 0 and figures["floor_per_s"] > 0, output
    assert "WARNING" not in output, output


def test_the_allocation_benchmark_schedules_every_card():
    status, figures, output = run_script("pickup_allocation.py", "--cards", "300")
    assert status == 0, output
    # One pickup SMS per family visit, fewer than the cards (families of several cards).
    assert figures["cards"] == 300, output
    assert figures["sms_rows"] == figures["family_visits"] < 300, output
    assert figures["seconds"] > 0 and figures["floor_rows_per_s"] > 0
