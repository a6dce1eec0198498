"""Penunggalan rows as Kemendagri's files and the offices' Excel really write them: CSV with `;` or
`,` (UTF-8 with a BOM, Windows-1252, UTF-16), headers in English or Indonesian in any order, a
title above the header, XLSX workbooks (written here by openpyxl, as Excel's own are read); a
number typed into the wrong column is refused without being echoed in full."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import Workbook

from sms_ktp.applications.penunggalan import (
    NO_HEADER,
    Row,
    Summary,
    UnreadableFile,
    read_csv,
    read_file,
)

NIK = "3271014501900001"
NIK_2 = "3271015507880002"


def read(data: bytes) -> tuple[list[Row], Summary]:
    summary = Summary()
    return list(read_file(data, summary)), summary


def written(rows: list[list[object]], delimiter: str = ",", encoding: str = "utf-8") -> bytes:
    """A CSV file as Python's csv module (and Excel) writes it."""
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=delimiter).writerows(rows)
    return out.getvalue().encode(encoding)


def workbook(rows: list[list[object]]) -> bytes:
    book = Workbook()
    for values in rows:
        book.active.append(values)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_nik_in_the_result_column_is_not_echoed():
    summary = Summary()
    rows = list(read_csv(f"nik,result,note\n{NIK},{NIK},\n{NIK[:15]},PRR,\n", summary))
    assert rows == []
    assert summary.invalid == [(2, "hasil harus PRR atau DUPLICATE (tertulis '***0001')"),
                               (3, "NIK harus 16 angka (tertulis '***0000')")]
    assert NIK not in repr(summary.invalid) and NIK not in repr(summary.outcomes)
    assert [(o.line, o.nik, o.kind) for o in summary.outcomes] == [
        (2, "***0001", "invalid"), (3, "***0000", "invalid")]


def test_excel_in_indonesia_semicolons_a_bom_and_indonesian_headers():
    data = b"\xef\xbb\xbf" + written([["NIK", "Hasil", "Keterangan"], [NIK, "prr", ""],
                                      [NIK_2, "Duplikat", "rekam ganda; 2019"]], ";")
    rows, summary = read(data)
    assert rows == [Row(2, NIK, "PRR", ""), Row(3, NIK_2, "DUPLICATE", "rekam ganda; 2019")]
    assert summary.invalid == []


@pytest.mark.parametrize("encoding", ["cp1252", "utf-16"])
def test_windows_and_unicode_text_files(encoding):
    delimiter = "\t" if encoding == "utf-16" else ";"
    data = written([["nik", "result", "note"], [NIK, "DUPLICATE", "café"]], delimiter, encoding)
    rows, _ = read(data)
    assert rows == [Row(2, NIK, "DUPLICATE", "café")]


def test_columns_in_any_order_with_others_between_and_a_title_above():
    data = written([["Hasil penunggalan Kota Bogor"], [],
                    ["No.", "Keterangan", "Nama", "Status", "No. NIK"],
                    ["1", "ok", "Ani", "PRR", NIK], ["2", "", "Budi", "ganda", f"'{NIK_2}"]])
    rows, summary = read(data)
    assert rows == [Row(4, NIK, "PRR", "ok"), Row(5, NIK_2, "DUPLICATE", "")]
    assert summary.invalid == []


def test_a_file_without_a_header_is_refused_as_a_whole():
    rows, summary = read(written([[NIK, "PRR", ""], [NIK_2, "PRR", ""]]))
    assert rows == [] and summary.invalid == [(1, NO_HEADER)] and summary.all_rejected


def test_a_nik_excel_turned_into_scientific_notation_says_how_to_fix_it():
    rows, summary = read(written([["nik", "hasil"], ["3,27101E+15", "PRR"]], ";"))
    assert rows == []
    assert summary.invalid == [(2, "NIK tertulis sebagai angka ilmiah (3,27101E+15): "
                                   "angka-angkanya hilang; jadikan kolom NIK bertipe Teks di "
                                   "Excel lalu simpan lagi")]


def test_a_workbook_first_sheet_header_row_and_its_row_numbers():
    data = workbook([["NIK", "HASIL", "KETERANGAN"], [NIK, "PRR", None], [None, None, None],
                     [NIK_2, "DUPLICATE", "rekam 2019"], ["x", "PRR", None]])
    rows, summary = read(data)
    assert rows == [Row(2, NIK, "PRR", ""), Row(4, NIK_2, "DUPLICATE", "rekam 2019")]
    assert summary.invalid == [(5, "NIK harus 16 angka (tertulis '***')")]


def test_a_nik_kept_as_a_number_in_a_workbook():
    """Excel keeps 15 digits: a 16-digit number ending in 0 may have lost its last digit; one
    ending in another digit was written whole (by a program, not typed into Excel)."""
    rows, summary = read(workbook([["nik", "hasil"], [int(NIK), "PRR"],
                                   [3271014501900010, "PRR"], [float(NIK_2), "PRR"]]))
    assert rows == [Row(2, NIK, "PRR", ""), Row(4, NIK_2, "PRR", "")]
    assert summary.invalid == [(3, "NIK tersimpan sebagai angka di Excel, angka terakhirnya "
                                   "bisa berubah: jadikan kolom NIK bertipe Teks lalu simpan "
                                   "lagi")]
    assert "3271014501900010" not in repr(summary.outcomes)


@pytest.mark.parametrize(("data", "why"), [
    (b"PK\x03\x04 not really a workbook", "Berkas XLSX ini tidak bisa dibuka"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64), "Berkas Excel lama (.xls)"),
    (b"\x81\x8d\x8f\x90\x9d\x00\x00", "bukan CSV atau XLSX"),
])
def test_a_file_that_is_neither_says_what_to_do(data, why):
    with pytest.raises(UnreadableFile, match=why.replace("(", r"\(").replace(")", r"\)")):
        read(data)
