"""Exports read back as an office reads them: the CSV with Python's csv module the way Excel in
Indonesia splits it (BOM, `;`), the XLSX with openpyxl (a NIK kept as text)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from openpyxl import load_workbook

from sms_ktp.backoffice.export import BOM, csv_lines, write_xlsx
from sms_ktp.backoffice.worklist import ExportRow

CREATED = datetime(2026, 11, 30, 2, 5, tzinfo=UTC)  # 09.05 WIB
ROWS = [
    ExportRow("123456789", "3271014501900001", "3271010101200003", "print_queue", "01", "sms",
              CREATED, CREATED, None, None, None, None),
    ExportRow("223456780", "***0002", "***0004", "pickup_scheduled", "06", "staff", CREATED,
              CREATED, CREATED, "06", datetime(2026, 12, 1, 1, 30, tzinfo=UTC), None),
    ExportRow("323456781", "***0003", "***0005", "signed", "02", "sms", CREATED,
              None, None, None, None, None, document="akta_lahir"),
]


def test_the_csv_opens_in_indonesian_excel():
    data = "".join(csv_lines(iter(ROWS))).encode("utf-8")
    assert data.startswith(BOM.encode("utf-8"))
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert table[0][:5] == ["Nomor ref", "NIK", "Nomor KK", "Dokumen", "Tahap"]
    assert "Dibuat (WIB)" in table[0] and len(table) == 4
    first, second, third = (dict(zip(table[0], row, strict=True)) for row in table[1:])
    assert first["NIK"] == "3271014501900001" and first["Tahap"] == "antre cetak"
    assert first["Kecamatan"] == "Bogor Selatan" and first["Dibuat (WIB)"] == "2026-11-30 09:05"
    assert first["Dicetak (WIB)"] == "" and first["Kanal"] == "SMS"
    assert second["NIK"] == "***0002" and second["Kanal"] == "Petugas"
    assert second["Kantor ambil"] == "Tanah Sareal"
    assert second["Jadwal ambil (WIB)"] == "2026-12-01 08:30"
    assert (first["Dokumen"], second["Dokumen"]) == ("KTP-el", "KTP-el")
    assert third["Dokumen"] == "Akta Kelahiran" and third["Jadwal ambil (WIB)"] == ""
    assert third["Tahap"] == "sudah TTE"  # the office's words for a stage


def test_the_csv_streams_in_chunks_rather_than_one_string():
    chunks = list(csv_lines(iter(ROWS * 600)))
    assert len(chunks) > 2 and sum(chunk.count("\n") for chunk in chunks) == 1801


def test_the_xlsx_keeps_a_nik_as_text_and_times_as_dates():
    target = io.BytesIO()
    assert write_xlsx(iter(ROWS), target, title="Permohonan") == 3
    sheet = load_workbook(io.BytesIO(target.getvalue())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("Nomor ref", "NIK", "Nomor KK", "Dokumen") and len(rows) == 4
    assert rows[1][1] == "3271014501900001" and sheet["B2"].data_type == "s"
    assert rows[1][8] == datetime(2026, 11, 30, 9, 5)  # the regency's wall clock
    assert rows[2][1] == "***0002" and rows[3][3] == "Akta Kelahiran"
