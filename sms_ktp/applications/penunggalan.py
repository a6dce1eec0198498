"""Results of penunggalan (the Ministry's national de-duplication) applied to applications: from a
CSV file (`sms-ktp penunggalan import`) or the JSON endpoint of the national-system integration.

Each valid row is applied even when others are invalid; applying the same results again changes
nothing. A print-ready (PRR) card joins the print queue; a duplicate record cannot be printed and
the resident is told to visit the kecamatan office. The reasons a row is refused are in
Indonesian, like the back office and the staff who read them on the page or from the command.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator
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
HEADER = ("nik", "result", "note")
ALL_REJECTED = "Semua baris ditolak: tidak ada hasil yang diterapkan."
BATCH = 500  # rows a transaction
_WAITING = {Stage.SUBMITTED.value, Stage.PENUNGGALAN.value}
_PRINTING_OR_LATER = {Stage.PRINT_READY.value, Stage.PRINT_QUEUE.value, Stage.PRINTED.value,
                      Stage.PICKUP_SCHEDULED.value, Stage.MISSED_PICKUP.value}
_T = Application.__table__
_FIND = (select(_T.c.id, _T.c.stage).where(_T.c.nik_hash == bindparam("nik"))
         .order_by(_T.c.active_nik.is_(None), _T.c.created_at.desc()).limit(1))


@dataclass(frozen=True)
class Row:
    line: int
    nik: str
    result: str
    note: str


@dataclass
class Summary:
    applied: int = 0
    unknown: int = 0
    already: int = 0
    invalid: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)

    def as_dict(self) -> dict[str, object]:
        return {"applied": self.applied, "unknown_nik": self.unknown,
                "already_applied": self.already,
                "invalid": [{"line": line, "reason": reason} for line, reason in self.invalid]}

    @property
    def all_rejected(self) -> bool:
        """Whether rows were refused and not one was taken (applied, already applied or an
        unknown NIK): the file as a whole did not work."""
        return bool(self.invalid) and not (self.applied or self.unknown or self.already)

    def lines(self) -> list[str]:
        out = [f"diterapkan: {self.applied}", f"NIK tidak dikenal: {self.unknown}",
               f"sudah diterapkan sebelumnya: {self.already}",
               f"baris tidak valid: {len(self.invalid)}"]
        out += [f"  baris {line}: {reason}" for line, reason in sorted(self.invalid)]
        return out


def read_csv(text: str, summary: Summary) -> Iterator[Row]:
    """The valid rows of a `nik,result,note` file; the others go to `summary.invalid`. A file
    the CSV reader gives up on (a field over its size limit) is read up to that line."""
    # newline="": a lone carriage return ends a line, as the csv module expects.
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None or tuple(h.strip().lower() for h in header[:3]) != HEADER:
            summary.invalid.append((1, "baris pertama harus judul kolom nik,result,note"))
            return
        for line, fields in enumerate(reader, start=2):
            if not any(f.strip() for f in fields):
                continue
            row = check(line, fields[0] if fields else "", fields[1] if len(fields) > 1 else "",
                        fields[2] if len(fields) > 2 else "", summary)
            if row is not None:
                yield row
    except csv.Error as error:
        summary.invalid.append((reader.line_num, _unreadable(error)))


def check(line: int, nik: str, result: str, note: str, summary: Summary) -> Row | None:
    """A row as it should be, or None (its reason recorded); the NIK is never echoed in full."""
    nik, result = nik.strip(), result.strip().upper()
    if not (len(nik) == 16 and nik.isdigit()):
        summary.invalid.append((line, f"NIK harus 16 angka (tertulis {mask_id(nik)!r})"))
        return None
    if result not in RESULTS:
        summary.invalid.append(
            (line, f"result harus PRR atau DUPLICATE (tertulis {redact(result[:20])!r})"))
        return None
    # A NUL (junk from a broken export) would be refused by PostgreSQL in the timeline.
    return Row(line, nik, result, note.replace("\x00", "").strip()[:200])


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
        return
    stage = found.stage
    note = f"penunggalan {row.result}" + (f": {row.note}" if row.note else "")
    if row.result == "PRR":
        if stage in _PRINTING_OR_LATER or stage == Stage.COLLECTED.value:
            summary.already += 1
            return
        if stage not in _WAITING and stage != Stage.DUPLICATE.value:
            summary.invalid.append((row.line, f"permohonan berada di tahap {_stage(stage)}: "
                                              "tidak sedang menunggu penunggalan"))
            return
        change_stage(connection, found.id, Stage.PRINT_READY, actor=actor, now=now, quiet=quiet,
                     note=note, notice="")
        change_stage(connection, found.id, Stage.PRINT_QUEUE, actor=actor, now=now, quiet=quiet,
                     note="waiting for blangko and its turn to print", values={"ready_at": now})
    else:
        if stage == Stage.DUPLICATE.value:
            summary.already += 1
            return
        if stage not in _WAITING:
            summary.invalid.append((row.line, f"permohonan sudah di tahap {_stage(stage)}: hasil "
                                              "DUPLICATE kini perlu ditangani petugas"))
            return
        change_stage(connection, found.id, Stage.DUPLICATE, actor=actor, now=now, quiet=quiet,
                     note=note, values={"stage_note": row.note or None})
    summary.applied += 1


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
