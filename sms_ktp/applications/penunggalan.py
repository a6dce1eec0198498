"""Results of penunggalan (the Ministry's national de-duplication) applied to applications: from a
file (`sms-ktp penunggalan import`, the back office's upload) or the JSON endpoint of the
national-system integration.

The files are the ones offices really have: CSV as Excel writes it in Indonesia (`;` between
columns, Windows-1252 or UTF-8 with a BOM), CSV with `,`, or an XLSX workbook (its first sheet).
The header names the columns, in English or Indonesian (`nik`, `result`/`hasil`,
`note`/`keterangan`), in any order; a title row or two above it is skipped.

Each valid row is applied even when others are invalid; applying the same results again changes
nothing. A print-ready (PRR) card joins the print queue; a duplicate record cannot be printed and
the resident is told to visit the kecamatan office. Every row gets an outcome in words (staff
match them against the file by line number, with the NIK masked), in Indonesian like the back
office and the staff who read them on the page or from the command.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, bindparam, select

from flows.catalogue import render
from sms_ktp.applications.pipeline import change_stage
from sms_ktp.domain.masking import mask_id, redact
from sms_ktp.domain.quiet_hours import QuietHours
from sms_ktp.domain.stages import Stage
from sms_ktp.models import Application
from sms_ktp.platform.clock import Clock
from sms_ktp.platform.db import Database

RESULTS = {"PRR": Stage.PRINT_QUEUE, "DUPLICATE": Stage.DUPLICATE}
# What offices write for the two results (upper case, single spaces).
RESULT_WORDS = {"PRR": "PRR", "DUPLICATE": "DUPLICATE", "DUPLIKAT": "DUPLICATE",
                "GANDA": "DUPLICATE", "DATA GANDA": "DUPLICATE"}
# Column names, lower case with anything but letters and digits taken out ("No. NIK": "nonik").
NIK_NAMES = frozenset({"nik", "nonik", "nomornik", "nomorindukkependudukan"})
RESULT_NAMES = frozenset({"result", "hasil", "hasilpenunggalan", "status",
                          "statuspenunggalan"})
NOTE_NAMES = frozenset({"note", "notes", "keterangan", "ket", "catatan"})
HEADER_ROWS = 5  # rows searched for the header (a title above it is common)
MAX_ROWS = 200_000  # a day's results of a large city, with room to spare
NO_HEADER = ("judul kolom tidak ditemukan: baris pertama harus berisi judul kolom NIK dan hasil "
             "(misalnya nik;hasil;keterangan)")
ALL_REJECTED = "Semua baris ditolak: tidak ada hasil yang diterapkan."
BATCH = 500  # rows a transaction
_WAITING = {Stage.SUBMITTED.value, Stage.PENUNGGALAN.value}
_PRINTING_OR_LATER = {Stage.PRINT_READY.value, Stage.PRINT_QUEUE.value, Stage.PRINTED.value,
                      Stage.PICKUP_SCHEDULED.value, Stage.MISSED_PICKUP.value}
_T = Application.__table__
_FIND = (select(_T.c.id, _T.c.stage).where(_T.c.nik_hash == bindparam("nik"))
         .order_by(_T.c.active_nik.is_(None), _T.c.created_at.desc()).limit(1))

APPLIED, UNKNOWN, ALREADY, INVALID = "applied", "unknown", "already", "invalid"
_APPLIED_WORDS = {
    "PRR": "diterapkan: siap cetak, masuk antrean cetak; warga diberi tahu lewat SMS",
    "DUPLICATE": "diterapkan: terekam ganda; warga diminta datang ke kecamatan lewat SMS"}
_UNKNOWN_WORDS = "NIK tidak dikenal: tidak ada permohonan dengan NIK ini"
_ALREADY_WORDS = "sudah diterapkan sebelumnya: tidak ada yang berubah"


class UnreadableFile(ValueError):
    """A file that is neither CSV text nor an XLSX workbook; the message says why, in
    Indonesian, and what to do."""


@dataclass(frozen=True)
class Row:
    line: int
    nik: str
    result: str
    note: str


@dataclass(frozen=True)
class Outcome:
    """What became of one line of the file: `kind` is applied, unknown, already or invalid."""

    line: int
    nik: str  # masked
    kind: str
    words: str


@dataclass
class Summary:
    applied: int = 0
    unknown: int = 0
    already: int = 0
    invalid: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    outcomes: list[Outcome] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"applied": self.applied, "unknown_nik": self.unknown,
                "already_applied": self.already,
                "invalid": [{"line": line, "reason": reason} for line, reason in self.invalid]}

    @property
    def all_rejected(self) -> bool:
        """Whether rows were refused and not one was taken (applied, already applied or an
        unknown NIK): the file as a whole did not work."""
        return bool(self.invalid) and not (self.applied or self.unknown or self.already)

    @property
    def rows(self) -> int:
        return self.applied + self.unknown + self.already + len(self.invalid)

    def refuse(self, line: int, nik: str, reason: str) -> None:
        self.invalid.append((line, reason))
        self.outcomes.append(Outcome(line, _masked(nik), INVALID, reason))

    def by_line(self) -> list[Outcome]:
        return sorted(self.outcomes, key=lambda outcome: outcome.line)

    def lines(self) -> list[str]:
        out = [f"diterapkan: {self.applied}", f"NIK tidak dikenal: {self.unknown}",
               f"sudah diterapkan sebelumnya: {self.already}",
               f"baris tidak valid: {len(self.invalid)}"]
        out += [f"  baris {line}: {reason}" for line, reason in sorted(self.invalid)]
        return out

    def in_words(self) -> str:
        """One line for the audit log."""
        return (f"{self.rows} baris: {self.applied} diterapkan, {self.unknown} NIK tidak "
                f"dikenal, {self.already} sudah diterapkan, {len(self.invalid)} tidak valid")


def read_file(data: bytes, summary: Summary) -> Iterator[Row]:
    """The valid rows of a CSV or XLSX file (told apart by their content, not their name); the
    others go to `summary`. `UnreadableFile` when it is neither."""
    if data.startswith(b"PK\x03\x04"):
        return read_xlsx(data, summary)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnreadableFile("Berkas Excel lama (.xls) tidak bisa dibaca. Di Excel pilih "
                             "Simpan Sebagai, lalu \"Buku Kerja Excel (.xlsx)\" atau \"CSV\".")
    return read_csv(decode(data), summary)


def decode(data: bytes) -> str:
    """CSV bytes as text: UTF-8 (with or without a BOM), UTF-16 with its BOM (Excel's "Unicode
    text"), else Windows-1252 (Excel's plain "CSV" on an Indonesian Windows)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    else:
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            pass
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            pass
        else:
            if "\x00" not in text:
                return text
    raise UnreadableFile("Berkas ini bukan CSV atau XLSX yang bisa dibaca. Simpan dari Excel "
                         "sebagai \"CSV UTF-8\" atau \".xlsx\" lalu unggah lagi.")


def read_csv(text: str, summary: Summary) -> Iterator[Row]:
    """The valid rows of CSV text whose columns are split by `;`, `,` or a tab (found from the
    header); the others go to `summary.invalid`. A file the CSV reader gives up on (a field
    over its size limit) is read up to that line."""
    # newline="": a lone carriage return ends a line, as the csv module expects.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        yield from _rows(enumerate(reader, start=1), summary)
    except csv.Error as error:
        summary.refuse(reader.line_num, "", _unreadable(error))


def read_xlsx(data: bytes, summary: Summary) -> Iterator[Row]:
    """The valid rows of the workbook's first sheet; line numbers are the sheet's row numbers."""
    from openpyxl import load_workbook  # a few hundred milliseconds: only when a workbook comes

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet = book.worksheets[0]
    except (zipfile.BadZipFile, KeyError, IndexError, OSError, ValueError) as error:
        raise UnreadableFile("Berkas XLSX ini tidak bisa dibuka. Buka di Excel, simpan lagi "
                             "sebagai \".xlsx\" lalu unggah lagi.") from error

    try:
        yield from _rows(enumerate(sheet.iter_rows(values_only=True), start=1), summary)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise UnreadableFile("Berkas XLSX ini rusak di tengah jalan. Buka di Excel, simpan "
                             "lagi sebagai \".xlsx\" lalu unggah lagi.") from error
    finally:
        book.close()


def _rows(records: Iterable[tuple[int, Sequence[object]]], summary: Summary) -> Iterator[Row]:
    """The header among the first rows, then a Row for every valid line after it."""
    columns = None
    for line, values in records:
        if columns is None:
            columns = _columns(values)
            if columns is None and line >= HEADER_ROWS:
                break
            continue
        if not any(_text(value) for value in values):
            continue
        if line > MAX_ROWS:
            summary.refuse(line, "", f"berkas terlalu panjang: paling banyak {MAX_ROWS} baris; "
                                     "baris ini dan sesudahnya tidak dibaca")
            return
        nik, result, note = (_cell(values, index) for index in columns)
        row = check(line, nik, _text(result), _text(note), summary)
        if row is not None:
            yield row
    if columns is None:
        summary.refuse(1, "", NO_HEADER)


def _columns(values: Sequence[object]) -> tuple[int, int, int | None] | None:
    """Where the NIK, the result and the note are, when these values are the header."""
    names = [re.sub(r"[^a-z0-9]", "", _text(value).lower()) for value in values]

    def where(wanted: frozenset[str]) -> int | None:
        return next((index for index, name in enumerate(names) if name in wanted), None)

    nik, result = where(NIK_NAMES), where(RESULT_NAMES)
    if nik is None or result is None:
        return None
    return nik, result, where(NOTE_NAMES)


def _delimiter(text: str) -> str:
    """The separator that makes the header: Excel in Indonesia writes `;` (the comma is the
    decimal mark there), elsewhere `,`; a tab from "Unicode text"."""
    head = text[:65536].splitlines()[:HEADER_ROWS]
    for delimiter in (";", ",", "\t"):
        for record in csv.reader(head, delimiter=delimiter):
            if _columns(record) is not None:
                return delimiter
    return max((";", ",", "\t"), key=lambda candidate: sum(line.count(candidate)
                                                           for line in head))


def _cell(values: Sequence[object], index: int | None) -> object:
    return values[index] if index is not None and index < len(values) else None


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


_SCIENTIFIC = re.compile(r"\d[.,]\d*E\+?\d+", re.IGNORECASE)


def check(line: int, nik: object, result: str, note: str, summary: Summary) -> Row | None:
    """A row as it should be, or None (its reason recorded); the NIK is never echoed in full."""
    number, problem = _nik(nik)
    if problem:
        summary.refuse(line, number, problem)
        return None
    result = RESULT_WORDS.get(" ".join(result.upper().split()), result)
    if result not in RESULTS:
        summary.refuse(line, number,
                       f"hasil harus PRR atau DUPLICATE (tertulis {redact(result[:20])!r})")
        return None
    # A NUL (junk from a broken export) would be refused by PostgreSQL in the timeline.
    return Row(line, number, result, note.replace("\x00", "").strip()[:200])


def _nik(value: object) -> tuple[str, str]:
    """The NIK's 16 digits, or what was written and why it is refused. A number Excel kept as a
    number has lost its last digit (Excel keeps 15) unless that digit is not 0."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = _text(value)
        if len(number) == 16 and number.isdigit() and not number.endswith("0"):
            return number, ""
        return number, ("NIK tersimpan sebagai angka di Excel, angka terakhirnya bisa berubah: "
                        "jadikan kolom NIK bertipe Teks lalu simpan lagi")
    written = _text(value)
    if _SCIENTIFIC.fullmatch(written):
        return "", (f"NIK tertulis sebagai angka ilmiah ({written[:12]}): angka-angkanya hilang; "
                    "jadikan kolom NIK bertipe Teks di Excel lalu simpan lagi")
    number = written.lstrip("'").replace(" ", "")
    if not (len(number) == 16 and number.isdigit()):
        return number, f"NIK harus 16 angka (tertulis {mask_id(number)!r})"
    return number, ""


def _masked(nik: str) -> str:
    return mask_id(nik) if nik else "-"


def apply(db: Database, clock: Clock, quiet: QuietHours, rows: Iterable[Row], summary: Summary,
          actor: str, progress: Callable[[int], None] | None = None) -> Summary:
    """Apply the rows in transactions of `BATCH`; `progress` hears how many rows are done."""
    done = 0
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            done += _apply_batch(db, clock.now(), quiet, batch, summary, actor)
            batch = []
            if progress:
                progress(done)
    if batch:
        done += _apply_batch(db, clock.now(), quiet, batch, summary, actor)
        if progress:
            progress(done)
    return summary


def _apply_batch(db: Database, now: datetime, quiet: QuietHours, rows: list[Row],
                 summary: Summary, actor: str) -> int:
    with db.connect() as connection:
        for row in rows:
            _apply_row(connection, now, quiet, row, summary, actor)
    return len(rows)


def _apply_row(connection: Connection, now: datetime, quiet: QuietHours, row: Row,
               summary: Summary, actor: str) -> None:
    found = connection.execute(_FIND, {"nik": row.nik}).first()
    if found is None:
        summary.unknown += 1
        summary.outcomes.append(Outcome(row.line, mask_id(row.nik), UNKNOWN, _UNKNOWN_WORDS))
        return
    stage = found.stage
    note = f"penunggalan {row.result}" + (f": {row.note}" if row.note else "")
    if row.result == "PRR":
        if stage in _PRINTING_OR_LATER or stage == Stage.COLLECTED.value:
            _already(summary, row)
            return
        if stage not in _WAITING and stage != Stage.DUPLICATE.value:
            summary.refuse(row.line, row.nik, f"permohonan berada di tahap {_stage(stage)}: "
                                              "tidak sedang menunggu penunggalan")
            return
        change_stage(connection, found.id, Stage.PRINT_READY, actor=actor, now=now, quiet=quiet,
                     note=note, notice="")
        change_stage(connection, found.id, Stage.PRINT_QUEUE, actor=actor, now=now, quiet=quiet,
                     note="waiting for blangko and its turn to print", values={"ready_at": now})
    else:
        if stage == Stage.DUPLICATE.value:
            _already(summary, row)
            return
        if stage not in _WAITING:
            summary.refuse(row.line, row.nik, f"permohonan sudah di tahap {_stage(stage)}: hasil "
                                              "DUPLICATE kini perlu ditangani petugas")
            return
        change_stage(connection, found.id, Stage.DUPLICATE, actor=actor, now=now, quiet=quiet,
                     note=note, values={"stage_note": row.note or None})
    summary.applied += 1
    summary.outcomes.append(Outcome(row.line, mask_id(row.nik), APPLIED,
                                    _APPLIED_WORDS[row.result]))


def _already(summary: Summary, row: Row) -> None:
    summary.already += 1
    summary.outcomes.append(Outcome(row.line, mask_id(row.nik), ALREADY, _ALREADY_WORDS))


def _stage(stage: str) -> str:
    """A stage as the back office names it ("antre cetak")."""
    return f"'{render('id', f'stage_short.{stage}')}'"


def _unreadable(error: csv.Error) -> str:
    """Why the CSV reader gave up, in Indonesian (its own words are English)."""
    limit = re.search(r"field larger than field limit \((\d+)\)", str(error))
    if limit:
        return (f"tidak terbaca sebagai CSV: satu kolom lebih panjang dari {limit.group(1)} "
                "karakter")
    return "tidak terbaca sebagai CSV: baris rusak"
