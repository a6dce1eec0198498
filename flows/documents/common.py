"""What the documents' dialogues share: the rules of an applicant's NIK, a KK, a date and a
child's sex (checked and asked again with the reason, as in the KTP-el registration), the one-SMS
forms (`KK NIK#KK#ALASAN`), the summary's YA/TIDAK, and the finish that stores the application,
books its papers visit and answers with the reference and the papers to bring."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import cache
from typing import Any

from flows.catalogue import Msg, languages, messages
from flows.dates import say_day, say_time
from flows.dialogue import (
    CANCELLED,
    DONE,
    Choice,
    Conversation,
    Dialogue,
    FieldReader,
    Finisher,
    Invalid,
    Outcome,
    Route,
    Step,
)
from flows.dialogue import ending as ending_with
from flows.fields import (
    ID_DIGITS,
    identity_numbers,
    is_label,
    kk_first,
    labelled_ids,
    labelled_kk,
    labelled_nik,
    prepared,
)
from flows.keywords import clean, without_accents
from flows.ports import ApplicationDraft, Services
from flows.registration import (
    STEP_OF_PROBLEM,
    NikFirst,
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
# A date as the dialogue keeps it (YYYY-MM-DD), read again when an earlier answer changes.
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
# The words before the first digit of an answer ("Tgl. lahir: 12/3/19").
_WORDS_BEFORE_DIGIT = re.compile(r"^([A-Z][A-Z\s.,:;=\-]*?)[\s.,:;=\-]*(?=\d)")
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
# Words that say what a date is, written before it: "tgl 1 nov 2024", "tanggal lahir
# 12-03-2019", "meninggal 27-11-2024", "Tgl:12-3-2019", "born on 12/3/19", in Indonesian,
# Sundanese, Javanese and English. The names of the days (`when.weekday` of every catalogue)
# may stand there too ("Senin, 4 November 2024"); the date after them is the answer.
DATE_LABEL_WORDS = frozenset({
    "TGL", "TGLNYA", "TG", "TGGL", "TANGGAL", "TANGGALNYA", "TANGAL", "HARI", "PADA", "YAITU",
    "ADALAH", "SAYA", "ANAK", "NYA", "LAHIR", "LAHIRNYA", "KELAHIRAN", "MENINGGAL",
    "MENINGGALNYA", "DUNIA", "WAFAT", "KEMATIAN", "MATI", "ALMARHUM", "ALMARHUMAH",
    "KALAHIRAN", "MAOT", "PUPUS", "TILAR", "DUNYA", "NGANTUNKEUN", "POE", "DINA",
    "LAIR", "MIYOS", "SEDA", "DONYA", "PATI", "DINTEN", "ING",
    "DATE", "OF", "BIRTH", "BORN", "DOB", "DIED", "DEATH", "ON", "PASSED", "AWAY", "DAY",
})
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


def date_label_words() -> frozenset[str]:
    """`DATE_LABEL_WORDS` and the names of the days in every catalogue language."""
    return _date_label_words(languages())


@cache
def _date_label_words(codes: tuple[str, ...]) -> frozenset[str]:
    days = {word for code in codes for number in range(7)
            for word in re.findall(r"[A-Z]+", without_accents(
                messages(code)[f"when.weekday.{number}"]).upper())}
    return DATE_LABEL_WORDS | days


def after_date_label(words: str) -> str:
    """`words` (upper case, without accents) without the label before its date: "TGL LAHIR
    12/3/19" is "12/3/19". Words that are no date label are kept, and the answer is then read
    as it came (unreadable, as a word before a date may change what it means)."""
    found = _WORDS_BEFORE_DIGIT.match(words)
    if found and set(re.findall(r"[A-Z]+", found.group(1))) <= date_label_words():
        return words[found.end():]
    return words


def read_date(text: str, today: date) -> date:
    """A date as people write it: 12-03-2019, 12/3/19, 12.03.2019, 12 maret 2019, 12032019,
    with a label before it or not ("tgl lahir 12/3/19", "Meninggal: 1 nov 2024"), or as the
    dialogue keeps it (2019-03-12). Not in the future; `Invalid` says what is wrong."""
    words = after_date_label(without_accents(clean(text)).upper().strip(" .#*")).strip(" .#*")
    kept = _ISO_DATE.match(words)
    found = _DATE.match(words) or _COMPACT_DATE.match(words.replace(" ", ""))
    if kept is not None:
        year_text, month_text, day = kept.groups()
    elif found is not None:
        day, month_text, year_text = found.groups()
    else:
        raise Invalid("error.date.unreadable")
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
    """A document's dialogue and the answers its one-SMS form carries, in order, by kind.
    `keyword_names`: the step whose number the keyword itself labels when the number comes
    alone after it (`KK 3271...`, `KK: 3271...`: the KK, as every keyword of the KK ends in
    KK or Kartu Keluarga), or first in an SMS whose other numbers carry labels (`KK 3271...
    NIK 3271...`); None when the keyword names no number (`KIA 3271...`: the NIK, the
    form's first)."""

    code: str
    dialogue: Dialogue
    form: tuple[tuple[str, str], ...]
    keyword_names: str | None = None

    def prefill(self, rest: str) -> dict[str, str]:
        """The answers `KK NIK#KK#ALASAN` carries after the keyword, by step: `#` parts in the
        form's order; without `#`, a number labelled KK as the KK, the other identity numbers
        in order, a date (its label dropped), and the words left. Numbers placed by their order
        alone are swapped when only the other way fits (the KK typed first)."""
        found, labelled = self._read(rest)
        if "nik" in found and "kk" in found and not labelled \
                and kk_first(*(number_of(found[name]) for name in ("nik", "kk"))):
            found["nik"], found["kk"] = found["kk"], found["nik"]
        return found

    def _read(self, rest: str) -> tuple[dict[str, str], bool]:
        """The answers by step, and whether a label named any of the numbers."""
        text = clean(rest).strip(" #")
        if not text:
            return {}, False
        if "#" in text:
            parts = _labels_joined([part.strip() for part in text.split("#")])
            placed = {name: part for (name, _), part in zip(self.form, parts, strict=False)
                      if part}
            return self._ids_in_their_places(placed)
        found: dict[str, str] = {}
        text = prepared(text)
        steps = {kind: [name for name, of in self.form if of == kind]
                 for kind in (NUMBER, DATE, WORDS)}
        dated = _DATE_IN_TEXT.search(text)
        if dated is not None:
            if steps[DATE]:
                found[steps[DATE][0]] = dated.group()
            start = _date_label_start(text, dated.start()) if steps[DATE] else dated.start()
            text = f"{text[:start]} {text[dated.end():]}"
        numbers = identity_numbers(text)
        if self.keyword_names and numbers and numbers[0].label is None \
                and (len(numbers) == 1 or any(number.label for number in numbers)):
            # The number alone, or the first of an SMS that labels its numbers ("KK 3271...
            # NIK 3271...", "KK 3271... KK 3271..."): the keyword is its label.
            numbers = [replace(numbers[0], label=self.keyword_names), *numbers[1:]]
        for number in reversed(numbers):
            text = f"{text[:number.start]} {text[number.end:]}"
        kk = next((n.digits for n in numbers if n.label == "kk"), None)
        if kk is not None and "kk" in steps[NUMBER]:
            found["kk"] = kk
        # A number labelled NIK is the NIK wherever it stands ("KK 3271... NIK 3271...": the
        # number before it is then the next one of the form, here the KK).
        nik = next((n for n in numbers if n.label == "nik"), None)
        if nik is not None and "nik" in steps[NUMBER]:
            found["nik"] = nik.digits
        # A number labelled KK is never any other answer, even the second of two so labelled.
        others = [n.digits for n in numbers if n.label != "kk" and n is not nik]
        found.update(zip([name for name in steps[NUMBER] if name not in found], others,
                         strict=False))
        words = " ".join(word for word in text.split() if any(c.isalnum() for c in word)
                         and sum(c.isdigit() for c in word) < ID_DIGITS)
        if words and steps[WORDS]:
            found[steps[WORDS][0]] = words
        return found, any(number.label for number in numbers)

    def _ids_in_their_places(self, placed: dict[str, str]) -> tuple[dict[str, str], bool]:
        """`#` parts by place, but a part that is a KK by its label (`KK: 3271...` where the
        NIK goes) changes places with the KK's part, and a part that is a NIK by its label
        (`KK#3271...#NIK#3271...`) with the NIK's part. A number labelled KK is never read as
        another answer: one left out of the KK's place (a second KK) is dropped, and asked.
        Returns the answers and whether a label placed any of them."""
        form = dict(self.form)
        labelled = False
        for name, of_label in (("kk", labelled_kk), ("nik", labelled_nik)):
            if name not in form:
                continue
            if of_label(placed.get(name, "")) is not None:
                labelled = True
                continue
            other = next((other for other, part in placed.items()
                          if other != name and of_label(part) is not None), None)
            if other is not None:
                moved = placed.pop(name, None)
                placed[name] = placed.pop(other)
                if moved is not None:
                    placed[other] = moved
                labelled = True
        for name in [name for name in placed if name != "kk"]:
            if labelled_kk(placed[name]) is not None:
                del placed[name]
        return placed, labelled


def _labels_joined(parts: list[str]) -> list[str]:
    """`#` parts with a part that is only a label joined to the part after it: `NIK#3271...`
    is one answer, `NIK 3271...`, in the place of one."""
    joined: list[str] = []
    label = ""
    for part in parts:
        if part and is_label(part):
            label = f"{label} {part}".strip()
            continue
        joined.append(f"{label} {part}".strip() if label else part)
        label = ""
    return joined


def _date_label_start(text: str, start: int) -> int:
    """Where the label before the date at `start` begins ("TGL LAHIR 12/3/19"): the words
    right before it that are date labels; `start` when there are none."""
    for word in reversed(list(re.finditer(r"[A-Z]+", text[:start]))):
        if text[word.end():start].strip(" .,:;=-") or word.group() not in date_label_words():
            break
        start = word.start()
    return start


def dialogue_of(code: str, steps: list[Step],
                done: Callable[[Conversation, Services], Mapping[str, Any]],
                nik_steps: Sequence[str] = ("nik",)) -> Dialogue:
    """A document's dialogue: its NIK first, a KK given by its label kept for its question,
    and at each question that asks for a NIK (`nik_steps`) the numbers read by their labels."""
    return DocumentDialogue(code, steps, finish=done, fields=kk_by_label, nik_steps=nik_steps)


class DocumentDialogue(NikFirst):
    """Where a document asks for a NIK (the applicant's, a parent's, the reporter's, the
    deceased's), a message that labels its numbers ("KK 3271... NIK 3271...", "nik: 3271...
    kk: 3271...") is read by those labels, as the KTP-el registration reads them: the number
    labelled NIK answers the question, and the one labelled KK is kept for the KK question
    when that comes later (ignored otherwise). A number labelled KK is never the NIK; a message
    with no number labelled NIK is read as before (a KK alone kept, anything else the answer)."""

    def __init__(self, name: str, steps: list[Step], finish: Finisher,
                 fields: FieldReader | None = None, nik_steps: Sequence[str] = ("nik",)
                 ) -> None:
        super().__init__(name, steps, finish, fields)
        self.nik_steps = frozenset(nik_steps)

    def answer(self, conversation: Conversation, text: str | None, context: Any,
               repeats: bool = True) -> Outcome:
        if text is not None and conversation.step in self.nik_steps:
            fields = self._labelled_at(conversation.step, text)
            if fields:
                self._take_fields(conversation, fields, context)
                text = None
        return super().answer(conversation, text, context, repeats)

    def _labelled_at(self, step: str, text: str) -> dict[str, str]:
        """The answers `text` gives by label at the NIK question `step`: its NIK, and its KK
        when the KK is asked after `step`. {} when no number is labelled NIK."""
        labelled = labelled_ids(text)
        if "nik" not in labelled:
            return {}
        fields = {step: labelled["nik"]}
        names = list(self.steps)
        if "kk" in labelled and "kk" in self.steps \
                and names.index("kk") > names.index(step):
            fields["kk"] = labelled["kk"]
        return fields


def kk_by_label(text: str) -> dict[str, str]:
    """A document dialogue's labelled answers (`Dialogue` `fields`): a KK given by its label
    ("KK: 3271...", "no kk 3271...") at any question is kept as the KK, for its question or in
    its place, and never read as a NIK. {} for any other text: the answer to the question."""
    kk = labelled_kk(text)
    return {"kk": kk} if kk is not None else {}


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
