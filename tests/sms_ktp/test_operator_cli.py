"""The operator commands as scripts call them: output, summaries and exit codes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from cli_runner import run

NIK, KK = "3271014501900001", "3271010101200003"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "sms-ktp.toml").write_text('[notifications]\nquiet_hours = ""\n')
    return tmp_path




def register(folder: Path) -> None:
    result = run(folder, "simulate", "--phone", "081234567890", stdin=f"DAFTAR {NIK}#{KK}#2\nYA\n")
    assert "Pendaftaran diterima" in result.stdout, result.stderr


def test_from_penunggalan_to_the_counter(folder):
    register(folder)
    rows = ["nik,result,note", f"{NIK},PRR,ok", "3271014501909999,DUPLICATE,", "x,PRR,",
            f"{NIK},LATER,"] + [f"32710245019{n:05d},PRR," for n in range(1, 1200)]
    (folder / "results.csv").write_text("\n".join(rows) + "\n")
    first = run(folder, "penunggalan", "import", "results.csv")
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[:4] == ["applied: 1", "unknown NIK: 1200",
                                             "already applied: 0", "invalid rows: 2"]
    assert "  line 4: NIK must be 16 digits" in first.stdout
    assert "  line 5: result must be PRR or DUPLICATE (got 'LATER')" in first.stdout
    assert "1201/1201 rows" in first.stderr  # the progress bar of a large file
    again = run(folder, "penunggalan", "import", "results.csv")
    assert again.stdout.splitlines()[:3] == ["applied: 0", "unknown NIK: 1200",
                                             "already applied: 1"]

    assert "no free blangko" in run(folder, "print", "next").stdout
    refused = run(folder, "blangko", "add", "0")
    assert refused.returncode == 2 and "must be positive" in refused.stderr
    assert run(folder, "blangko", "add", "3").stdout.startswith(
        "added 3 blangko at disdukcapil: stock 3, reserved 0, free 3")
    table = run(folder, "print", "next", "--limit", "5").stdout
    assert table.startswith("batch 1 at disdukcapil: 1 card(s)") and "***0001" in table
    assert NIK not in table
    assert run(folder, "print", "done", "--all").stdout.strip() == "1 card(s) marked printed"
    twice = run(folder, "print", "done", "--batch", "1")
    assert twice.returncode == 1 and "already printed" in twice.stderr

    worker = run(folder, "worker", "--once")
    assert "'scheduled': 1" in worker.stdout, worker.stderr
    sent = (folder / "var" / "outbox.jsonl").read_text()
    code = sent.split("Kode ambil: ")[1][:6]
    assert run(folder, "pickup", "verify", code).stdout.startswith("collected: ref ")
    used = run(folder, "pickup", "verify", code)
    assert used.returncode == 1 and f"pickup code {code} was already used" in used.stderr
    unknown = run(folder, "pickup", "verify", "QQQQQQ")
    assert unknown.returncode == 1 and "unknown pickup code QQQQQQ" in unknown.stderr


def test_an_unknown_printing_site_is_refused(folder):
    result = run(folder, "blangko", "add", "5", "--site", "mars")
    assert result.returncode == 2 and "unknown printing site 'mars'" in result.stderr


def test_failed_sms_can_be_queued_again(folder):
    register(folder)
    with sqlite3.connect(folder / "var" / "sms-ktp.db") as connection:
        connection.execute("UPDATE outbox SET status = 'failed'")
    assert run(folder, "outbox", "requeue", "--phone", "0812 3456 7890").stdout.strip() == (
        "2 failed SMS queued again")
    assert run(folder, "outbox", "requeue").stdout.strip() == "0 failed SMS queued again"
    refused = run(folder, "outbox", "requeue", "--phone", "4444")
    assert refused.returncode == 2 and "not a mobile number" in refused.stderr
