"""A work queue written out as a file offices open: CSV as Excel in Indonesia reads it (UTF-8
with a byte-order mark, so names and "Kantor Kec." come out right; `;` between fields, since
the Indonesian locale writes decimals with a comma) and XLSX, where a 16-digit NIK stays text
(Excel would round it as a number beyond 15 digits).

The CSV is produced line by line as the rows come, so a 30,000-row export streams out of the
server instead of being built in memory first. The XLSX workbook is written in openpyxl's
write-only mode (rows go to a temporary file as they come).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import IO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from sms_ktp.backoffice.wording import document_words, stage_words
from sms_ktp.backoffice.worklist import ExportRow
from sms_ktp.domain import region
from sms_ktp.domain.pickup_calendar import local

BOM = "\ufeff"
DELIMITER = ";"
HEADERS = ("Nomor ref", "NIK", "Nomor KK", "Dokumen", "Tahap", "Kode kecamatan", "Kecamatan",
           "Kanal", "Dibuat", "Siap cetak", "Dicetak", "Kantor ambil", "Jadwal ambil", "Diambil")
CHANNELS = {"sms": "SMS", "ussd": "USSD", "staff": "Petugas"}
_TIME_FORMAT = "%Y-%m-%d %H:%M"


def _local(moment: datetime | None) -> datetime | None:
    """A stored UTC instant as the regency's wall clock, without a zone: spreadsheets keep no
    zone, and the header says which one it is."""
    return None if moment is None else local(moment).replace(tzinfo=None)


def _cells(row: ExportRow) -> list[str | datetime | None]:
    kecamatan = region.current().kecamatan
    return [row.reference, row.nik, row.kk, document_words(row.document),
            stage_words(row.stage),
            row.kecamatan_code, kecamatan.get(row.kecamatan_code, ""),
            CHANNELS.get(row.channel, row.channel), _local(row.created_at),
            _local(row.ready_at), _local(row.printed_at),
            kecamatan.get(row.pickup_office, row.pickup_office) if row.pickup_office else None,
            _local(row.pickup_at), _local(row.collected_at)]


def headers() -> list[str]:
    """The column titles; the times' columns say their zone (WIB, WITA or WIT)."""
    zone = region.current().zone_label
    return [f"{title} ({zone})" if title in ("Dibuat", "Siap cetak", "Dicetak", "Jadwal ambil",
                                              "Diambil") else title for title in HEADERS]


def csv_lines(rows: Iterable[ExportRow]) -> Iterator[str]:
    """The CSV file as chunks of text, the byte-order mark first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=DELIMITER)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(headers())
    yield BOM + flush()
    for number, row in enumerate(rows, start=1):
        writer.writerow(["" if value is None else
                         value.strftime(_TIME_FORMAT) if isinstance(value, datetime) else value
                         for value in _cells(row)])
        if number % 500 == 0:
            yield flush()
    yield flush()


def write_xlsx(rows: Iterable[ExportRow], target: IO[bytes], *, title: str) -> int:
    """The workbook into `target`; returns how many rows it holds."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header_cells = []
    for text in headers():
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = bold
        header_cells.append(cell)
    sheet.append(header_cells)
    written = 0
    for row in rows:
        cells = []
        for value in _cells(row):
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, datetime):
                cell.number_format = "dd/mm/yyyy hh:mm"
            elif isinstance(value, str):
                cell.number_format = "@"  # text: a NIK is an identifier, not a number
            cells.append(cell)
        sheet.append(cells)
        written += 1
    book.save(target)
    return written
