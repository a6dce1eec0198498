"""Reading UBAH JADWAL: which pickup and which day a resident asks for, as they type it after the
keyword (the arguments `parse_command` gives), and the calendar day that means."""

from __future__ import annotations

from datetime import date

import pytest

from flows.keywords import parse_command
from flows.reschedule import Wish, read_wish

TODAY = date(2026, 11, 30)  # a Monday
PICKUP = date(2026, 12, 1)  # the Tuesday after
REF = "123456786"  # a reference with its check digit


def wish(text: str) -> Wish:
    command = parse_command(text)
    assert command is not None and command.action == "reschedule", text
    return read_wish(command.args)


@pytest.mark.parametrize(("text", "day"), [
    # Indonesian, Sundanese and English day names: the first such day after today
    *[(f"UBAH JADWAL {name}", date(2026, 12, day))
      for day, names in ((2, ("RABU", "REBO", "WEDNESDAY", "rabu", "Rebo")),
                         (3, ("KAMIS", "KEMIS", "THURSDAY", "THU")),
                         (4, ("JUMAT", "JUMAAH", "FRIDAY", "JUMAH")),
                         (5, ("SABTU", "SAPTU", "SATURDAY")))
      for name in names],
    ("ubah jadwal senin", date(2026, 12, 7)),  # the first Monday after today
    ("GENTOS JADWAL Senén", date(2026, 12, 7)),
    ("ubah jadwal monday", date(2026, 12, 7)),
    ("UBAH JADWAL MINGGU", date(2026, 12, 6)),
    ("UBAH JADWAL Jum'at", date(2026, 12, 4)),  # the quote is read as a blank: JUM AT
    ("UBAH JADWAL hari kamis", date(2026, 12, 3)),
    ("ubah jadwal besok", date(2026, 12, 1)),
    ("ubah jadwal lusa", date(2026, 12, 2)),
    # a Tuesday named for a Tuesday pickup: the Tuesday after it
    ("UBAH JADWAL SELASA", date(2026, 12, 8)),
    ("CHANGE PICKUP TUESDAY", date(2026, 12, 8)),
    # dates: day and month (the next one from today), a year, a month name, a day alone
    ("UBAH JADWAL 15/12", date(2026, 12, 15)),
    ("UBAH JADWAL 15-12-2026", date(2026, 12, 15)),
    ("UBAH JADWAL 15.12.26", date(2026, 12, 15)),
    ("UBAH JADWAL 5/1", date(2027, 1, 5)),
    ("ubah jadwal 15 des", date(2026, 12, 15)),
    ("ubah jadwal 15 Desember 2026", date(2026, 12, 15)),
    ("change pickup dec 15", date(2026, 12, 15)),
    ("GENTOS JADWAL 15 Désémber", date(2026, 12, 15)),
    ("ubah jadwal tgl 3", date(2026, 12, 3)),
    ("ubah jadwal tanggal 29", date(2026, 12, 29)),
    ("ubah jadwal 29/2", date(2028, 2, 29)),
])
def test_a_day_is_read_in_every_language_and_form(text, day):
    read = wish(text)
    assert read.unreadable == () and read.reference is None, read
    assert read.resolve(TODAY, PICKUP) == day


@pytest.mark.parametrize(("text", "reference", "day"), [
    (f"UBAH JADWAL {REF} RABU", REF, date(2026, 12, 2)),
    (f"UBAH JADWAL {REF[:3]} {REF[3:6]} {REF[6:]} rabu", REF, date(2026, 12, 2)),
    (f"ubah jadwal rabu {REF}", REF, date(2026, 12, 2)),
    (f"UBAH JADWAL {REF}, KAMIS", REF, date(2026, 12, 3)),
    (f"UBAH JADWAL REF {REF} TGL 15/12", REF, date(2026, 12, 15)),
    # a reference and a day of the month arrive joined (digit groups are joined)
    (f"UBAH JADWAL {REF} 3 DES", REF, date(2026, 12, 3)),
    (f"UBAH JADWAL {REF}", REF, None),
    ("UBAH JADWAL 12345", "12345", None),  # a mistyped reference: the caller says so
])
def test_a_reference_is_told_apart_from_the_day(text, reference, day):
    read = wish(text)
    assert read.unreadable == () and read.reference == reference
    assert read.resolve(TODAY, PICKUP) == day


def test_no_day_named_is_no_day():
    read = wish("UBAH JADWAL")
    assert read == Wish() and not read.names_a_day
    assert read.resolve(TODAY, PICKUP) is None


@pytest.mark.parametrize("text", [
    "UBAH JADWAL KAPAN SAJA", "UBAH JADWAL SIANG", "UBAH JADWAL 31/02", "UBAH JADWAL 32",
    "UBAH JADWAL 15/13", "UBAH JADWAL RABU KAMIS", "UBAH JADWAL 15/12 RABU",
])
def test_what_cannot_be_read_for_sure_is_unreadable(text):
    """A pickup is never moved to a day the resident did not ask for."""
    assert wish(text).unreadable
