"""What the documents' dialogues share: the rules of an applicant's NIK, a KK, a date and a
child's sex (checked and asked again with the reason, as in the KTP-el registration), the one-SMS
forms (`KK NIK#KK#ALASAN`), the summary's YA/TIDAK, and the finish that stores the application,
books its papers visit and answers with the reference and the papers to bring."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from flows.catalogue import Msg
from flows.dates import say_day, say_time
from flows.dialogue import CANCELLED, DONE, Choice, Conversation, Dialogue, Invalid, Route, Step
from flows.dialogue import ending as ending_with
from flows.fields import kk_first
from flows.keywords import clean, without_accents
from flows.ports import ApplicationDraft, Services
from flows.registration import (
    STEP_OF_PROBLEM,
    check_kk,
    nik_value,
    read_confirmation,
)
from sms_ktp.domain.identity import parse_nik
from sms_ktp.domain.masking import mask_id

# The kinds of answer a one-SMS form carries, which say where a bare answer goes.
NUMBER, DATE, WORDS = "number", "date", "words"
# A number inside words: digits with the separators people use ("3271 0145 0190 0001").
_DIGIT_RUN = re.compile(r"\d(?:[\d .\-/]*\d)?")
_DATE = re.compile(r"^(\d{1,2})\s*[-/. ]\s*(\d{1,2}|[A-Za-z]+)\s*[-/. ]\s*(\d{2}|\d{4})$")
_COMPACT_DATE = re.compile(r"^(\d{2})(\d{2})(\d{4}|\d{2})$")
# A date among a form's words: 12/3/19, 12-03-2019, 12 maret 2019, or 12032019 (DDMMYYYY, the
# eight digits a date of 19xx or 20xx makes, told apart from a NIK's or a KK's groups of four).
_DATE_IN_TEXT = re.compile(r"\b\d{1,2}\s*[-/.]\s*(?:\d{1,2}|[A-Za-z]+)\s*[-/.]\s*\d{2,4}\b"
                           r"|\b\d{1,2} [A-Za-z]{3,9} \d{4}\b"
                           r"|\b(?:0[1-9]|[12]\d|3[01])(?:0[1-9]|1[0-2])(?:19|20)\d{2}\b")
# Month names and their short forms in Indonesian, English, Sundanese and Javanese.
MONTHS = {
    "JAN": 1, "JANUARI": 1, "JANUARY": 1, "PEB": 2, "PEBRUARI": 2, "FEB": 2, "FEBRUARI": 2,
    "FEBRUARY": 2, "MAR": 3, "MARET": 3, "MARCH": 3, "APR": 4, "APRIL": 4, "MEI": 5, "MAY": 5,
    "JUN": 6, "JUNI": 6, "JUNE": 6, "JUL": 7, "JULI": 7, "JULY": 7, "AGU": 8, "AGS": 8,
    "AGT": 8, "AGUSTUS": 8, "AUG": 8, "AUGUST": 8, "SEP": 9, "SEPT": 9, "SEPTEMBER": 9,
    "OKT": 10, "OKTOBER": 10, "OCT": 10, "OCTOBER": 10, "NOP": 11, "NOV": 11, "NOPEMBER": 11,
    "NOVEMBER": 11, "DES": 12, "DESEMBER": 12, "DEC": 12, "DECEMBER": 12,
}
SEX_WORDS = {
    "L": "L", "LK": "L", "LAKI": "L", "LAKI LAKI": "L", "LELAKI": "L", "PRIA": "L",
    "COWOK": "L", "M": "L", "MALE": "L", "BOY": "L", "LALAKI": "L", "PAMEGET": "L",
    "LANANG": "L", "KAKUNG": "L",
    "P": "P", "PR": "P", "PEREMPUAN": "P", "WANITA": "P", "CEWEK": "P", "F": "P",
    "FEMALE": "P", "GIRL": "P", "AWEWE": "P", "ISTRI": "P", "WADON": "P", "ESTRI": "P",
    "PUTRI": "P",
}
SEXES = ("L", "P")


def number_of(text: str) -> str:
    """The one 16-digit number in the answer when there is exactly one, else the answer."""
    text = clean(text)
    runs = [run for run in _DIGIT_RUN.findall(text) if sum(c.isdigit() for c in run) == 16]
    return runs[0] if len(runs) == 1 else text


# --- the rules of each kind of answer -----------------------------------------------------------
def applicant_nik(text: str, services: Services) -> str:
    """A well-formed NIK (the applicant's, the parent's, the reporter's)."""
    return nik_value(text, services.today())


def years_between(born: date, today: date) -> int:
    """Whole years from `born` to `today`."""
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def age_on(nik: str, today: date) -> int:
    """Whole years since the birth date a NIK holds."""
    return years_between(parse_nik(nik, today).birth_date, today)


def shown_date(iso: str) -> str:
    """An ISO date as the messages write it: 05-03-2024."""
    return date.fromisoformat(iso).strftime("%d-%m-%Y")


def family_kk(text: str, services: Services, conversation: Conversation) -> str:
    return check_kk(text, services, conversation.phone, conversation.answers.get("nik"))


def read_date(text: str, today: date) -> date:
    """A date as people write it: 12-03-2019, 12/3/19, 12.03.2019, 12 maret 2019, 12032019.
    Not in the future; `Invalid` says what is wrong."""
    words = without_accents(clean(text)).upper().strip(" .#*")
    found = _DATE.match(words) or _COMPACT_DATE.match(words.replace(" ", ""))
    if found is None:
        raise Invalid("error.date.unreadable")
    day, month_text, year_text = found.groups()
    month = int(month_text) if month_text.isdigit() else MONTHS.get(month_text)
    year = int(year_text)
    if len(year_text) == 2:
        year += 2000 if 2000 + year <= today.year else 1900
    try:
        read = date(year, month or 0, int(day))
    except ValueError:
        raise Invalid("error.date.unreadable") from None
    if read > today:
        raise Invalid("error.date.future")
    if read.year < 1900:
        raise Invalid("error.date.unreadable")
    return read


def read_sex(text: str) -> str:
    """L (laki-laki) or P (perempuan), from a number 1-2, a letter or a word."""
    words = " ".join(re.findall(r"[A-Z0-9]+", without_accents(clean(text)).upper()))
    if words in ("1", "2"):
        return SEXES[int(words) - 1]
    if words in SEX_WORDS:
        return SEX_WORDS[words]
    found = {SEX_WORDS[word] for word in words.split() if word in SEX_WORDS and len(word) > 1}
    if len(found) == 1:
        return found.pop()
    raise Invalid("error.sex.unknown")


def refuse_open(code: str, key: str, nik: str, services: Services,
                conversation: Conversation) -> None:
    """An application of this document with the same key open for the family: its reference
    back, and the dialogue ends. Another family's is refused only when stored (and whether a
    NIK has an application is not told to whoever types it)."""
    active = services.active_application(key)
    if active is not None and active.phone == conversation.phone:
        raise ending_with(f"{code}.exists", ref=active.reference, nik=mask_id(nik))


# --- steps ----------------------------------------------------------------------------------------
def confirm_step(code: str, describe: Callable[[Mapping[str, Any]], Mapping[str, Any]]) -> Step:
    return Step(
        "confirm", f"{code}.confirm", read_confirmation, describe=describe,
        choices=(Choice("YA", "choice.confirm.yes"), Choice("TIDAK", "choice.confirm.no")),
        routes=(Route(DONE, when=lambda a: a["confirm"] is True), Route(CANCELLED)))


def choices_of(code: str, step: str, values: Sequence[str]) -> tuple[Choice, ...]:
    return tuple(Choice(value, f"{code}.choice.{step}.{value}") for value in values)


def read_choice(words: Mapping[str, str], values: Sequence[str], error: str
                ) -> Callable[[str, Services, Conversation], str]:
    """A reader of one of `values` by its number or one of its `words` (in a sentence, the one
    value its words name)."""
    def read(text: str, services: Services, conversation: Conversation) -> str:
        said = " ".join(re.findall(r"[A-Z0-9]+", without_accents(clean(text)).upper()))
        if said.isdigit() and 1 <= int(said) <= len(values):
            return values[int(said) - 1]
        if said in words:
            return words[said]
        tokens = said.split()
        found = {words[" ".join(tokens[i:i + 2])] for i in range(len(tokens) - 1)
                 if " ".join(tokens[i:i + 2]) in words}
        found |= {words[token] for token in tokens if token in words}
        if len(found) == 1:
            return found.pop()
        raise Invalid(error)

    return read


# --- one-SMS forms -------------------------------------------------------------------------------
@dataclass(frozen=True)
class DocumentFlow:
    """A document's dialogue and the answers its one-SMS form carries, in order, by kind."""

    code: str
    dialogue: Dialogue
    form: tuple[tuple[str, str], ...]

    def prefill(self, rest: str) -> dict[str, str]:
        """The answers `KK NIK#KK#ALASAN` carries after the keyword, by step: `#` parts in the
        form's order; without `#`, its 16-digit numbers in order, a date, and the words left."""
        found = self._read(rest)
        if "nik" in found and "kk" in found \
                and kk_first(*(number_of(found[name]) for name in ("nik", "kk"))):
            # The KK typed first: read the other way round when only that way fits.
            found["nik"], found["kk"] = found["kk"], found["nik"]
        return found

    def _read(self, rest: str) -> dict[str, str]:
        text = clean(rest).strip(" #")
        if not text:
            return {}
        if "#" in text:
            parts = [part.strip() for part in text.split("#")]
            return {name: part for (name, _), part in zip(self.form, parts, strict=False)
                    if part}
        found: dict[str, str] = {}
        dates = _DATE_IN_TEXT.findall(text)
        for kind_date in dates[:1]:
            text = text.replace(kind_date, " ")
        runs = [run for run in _DIGIT_RUN.findall(text) if sum(c.isdigit() for c in run) >= 10]
        for run in runs:
            text = text.replace(run, " ", 1)
        numbers = [number for run in runs for number in _split_numbers(run)]
        words = " ".join(text.split())
        number_steps = [name for name, kind in self.form if kind == NUMBER]
        found.update(zip(number_steps, numbers, strict=False))
        date_steps = [name for name, kind in self.form if kind == DATE]
        if dates and date_steps:
            found[date_steps[0]] = dates[0]
        word_steps = [name for name, kind in self.form if kind == WORDS]
        if words and word_steps:
            found[word_steps[0]] = words
        return found


def _split_numbers(run: str) -> list[str]:
    """"3271... 3271..." read as one run of 32 digits: two numbers of 16."""
    digits = "".join(char for char in run if char.isdigit())
    if len(digits) > 16 and len(digits) % 16 == 0:
        return [digits[start:start + 16] for start in range(0, len(digits), 16)]
    return [run]


def finish(code: str, draft_of: Callable[[Conversation], ApplicationDraft],
           bring: Callable[[ApplicationDraft, Services], str] | None = None,
           ) -> Callable[[Conversation, Services], Mapping[str, Any]]:
    """The last YA: the application stored and its papers visit booked; the reply is
    `<code>.done` (reference and visit) and, as a second SMS, the papers to bring: the
    message `bring(draft, services)` names (`<code>.bring.<reason>` by default), with `{ref}`."""
    def done(conversation: Conversation, services: Services) -> Mapping[str, Any]:
        draft = draft_of(conversation)
        try:
            submitted = services.submit_document(conversation.phone, draft,
                                                 conversation.language)
        except Invalid as refused:
            refused.step = STEP_OF_PROBLEM.get(refused.key)
            raise
        papers = bring(draft, services) if bring else f"{code}.bring.{draft.reason}"
        return {"ref": submitted.reference,
                "visit": visit_words(conversation.language, submitted.visit),
                "then": Msg(papers, {"ref": submitted.reference})}

    return done


def visit_words(language: str, visit: Any) -> Msg:
    """The papers visit as the reference SMS words it: its day, time and office, or the office
    on any working day when no slot was free."""
    if visit is None:
        return Msg("papers.at_office", {"office": "kantor kecamatan"})
    if visit.at is None:
        return Msg("papers.at_office", {"office": visit.office})
    return Msg("papers.slot", {"day": say_day(language, visit.at.date()),
                               "time": say_time(language, visit.at), "office": visit.office})


def masked(answers: Mapping[str, Any], *names: str) -> dict[str, str]:
    return {name: mask_id(answers[name]) for name in names}


def nik_step(code: str, read: Callable[..., Any] | None = None, to: str = "kk") -> Step:
    return Step("nik", f"{code}.ask.nik",
                read or (lambda text, services, conversation: applicant_nik(text, services)),
                (Route(to),))


def kk_step(code: str, to: str) -> Step:
    return Step("kk", f"{code}.ask.kk", family_kk, (Route(to),))
