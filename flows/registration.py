"""The registration dialogue: NIK, KK, reason, Suket number (for a first card), confirmation."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from flows.catalogue import Msg
from flows.dialogue import (
    CANCELLED,
    DONE,
    Choice,
    Conversation,
    Dialogue,
    Invalid,
    Outcome,
    Route,
    Step,
    ending,
)
from flows.fields import read_fields
from flows.keywords import clean, parse_command, without_accents
from flows.ports import ActiveApplication, Services
from sms_ktp.domain.identity import IdentityError, parse_kk, parse_nik
from sms_ktp.domain.masking import mask_id

REASONS: tuple[str, ...] = ("baru", "hilang", "rusak", "perubahan_data")
REASON_WORDS = {
    "BARU": "baru", "NEW": "baru", "SUKET": "baru",
    "HILANG": "hilang", "LOST": "hilang",
    "RUSAK": "rusak", "DAMAGED": "rusak", "BROKEN": "rusak",
    "PERUBAHAN": "perubahan_data", "UBAH": "perubahan_data", "CHANGE": "perubahan_data",
    # Sundanese (accents dropped before reading: ÉNGGAL is ENGGAL)
    "ENGGAL": "baru", "ANYAR": "baru", "LEUNGIT": "hilang", "ICAL": "hilang", "RUKSAK": "rusak",
    "PAROBIHAN": "perubahan_data", "PAROBIHAN DATA": "perubahan_data",
    # Javanese (ENGGAL, ANYAR and ICAL as in Sundanese)
    "ILANG": "hilang", "KECALAN": "hilang", "RISAK": "rusak", "EWAH": "perubahan_data",
    "EWAHAN": "perubahan_data", "EWAH EWAHAN": "perubahan_data", "OWAH": "perubahan_data",
    "OWAHAN": "perubahan_data",
    "PERUBAHAN DATA": "perubahan_data", "UBAH DATA": "perubahan_data",
    "DATA CHANGE": "perubahan_data", "CHANGED": "perubahan_data",
    # Moving in (pindah datang) is none of the four: asked, never guessed.
    "GANTI DATA": "perubahan_data", "PATAH": "rusak", "PECAH": "rusak", "PEMULA": "baru",
    **{code.upper(): code for code in REASONS},
}
# Indonesian, Sundanese (ENYA, MUHUN, LERES / HENTEU, TEU, MOAL, SANES), Javanese (INGGIH,
# NGGIH, NJIH, IYO / MBOTEN, BOTEN, ORA) and English. No digits:
# a `1` or `2` at the summary is far more often the reason sent twice than a decision (USSD
# numbers its choices itself and passes the chosen word).
YES_WORDS = frozenset({"YA", "Y", "IYA", "YES", "OK", "OKE", "SETUJU", "BENAR",
                       "ENYA", "MUHUN", "SUMUHUN", "LERES", "INGGIH", "NGGIH", "NJIH", "IYO"})
NO_WORDS = frozenset({"TIDAK", "TDK", "T", "NO", "N", "GAK", "ENGGAK", "NGGAK", "SALAH",
                      "HENTEU", "TEU", "MOAL", "SANES", "ULAH", "MBOTEN", "BOTEN", "ORA"})
_SUKET = re.compile(r"^[A-Z0-9][A-Z0-9/.\- ]{2,39}$")
# A number inside words ("NIK saya 3271 0145 0190 0001"): digits with the separators people use.
_DIGIT_RUN = re.compile(r"\d(?:[\d .\-/]*\d)?")
# A refusal when the application is stored sends the resident back to the answer it concerns.
# (The staff form puts the same refusal next to that field.)
STEP_OF_PROBLEM = {"error.nik.active": "nik", "error.kk.other_phone": "kk",
                   "error.kk.same_as_nik": "kk"}


def _number(text: str) -> str:
    """The one 16-digit number in the answer, when there is exactly one; else the answer as is
    (so that the rules say what is wrong with it)."""
    text = clean(text)
    runs = [run for run in _DIGIT_RUN.findall(text) if sum(c.isdigit() for c in run) == 16]
    return runs[0] if len(runs) == 1 else text


def _digits_count(text: str) -> int:
    return sum(c.isdigit() for c in clean(text))


# --- the rules of each answer, shared by every channel (SMS, USSD, the staff form) -----------
def nik_value(text: str, today: date) -> str:
    """The NIK typed in `text` if it is a well-formed NIK; `Invalid` says what is wrong."""
    try:
        return parse_nik(_number(text), today).value
    except IdentityError as error:
        raise Invalid(f"error.nik.{error.code}", got=_digits_count(text)) from None


def check_nik(text: str, services: Services, phone: str | None = None) -> str:
    """A well-formed NIK that may apply now. For staff (`phone` None) an open application is a
    refusal. A resident's family phone gets that application's reference back; any other phone
    is answered as for any NIK (whether a NIK has an application is not told to whoever types
    it): the registration is refused when it is sent, and the family phone is told."""
    nik = nik_value(text, services.today())
    active = services.active_application(nik)
    if active is not None and (phone is None or active.phone == phone):
        raise refusal_of_active(active, nik, phone)
    return nik


def refusal_of_active(active: ActiveApplication, nik: str, phone: str | None) -> Invalid:
    """Why `nik` cannot be registered while `active` is open, for staff (`phone` None: the
    application is named), the family's own phone (its reference back, and the dialogue ends)
    or any other phone (as little as possible, when the registration is sent)."""
    if phone is None:
        return Invalid("error.nik.active")
    if active.phone == phone:
        return ending("register.exists", ref=active.reference, nik=mask_id(nik))
    return Invalid("error.nik.elsewhere")


def kk_value(text: str, today: date, nik: str | None = None) -> str:
    """The KK typed in `text` if it is a family card of the regency served and not the `nik`
    given for the same person (the NIK sent twice, or typed in the KK's place); `Invalid` says
    what is wrong."""
    try:
        kk = parse_kk(_number(text), today).value
    except IdentityError as error:
        raise Invalid(f"error.kk.{error.code}", got=_digits_count(text)) from None
    if kk == nik:
        raise Invalid("error.kk.same_as_nik")
    return kk


def check_kk(text: str, services: Services, phone: str, nik: str | None = None) -> str:
    """A KK of the regency served for which `phone` may register (one phone per family)."""
    kk = kk_value(text, services.today(), nik)
    problem = services.family_problem(kk, phone)
    if problem:
        raise Invalid(problem)
    return kk


def check_reason(text: str) -> str:
    """The reason code (`REASONS`) for a number 1-4, a word, or the code itself; in a sentence
    ("2 hilang", "pilih 2", "ktp saya hilang pak") the one reason its numbers and words agree
    on. Words that name two reasons, or a number out of range, are asked again."""
    word = without_accents(clean(text)).upper().strip(" .#*")
    if word.isdigit() and 1 <= int(word) <= len(REASONS):
        return REASONS[int(word) - 1]
    if word in REASON_WORDS:
        return REASON_WORDS[word]
    found = _reasons_named(word)
    if len(found) == 1 and _UNCLEAR not in found:
        return found.pop()
    raise Invalid("error.reason.unknown")


def _reasons_named(text: str) -> set[str]:
    """The reasons a sentence names: its lone numbers (any number counts, so that "5" or "2 3"
    is asked again) and its reason words, single or in pairs."""
    matches = list(re.finditer(r"[A-Z]+|\d+", text))
    tokens = [match.group() for match in matches]
    found: set[str] = set()
    for index, token in enumerate(tokens):
        if token.isdigit():
            number = int(token)
            negative = text[matches[index].start() - 1:matches[index].start()] == "-"
            found.add(REASONS[number - 1] if 1 <= number <= len(REASONS) and not negative
                      else _UNCLEAR)
        pair = " ".join(tokens[index:index + 2])
        if pair in REASON_WORDS:
            found.add(REASON_WORDS[pair])
        elif token in REASON_WORDS and token not in _NOT_ALONE:
            found.add(REASON_WORDS[token])
    return found


_UNCLEAR = "?"  # a number that is no reason
# Reason words that name nothing without their neighbour ("data" of "perubahan data").
_NOT_ALONE = frozenset({"DATA"})
_SUKET_LABEL = re.compile(r"^(?:NO|NOMOR|NOMER|NMR)\b[ .:]*")


def check_suket(text: str) -> str:
    """A Suket number as written on the letter (upper-cased; a "No." before it dropped)."""
    value = _SUKET_LABEL.sub("", clean(text).upper())
    if not _SUKET.match(value) or not any(c.isdigit() for c in value):
        raise Invalid("error.suket.invalid")
    return value


def asks_suket(answers: Mapping[str, Any]) -> bool:
    """Only a first card (after perekaman) needs the Suket number."""
    return bool(answers["reason"] == "baru")


def done_params(reference: str, reason: str) -> dict[str, Any]:
    """Placeholders of `register.done`, the SMS that confirms a registration."""
    return {"ref": reference, "bring": Msg(f"bring.{reason}")}


# --- the dialogue's readers ------------------------------------------------------------------
def read_nik(text: str, services: Services, conversation: Conversation) -> str:
    return check_nik(text, services, conversation.phone)


def read_kk(text: str, services: Services, conversation: Conversation) -> str:
    return check_kk(text, services, conversation.phone, conversation.answers.get("nik"))


def read_reason(text: str, services: Services, conversation: Conversation) -> str:
    return check_reason(text)


def read_suket(text: str, services: Services, conversation: Conversation) -> str:
    return check_suket(text)


def _decision(text: str) -> bool | None:
    """YA (True), TIDAK (False) or neither. "Ya, benar", "iya kirim", "tidak jadi": the first
    word decides unless a word of the other side follows ("ya tidak" decides nothing)."""
    words = re.findall(r"[A-Z0-9]+", without_accents(clean(text)).upper())
    if not words:
        return None
    for decided, own, other in ((True, YES_WORDS, NO_WORDS), (False, NO_WORDS, YES_WORDS)):
        if words[0] in own and not any(word in other for word in words[1:]):
            return decided
    return None


def is_yes(text: str) -> bool:
    return _decision(text) is True


def read_confirmation(text: str, services: Services, conversation: Conversation) -> bool:
    decided = _decision(text)
    if decided is None:
        raise Invalid("error.confirm.unknown")
    return decided


def confirmation_params(answers: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "nik": mask_id(answers["nik"]),
        "kk": mask_id(answers["kk"]),
        "reason": Msg(f"reason.{answers['reason']}"),
    }


def prefill_fields(text: str) -> dict[str, str]:
    """The answers a `DAFTAR ...` SMS carries, by step (`flows.fields`)."""
    return read_fields(text, REASON_WORDS).values


def kept_text(text: str) -> str:
    """An SMS as the inbound log keeps it: a registration in another service's format (names,
    desa, kecamatan beside the numbers) shrinks to the fields this service reads, so that what
    it drops is not stored either; any other SMS as it came (its numbers are masked later)."""
    command = parse_command(text)
    if command is None or command.action != "register":
        return text
    reading = read_fields(command.rest, REASON_WORDS)
    if not reading.other_service:
        return text
    kept = [reading.values[name] for name in ("nik", "kk", "reason", "suket")
            if name in reading.values]
    return "#KTP#" + "#".join(kept) + "#(kolom lain tidak disimpan)"


def labelled_fields(text: str) -> dict[str, str]:
    """The answers an SMS in the middle of the dialogue gives by their labels ("NIK ... KK
    ..."), or {} when it is one plain answer to the question asked."""
    reading = read_fields(text, REASON_WORDS)
    return reading.values if reading.speaks_for_itself else {}


class NikFirst(Dialogue):
    """A dialogue that asks the NIK first and the KK later. A KK given before its question (by
    its label, "KK: 3271...", in the first SMS or at the NIK question) is kept for it; while
    the NIK question then waits, the reply says the KK is kept, so that the resident neither
    sends it again nor takes it for unread, and asks for the NIK (`<name>.kk_noted`)."""

    def answer(self, conversation: Conversation, text: str | None, context: Any,
               repeats: bool = True) -> Outcome:
        outcome = super().answer(conversation, text, context, repeats)
        kept = conversation.prefill.get("kk")
        if outcome.error is None and outcome.step == self.first and kept \
                and "kk" not in conversation.answers:
            outcome.error = Invalid(f"{self.name}.kk_noted",
                                    kk=mask_id(re.sub(r"\D", "", kept)))
        return outcome


def _finish(conversation: Conversation, services: Services) -> Mapping[str, Any]:
    answers = conversation.answers
    try:
        reference = services.submit_registration(conversation.phone, answers,
                                                 conversation.language)
    except Invalid as refused:
        refused.step = STEP_OF_PROBLEM.get(refused.key)
        raise
    return done_params(reference, answers["reason"])


REGISTRATION = NikFirst(
    "register",
    [
        Step("nik", "register.ask_nik", read_nik, (Route("kk"),)),
        Step("kk", "register.ask_kk", read_kk, (Route("reason"),)),
        Step(
            "reason",
            "register.ask_reason",
            read_reason,
            (Route("suket", when=asks_suket), Route("confirm")),
            choices=tuple(Choice(reason, f"choice.reason.{reason}") for reason in REASONS),
        ),
        Step("suket", "register.ask_suket", read_suket, (Route("confirm"),)),
        Step(
            "confirm",
            "register.confirm",
            read_confirmation,
            describe=confirmation_params,
            choices=(Choice("YA", "choice.confirm.yes"), Choice("TIDAK", "choice.confirm.no")),
            routes=(Route(DONE, when=lambda a: a["confirm"] is True), Route(CANCELLED)),
        ),
    ],
    finish=_finish,
    fields=labelled_fields,
)
