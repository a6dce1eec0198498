"""The operator commands as scripts call them: output, summaries and exit codes (the script's
`main` in this process; a real process where its standard error is a terminal)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from cli_runner import invoke, run_on_a_terminal

NIK, KK = "3271014501900001", "3271010101200003"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "sms-ktp.toml").write_text('[notifications]\nquiet_hours = ""\n')
    return tmp_path


def register(folder: Path) -> None:
    result = invoke(folder, "simulate", "--phone", "081234567890",
                    stdin=f"DAFTAR {NIK}#{KK}#2\nYA\n")
    assert "Pendaftaran diterima" in result.stdout, result.stderr


@pytest.mark.parametrize(("text", "why"), [
    ("nik,result,note\nx,PRR,\n3271014501909999,LATER,\n", "  baris 2: NIK harus 16 angka"),
    ("3271014501909999,PRR,\n",
     "  baris 1: judul kolom tidak ditemukan: baris pertama harus berisi judul kolom NIK dan "
     "hasil (misalnya nik;hasil;keterangan)"),
    ("nama,hasil\n3271014501909999,PRR\n", "  baris 1: judul kolom tidak ditemukan"),
])
def test_a_penunggalan_file_whose_every_row_is_refused_fails_and_says_so(folder, text, why):
    (folder / "results.csv").write_text(text)
    result = invoke(folder, "penunggalan", "import", "results.csv")
    assert result.returncode == 1
    assert result.stdout.startswith("diterapkan: 0\n") and why in result.stdout
    assert "Semua baris ditolak: tidak ada hasil yang diterapkan." in result.stderr


def test_a_penunggalan_file_of_unknown_niks_only_is_not_a_failure(folder):
    (folder / "results.csv").write_text("nik,result,note\n3271014501909999,PRR,\n")
    result = invoke(folder, "penunggalan", "import", "results.csv")
    assert result.returncode == 0 and "NIK tidak dikenal: 1" in result.stdout
    assert result.stderr == "" or "ditolak" not in result.stderr


def test_a_penunggalan_file_that_cannot_be_read_says_why_in_indonesian(folder):
    (folder / "hasil.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500))
    old_excel = invoke(folder, "penunggalan", "import", "hasil.xls")
    assert old_excel.returncode == 2 and "Berkas Excel lama (.xls) tidak bisa dibaca" in (
        old_excel.stderr)
    missing = invoke(folder, "penunggalan", "import", "tidak-ada.csv")
    assert missing.returncode == 2 and "tidak-ada.csv tidak bisa dibaca" in missing.stderr


def test_a_penunggalan_workbook_reported_line_by_line(folder):
    from openpyxl import Workbook

    register(folder)
    book = Workbook()
    sheet = book.active
    sheet.append(["Hasil penunggalan"])  # a title above the header
    sheet.append(["No", "NIK", "Hasil", "Keterangan"])
    sheet.append([1, NIK, "prr", ""])
    sheet.append([2, "3271014501909999", "GANDA", "rekam 2019"])
    sheet.append([3, "12345", "PRR", ""])
    book.save(folder / "hasil.xlsx")
    result = invoke(folder, "penunggalan", "import", "--rows", "hasil.xlsx")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[4:] == [
        "  baris 5: NIK harus 16 angka (tertulis '***2345')",
        "baris 3\t***0001\tditerapkan: siap cetak, masuk antrean cetak; warga diberi tahu "
        "lewat SMS",
        "baris 4\t***9999\tNIK tidak dikenal: tidak ada permohonan dengan NIK ini",
        "baris 5\t***2345\tNIK harus 16 angka (tertulis '***2345')"]
    assert NIK not in result.stdout


def test_from_penunggalan_to_the_counter(folder):
    register(folder)
    rows = ["nik,result,note", f"{NIK},PRR,ok", "3271014501909999,DUPLICATE,", "x,PRR,",
            f"{NIK},LATER,"] + [f"32710245019{n:05d},PRR," for n in range(1, 1200)]
    (folder / "results.csv").write_text("\n".join(rows) + "\n")
    first = invoke(folder, "penunggalan", "import", "results.csv")
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[:4] == [
        "diterapkan: 1", "NIK tidak dikenal: 1200", "sudah diterapkan sebelumnya: 0",
        "baris tidak valid: 2"]
    assert "  baris 4: NIK harus 16 angka" in first.stdout
    assert "  baris 5: hasil harus PRR atau DUPLICATE (tertulis 'LATER')" in first.stdout
    assert "baris" not in first.stderr  # no progress bar in a log or a script's pipe
    again = invoke(folder, "penunggalan", "import", "results.csv")
    assert again.returncode == 0, again.stderr  # nothing new, nothing refused either
    assert again.stdout.splitlines()[:3] == [
        "diterapkan: 0", "NIK tidak dikenal: 1200", "sudah diterapkan sebelumnya: 1"]

    assert "no free blangko" in invoke(folder, "print", "next").stdout
    refused = invoke(folder, "blangko", "add", "0")
    assert refused.returncode == 2 and "must be positive" in refused.stderr
    assert invoke(folder, "blangko", "add", "3").stdout.startswith(
        "added 3 blangko at disdukcapil: stock 3, reserved 0, free 3")
    table = invoke(folder, "print", "next", "--limit", "5").stdout
    assert table.startswith("batch 1 at disdukcapil: 1 card(s)") and "***0001" in table
    assert NIK not in table
    assert invoke(folder, "print", "done", "--all").stdout.strip() == "1 card(s) marked printed"
    twice = invoke(folder, "print", "done", "--batch", "1")
    assert twice.returncode == 1 and "already printed" in twice.stderr

    worker = invoke(folder, "worker", "--once")
    assert "'scheduled': 1" in worker.stdout, worker.stderr
    sent = (folder / "var" / "outbox.jsonl").read_text()
    code = sent.split("Kode ")[1][:6]
    # A reference not of the visit is refused and hands over nothing.
    stranger = invoke(folder, "pickup", "verify", code, "--only", "123456789")
    assert stranger.returncode == 1
    assert f"not a card of visit {code}: 123456789" in stranger.stderr
    collected = invoke(folder, "pickup", "verify", code.lower())
    assert collected.returncode == 0, collected.stderr
    reference = collected.stdout.split("ref ")[1][:9]
    assert collected.stdout == (f"visit {code}: 1 card(s)\n  ref {reference}  NIK ***0001\n"
                                f"collected: ref {reference}\n")
    used = invoke(folder, "pickup", "verify", code)
    assert used.returncode == 1 and f"pickup code {code} was already used" in used.stderr
    unknown = invoke(folder, "pickup", "verify", "QQQQQQ")
    assert unknown.returncode == 1 and "unknown pickup code QQQQQQ" in unknown.stderr


def test_a_large_file_shows_a_progress_bar_on_a_terminal_only(folder):
    rows = [f"32710245019{n:05d},PRR," for n in range(1, 1201)]
    (folder / "results.csv").write_text("\n".join(["nik,result,note", *rows]) + "\n")
    done, shown = run_on_a_terminal(folder, "penunggalan", "import", "results.csv")
    assert done.returncode == 0, shown
    assert "1200/1200 baris" in shown and "100%|" in shown
    assert done.stdout.splitlines()[:2] == ["diterapkan: 0", "NIK tidak dikenal: 1200"]
    piped = invoke(folder, "penunggalan", "import", "results.csv")
    assert piped.returncode == 0 and piped.stdout == done.stdout
    assert "baris" not in piped.stderr and "%|" not in piped.stderr

    (folder / "small.csv").write_text("\n".join(["nik,result,note", *rows[:999]]) + "\n")
    small, shown = run_on_a_terminal(folder, "penunggalan", "import", "small.csv")
    assert small.returncode == 0 and "baris" not in shown  # a small file needs no bar


@pytest.mark.parametrize(("args", "message"), [
    (["blangko", "add", "5", "--site", "mars"],
     "sms-ktp: unknown printing site 'mars' (configured: disdukcapil)"),
    (["print", "next", "--site", "mars"], "unknown printing site 'mars'"),
    (["blangko", "add", "-5"], "sms-ktp: the number of blangko to add must be positive"),
    (["print", "next", "--limit", "-3"], "sms-ktp: --limit must be positive"),
    (["print", "next", "--limit", "0"], "sms-ktp: --limit must be positive"),
    (["outbox", "requeue", "--phone", "12"], "sms-ktp: not a mobile number: 12"),
])
def test_wrong_values_are_refused_as_bad_usage(folder, args, message):
    result = invoke(folder, *args)
    assert result.returncode == 2 and message in result.stderr
    assert result.stdout == ""


def test_failed_sms_can_be_queued_again(folder):
    register(folder)
    with sqlite3.connect(folder / "var" / "sms-ktp.db") as connection:
        connection.execute("UPDATE outbox SET status = 'failed'")
    assert invoke(folder, "outbox", "requeue", "--phone", "0812 3456 7890").stdout.strip() == (
        "2 failed SMS queued again")
    assert invoke(folder, "outbox", "requeue").stdout.strip() == "0 failed SMS queued again"
    refused = invoke(folder, "outbox", "requeue", "--phone", "4444")
    assert refused.returncode == 2 and "not a mobile number" in refused.stderr
