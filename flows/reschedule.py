"""UBAH JADWAL: what a resident asks for (which pickup, which day) and the answer. A family with
no card to collect moves its visit to hand in a document's papers the same way.

A day is a day name in any catalogue language (RABU, REBO, WEDNESDAY; read from `when.weekday`
of every catalogue, so a new language brings its own), BESOK or LUSA, or a date: 15/12,
15-12-2026, 15 DES, TGL 15. Read from the arguments `parse_command` gives, with no clock: `Wish
.resolve` turns what was read into a calendar day once today and the current pickup day are
known. A word that is none of these makes the wish unreadable, so that a pickup is never moved
to a day the resident did not ask for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

from flows import papers
from flows.catalogue import languages, messages, render
from flows.dates import say_day
from flows.dialogue import Invalid
from flows.keywords import ARGUMENT_FILLERS, without_accents
from flows.ports import ApplicationView, Services
from flows.status import pickup_text
from sms_ktp.domain.reference import normalise_reference

# Day and month names besides the catalogues' own (`when.weekday`, `when.month`, with and
# without accents): the spellings and short forms residents type.
_WEEKDAY_WORDS = {
    "JUMAT": 4, "JUMAH": 4, "JUMAAT": 4, "JUMA'AT": 4, "JUM'AT": 4, "JUMA'AH": 4,
    "MON": 0, "TUE": 1, "TUES": 1, "WED": 2, "THU": 3, "THUR": 3, "THURS": 3, "FRI": 4,
    "SAT": 5, "SUN": 6, "AHAD": 6,
}
_MONTH_WORDS = {"AGS": 8, "AGT": 8, "PEB": 2, "NOP": 11, "OKT": 10, "DES": 12}
# Days from today.
_RELATIVE = {"BESOK": 1, "BSK": 1, "BESUK": 1, "ISUK": 1, "ISUKAN": 1, "ENJING": 1,
             "SESUK": 1, "MBESUK": 1, "BENJING": 1, "TOMORROW": 1, "LUSA": 2, "PAGETO": 2}
# Words around a day that say nothing by themselves ("hari rabu", "tgl 15"), besides those of
# any keyword's arguments ("ref 123...", "mohon").
_FILLERS = ARGUMENT_FILLERS | frozenset({
    "HARI", "HR", "TGL", "TANGGAL", "TANGGALNYA", "TG", "PADA", "PD", "KE", "JADI", "MENJADI",
    "MJD", "DEPAN", "INI", "YA", "DINTEN", "POE", "KAPING", "KA", "JANTEN", "MANGGA", "ON",
    "TO", "THE", "DAY", "DATE", "NEXT", "BULAN", "SASIH", "ING", "DADOS", "DADI",
})
_DATE = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})(?:[/.\-](\d{4}|\d{2}))?$")
_EDGES = ".,;:!?()"


@dataclass(frozen=True)
class Wish:
    """What UBAH JADWAL asked for. `reference`: the digits typed as a reference (checked by the
    caller); the day as a weekday, days from today, or a (day, month, year) date with the month
    and year optional; `unreadable`: the words that were none of these."""

    reference: str | None = None
    weekday: int | None = None
    days_ahead: int | None = None
    day: int | None = None
    month: int | None = None
    year: int | None = None
    unreadable: tuple[str, ...] = ()

    @property
    def names_a_day(self) -> bool:
        return self.weekday is not None or self.days_ahead is not None or self.day is not None

    def resolve(self, today: date, current: date) -> date | None:
        """The calendar day asked for; None when no day was named. A day name is the first such
        day after today other than the current pickup day (RABU on a Wednesday pickup: the
        Wednesday after); a date without a year or month is the next one from today."""
        if self.weekday is not None:
            day = today + timedelta(days=1)
            while day.weekday() != self.weekday or day == current:
                day += timedelta(days=1)
            return day
        if self.days_ahead is not None:
            return today + timedelta(days=self.days_ahead)
        if self.day is None:
            return None
        if self.month is None:
            return _next_day_of_month(today, self.day)
        if self.year is not None:
            return date(self.year, self.month, self.day)
        for year in range(today.year, today.year + 5):  # 29 February waits for a leap year
            try:
                candidate = date(year, self.month, self.day)
            except ValueError:
                continue
            if candidate >= today:
                return candidate
        return None  # pragma: no cover - a day and month that `read_wish` accepted always occur


def _next_day_of_month(today: date, day: int) -> date:
    """The next `day` of a month from today (the 31st skips the shorter months)."""
    year, month = today.year, today.month
    for _ in range(13):
        try:
            candidate = date(year, month, day)
        except ValueError:
            candidate = None
        if candidate is not None and candidate >= today:
            return candidate
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    raise ValueError(f"no day {day} in a month")  # pragma: no cover - days are 1..31


@cache
def _weekdays() -> dict[str, int]:
    names = dict(_WEEKDAY_WORDS)
    for language in languages():
        table = messages(language)
        for number in range(7):
            name = table.get(f"when.weekday.{number}")
            if name:
                names[_word(name)] = number
    return names


@cache
def _months() -> dict[str, int]:
    names = dict(_MONTH_WORDS)
    for language in languages():
        table = messages(language)
        for number in range(1, 13):
            name = table.get(f"when.month.{number}")
            if name:
                names[_word(name)] = number
                names.setdefault(_word(name)[:3], number)
    return names


def _word(text: str) -> str:
    return without_accents(text).upper().strip(_EDGES)


def _valid(day: int, month: int | None, year: int | None) -> bool:
    """A day and month that exist (in a leap year when no year is given)."""
    try:
        date(year or 2028, month or 1, day)
    except ValueError:
        return False
    return 1 <= day <= 31


def _year(words: list[str], index: int) -> dict[str, int]:
    """A year written after a day and a month (15 DES 2026), if any."""
    if index < len(words) and re.fullmatch(r"20\d\d", words[index]):
        return {"year": int(words[index])}
    return {}


def _reference_and_day(word: str) -> tuple[str, int] | None:
    """A well-formed reference with one or two digits after it that make a day of a month."""
    if not (word.isdigit() and len(word) in (10, 11)):
        return None
    reference, day = normalise_reference(word[:9]), int(word[9:])
    return (reference, day) if reference is not None and _valid(day, None, None) else None


def read_wish(args: tuple[str, ...] | list[str]) -> Wish:
    """The reference and the day in the words after UBAH JADWAL."""
    words = [_word(arg) for arg in args]
    words = [word for word in words if word]
    reference: str | None = None
    found: list[dict[str, int | None]] = []
    unreadable: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        following = words[index + 1] if index + 1 < len(words) else ""
        pair = word + following  # JUM'AT arrives as JUM AT: a quote is read as a blank
        if pair in _weekdays() and word not in _weekdays():
            found.append({"weekday": _weekdays()[pair]})
            index += 2
            continue
        if word in _weekdays():
            found.append({"weekday": _weekdays()[word]})
        elif word in _RELATIVE:
            found.append({"days_ahead": _RELATIVE[word]})
        elif (match := _DATE.match(word)) is not None:
            day, month, year = (int(part) if part else None for part in match.groups())
            if year is not None and year < 100:
                year += 2000
            if _valid(day, month, year):  # type: ignore[arg-type]
                found.append({"day": day, "month": month, "year": year})
            else:
                unreadable.append(word)
        elif word.isdigit() and len(word) <= 2:
            day = int(word)
            if following in _months() and _valid(day, _months()[following], None):
                found.append({"day": day, "month": _months()[following],
                              **_year(words, index + 2)})
                index += 3 if "year" in found[-1] else 2
                continue
            if _valid(day, None, None):
                found.append({"day": day})
            else:
                unreadable.append(word)
        elif word in _months() and following.isdigit() and len(following) <= 2 \
                and _valid(int(following), _months()[word], None):  # DEC 15
            found.append({"day": int(following), "month": _months()[word],
                          **_year(words, index + 2)})
            index += 3 if "year" in found[-1] else 2
            continue
        elif (split := _reference_and_day(word)) is not None:
            # `parse_command` joins digit groups (a reference typed 123 456 789): a reference
            # followed by a day of the month (123456789 3 DES) arrives as one number.
            reference, day = split
            month = _months().get(following)
            if month is not None and _valid(day, month, None):
                found.append({"day": day, "month": month, **_year(words, index + 2)})
                index += 3 if "year" in found[-1] else 2
                continue
            found.append({"day": day})
        elif re.fullmatch(r"[\d\-./]+", word) and sum(c.isdigit() for c in word) >= 3:
            if reference is not None:
                unreadable.append(word)
            reference = re.sub(r"\D", "", word)
        elif word not in _FILLERS:
            unreadable.append(word)
        index += 1
    if len(found) > 1:  # two days named: which one is meant is a guess
        unreadable.append("+".join(words))
        found = []
    return Wish(reference=reference, unreadable=tuple(unreadable),
                **(found[0] if found else {}))  # type: ignore[arg-type]


def answer(services: Services, phone: str, args: tuple[str, ...] | list[str],
           language: str) -> str:
    """The reply to UBAH JADWAL: the pickup moved (the new ticket), or why it was not."""
    wish = read_wish(args)
    if wish.unreadable:
        return render(language, "pickup.how")
    pickups = services.family_pickups(phone)
    if wish.reference is not None:
        reference = normalise_reference(wish.reference)
        if reference is None:
            return render(language, "pickup.bad_ref")
        pickups = [view for view in pickups
                   if reference in view.details.get("references", (view.reference,))]
        if not pickups:
            return render(language, "pickup.not_found", ref=reference)
        if pickups[0].details.get("at") is None:  # held at the office: where to come
            return pickup_text(language, pickups[0], "notify.missed_pickup")
    pickups = [view for view in pickups if view.details.get("at") is not None]
    if not pickups:
        return render(language, "pickup.none")
    if len(pickups) > 1:
        return render(language, "pickup.which", count=len(pickups))
    [chosen] = pickups
    on = wish.resolve(services.today(), chosen.details["at"].date())
    try:
        moved = services.move_pickup(phone, chosen.reference, on)
    except Invalid as refused:
        if refused.key in ("pickup.same_day", "papers.same_day"):
            return _visit_text(language, chosen, refused.key)
        return render(language, refused.key, **{
            name: say_day(language, value) if isinstance(value, date) else value
            for name, value in refused.params.items()})
    return _visit_text(language, moved, "pickup.moved")


def _visit_text(language: str, visit: ApplicationView, key: str) -> str:
    """A family visit in the words of `key`: a papers visit in the `papers.*` ones."""
    if papers.is_papers(visit):
        return papers.view_text(language, visit, key.replace("pickup.", "papers.", 1))
    return pickup_text(language, visit, key)
