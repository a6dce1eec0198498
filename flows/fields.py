"""Reading the answers a registration SMS carries, the way residents write them.

They write `REG NIK#KK#` as they learned for their SIM card, but just as often "daftar nik
3271..., kk 3271...", "No. KK: 3271 0101 ... NIK 3271 ..." or the two numbers with nothing
between them. A number that carries a label (NIK, KK, No. KK, Nomor Kartu Keluarga, ...) is read
as that label says, in whatever order it comes; only the unlabelled ones are read by their
place (first the NIK, then the KK), unless only the other order fits the numbers (a KK of the
regency served, then a number that can only be a NIK). Words that are neither a label, a reason
nor part of a Suket number ("saya", "KTP", "mohon") are skipped rather than taken for an answer,
and so is a mobile number added to the message. The formats of other Dukcapil services
(`#KTP#NIK#KK#Nama#Desa#Kecamatan#Pemula`) give only their NIK, KK, reason and Suket number: the
name and place fields are dropped here, so they are never kept nor repeated. tests/flows/corpus/
holds the habits this reads.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from itertools import pairwise

from flows.keywords import (
    DOCUMENT_WORDS,
    Command,
    clean,
    is_document,
    parse_command,
    phrase_words,
    without_accents,
)
from sms_ktp.domain import region
from sms_ktp.domain.identity import IdentityError, parse_kk, parse_nik

FIELDS: tuple[str, ...] = ("nik", "kk", "reason", "suket")
ID_FIELDS = ("nik", "kk")
# A number at least this long is an identity number (a NIK or KK typed too short still is one,
# so that the reply can say how many digits were read).
ID_DIGITS = 10
ID_LENGTH = 16

# Label phrases (words as `phrase_words` gives them) and the field each names.
_LABELS: dict[tuple[str, ...], str] = {}
for _field, _phrases in {
    "nik": ["NIK", "NIKNYA", "NO NIK", "NOMOR NIK", "NOMER NIK", "NMR NIK", "NO NIKNYA",
            "NOMOR INDUK KEPENDUDUKAN", "NOMER INDUK KEPENDUDUKAN", "ID NUMBER", "NIK KTP"],
    "kk": ["KK", "KKNYA", "NOKK", "NKK", "NO KK", "NOMOR KK", "NOMER KK", "NMR KK", "NO KKNYA",
           "KARTU KELUARGA", "NO KARTU KELUARGA", "NOMOR KARTU KELUARGA",
           "NOMER KARTU KELUARGA", "FAMILY CARD", "FAMILY CARD NUMBER", "KK NO"],
    "reason": ["ALASAN", "ALASANNA", "ALASANNYA", "REASON"],
    "suket": ["SUKET", "NO SUKET", "NOMOR SUKET", "NOMER SUKET", "SURAT KETERANGAN"],
}.items():
    for _phrase in _phrases:
        _LABELS[tuple(_phrase.split())] = _field
_LONGEST_LABEL = max(map(len, _LABELS))
# Words allowed between a label and its number: "NIK saya adalah 3271...", "KK abdi: ...".
_FILLERS = frozenset({"SAYA", "SY", "ABDI", "KAMI", "MY", "IS", "ADALAH", "YAITU", "YAKNI",
                      "NYA", "ANDA", "NYAETA", "NO", "NOMOR", "NOMER", "NMR", "KTP", "EL"})
_MOST_FILLERS = 3
# Words between the identity numbers and the reason's number: "... KK 3271... no 2".
_REASON_NUMBER_WORDS = frozenset({"NO", "NOMOR", "NOMER", "NMR", "PILIH", "PILIHAN", "ANGKA",
                                  "KODE", "OPSI", "OPTION", "NOMBER", "NUMBER"})
_CONNECTORS = frozenset({"DAN", "AND", "JEUNG", "SERTA", "SAMA"})

_TOKEN = re.compile(r"(?P<num>\d+)|(?P<word>[A-Z]+)|(?P<hash>[#*])|(?P<other>\S)")
# Between the digit groups of one number: one blank, dot or dash (`3271 0145 0190 0029`).
_GROUP_GAP = re.compile(r"[ .\-]")


@dataclass(frozen=True)
class _Token:
    kind: str  # num, word, hash, other
    text: str
    start: int
    end: int


@dataclass
class Reading:
    """The answers found, by field; `labelled` names those a label vouched for."""

    values: dict[str, str] = field(default_factory=dict)
    labelled: set[str] = field(default_factory=set)
    ids_found: int = 0  # identity numbers in the text, labelled or not
    other_service: bool = False  # read as another service's format (fields dropped)

    @property
    def speaks_for_itself(self) -> bool:
        """Whether the text is more than one plain answer: a label, or two identity numbers.
        Such a text is read by its labels even in the middle of the dialogue."""
        return bool(self.labelled) or self.ids_found >= 2


def read_fields(text: str, reason_words: dict[str, str]) -> Reading:
    """The registration answers in `text` (what follows DAFTAR, or an answer to a question).
    `reason_words` maps the words of each reason (upper case, no accents) to its code."""
    text = prepared(text)
    if re.search(r"[#*]", text):
        return _read_separated(text, reason_words)
    return _read_free(text, reason_words)


def prepared(text: str) -> str:
    """`text` as the readers here see it: clean, upper case, without accents or symbols."""
    text = without_accents(clean(text)).upper()
    # A letter O between two digits is a zero typed on the letter row: 3271O14501900029.
    text = re.sub(r"(?<=\d)O(?=\d)", "0", text)
    # Emoji and other symbols say nothing here ("2 🙏" is the reason 2).
    return " ".join("".join(" " if unicodedata.category(char) in ("So", "Sk") else char
                            for char in text).split())


@dataclass(frozen=True)
class IdNumber:
    """An identity number found in a text, the field its label names (None: unlabelled) and
    where it stands in the prepared text, its label included."""

    digits: str
    label: str | None
    start: int
    end: int


def identity_numbers(text: str) -> list[IdNumber]:
    """The identity numbers of a `prepared` text in their order, each with the label (NIK or
    KK) that names it: what a document's form without `#` reads by label before place. A
    mobile number, or a number labelled as a Suket's, is none."""
    tokens = _tokens(text)
    label_at = _labels(tokens)
    label_first = {after: first for first, after, _ in _label_phrases(tokens)}
    found = []
    for first, last, digits in _numbers(text, tokens):
        if len(digits) < ID_DIGITS or _is_phone(digits):
            continue
        named = _label_reach(tokens, first, label_at)
        if named is not None and named[0] == "suket":
            continue
        label = named[0] if named is not None and named[0] in ID_FIELDS else None
        start = _words_before(tokens, label_first.get(named[1], first)) if named else first
        found.append(IdNumber(digits, label, tokens[start].start, tokens[last].end))
    return found


def _words_before(tokens: list[_Token], label: int) -> int:
    """The first of the filler words right before the label at token `label` ("No. KK",
    "nomor KTP: NIK"), which belong to it; `label` when there are none."""
    start = index = label
    while index > 0 and label - index < 2 * _MOST_FILLERS:
        token = tokens[index - 1]
        if token.kind == "word" and token.text in _FILLERS:
            start = index - 1
        elif token.kind != "other":
            break
        index -= 1
    return start


def labelled_kk(text: str) -> str | None:
    """The number of a text that gives a KK by its label and nothing else of the kind ("KK:
    3271...", "no kk 3271...", "Nomor KK saya 3271..."): a number the resident says is the
    KK, which is never to be read as a NIK. None for any other text."""
    return _lone_labelled(text, "kk")


def labelled_nik(text: str) -> str | None:
    """The number of a text that gives a NIK by its label and nothing else of the kind ("NIK:
    3271...", "nik saya 3271..."). None for any other text."""
    return _lone_labelled(text, "nik")


def _lone_labelled(text: str, name: str) -> str | None:
    """The one identity number of `text` when its label is `name`. Parts separated by `#` or
    `*` are read as a registration reads them, a label alone in its part labelling the part
    after it (`No KK#3271...`, `KK*3271...`): the label is the resident's word either way."""
    text = prepared(text)
    if re.search(r"[#*]", text):
        reading = _read_separated(text, {})
        if reading.ids_found == 1 and name in reading.labelled:
            return reading.values[name]
        return None
    numbers = identity_numbers(text)
    if len(numbers) == 1 and numbers[0].label == name:
        return numbers[0].digits
    return None


def read_command(text: str) -> Command | None:
    """`parse_command` as a dialogue reads it: after a document's keyword, a `#` list of
    numbers and their labels that names a NIK ("KK#3271...#NIK#3271...": the KK keyword is the
    KK's label there, and a NIK labelled has no place in a one-SMS form) is marked `guessed`,
    so that it answers the question of a dialogue in progress; outside one it is the keyword."""
    command = parse_command(text)
    if command is not None and not command.guessed and is_document(command) \
            and "#" in command.rest and labelled_list(command.rest):
        return replace(command, guessed=True)
    return command


def labelled_list(text: str) -> bool:
    """Whether `text` is a list of identity numbers and their labels separated by `#` or `*`,
    and nothing else, one number labelled NIK (`#3271...#NIK#3271...`, `NIK#3271...#KK#3271...`,
    `# No KK: 3271... # nik 3271...`): numbers the resident tells apart by their labels, as
    the answer to a question that asks for a NIK. A one-SMS form places its parts by their
    order and carries what is not a number (a reason, a date)."""
    text = prepared(text)
    parts = [part.strip(" :.,;=-") for part in re.split(r"[#*]", text)]
    parts = [part for part in parts if part]
    for part in parts:
        if _label_only(part):
            continue
        numbers = identity_numbers(part)
        if len(numbers) != 1 or part[:numbers[0].start].strip(" :.,;=-") \
                or part[numbers[0].end:].strip(" :.,;=-"):
            return False
    return "nik" in _read_separated(text, {}).labelled


def is_label(part: str) -> bool:
    """Whether a `#` part is a label and nothing else (`NIK`, `No. KK:`), which labels the
    part after it (`NIK#3271...#KK#3271...`)."""
    return _label_only(prepared(part))


def labelled_ids(text: str) -> dict[str, str]:
    """The NIK and the KK a text gives by their labels ("KK 3271... NIK 3271...", "nik:
    3271..., kk: 3271...", "KK#3271...#NIK#3271..."), read as a registration reads them, and
    beside a labelled KK the first number without a label ("KK 3271... 3271..."), which can
    then only be the NIK: what a question that asks for one NIK reads before the answer as
    typed. Other numbers without a label are left out: where one NIK is asked at a time,
    their place names none of them."""
    reading = read_fields(text, {})
    found = {name: reading.values[name] for name in ID_FIELDS if name in reading.labelled}
    beside = reading.values.get("nik")
    if "kk" in found and "nik" not in found and beside is not None and beside != found["kk"]:
        found["nik"] = beside
    return found


def _read_separated(text: str, reason_words: dict[str, str]) -> Reading:
    """`NIK#KK#ALASAN#SUKET`: a labelled part is read by its label (a part that is only a
    label, as in `NIK#3271...#KK#3271...`, labels the part after it). The others are read by
    their kind and place: identity numbers fill the NIK then the KK not yet given, the other
    parts the reason then the Suket number (an empty part, `NIK##2`, takes no place)."""
    parts = [part.strip(" :.,;=-") for part in re.split(r"[#*]", text)]
    filled = [part for part in parts if part]
    if filled and phrase_words(filled[0]) in DOCUMENT_WORDS:  # `#KTP#...`: the document first
        return _read_other_service(filled[1:], reason_words)
    reading = Reading()
    ids: list[str] = []
    others: list[str] = []
    label = ""
    for part in parts:
        if not part or _is_phone(_id_digits(part)):
            continue
        if _label_only(part):
            label = f"{label} {part}"
            continue
        if label:
            part, label = f"{label} {part}", ""
        inside = _read_free(part, reason_words)
        reading.ids_found += inside.ids_found
        if inside.labelled:
            for name in inside.labelled:
                reading.values.setdefault(name, inside.values[name])
                reading.labelled.add(name)
        elif inside.ids_found > 1 or (inside.ids_found and not _id_digits(part).isdigit()):
            # "3271... hilang", "3271... 3271...": the numbers, then the rest
            ids.extend(inside.values[name] for name in ID_FIELDS if name in inside.values)
            if "reason" in inside.values:
                others.append(inside.values["reason"])
        elif inside.ids_found:
            ids.append(_id_digits(part))
        else:
            others.extend(_first_card_and_suket(part) if not others else [part])
    if _carries_other_fields(others, reason_words):
        return _read_other_service(filled, reason_words)
    _place_ids(reading, ids)
    free = [name for name in ("reason", "suket") if name not in reading.values]
    for name, part in zip(free, others, strict=False):
        reading.values[name] = part
    return reading


def _carries_other_fields(others: list[str], reason_words: dict[str, str]) -> bool:
    """Whether the parts that are no identity number hold more than the reason and the Suket
    number (`DAFTAR#NIK#KK#Nama#Desa#Kecamatan#Hilang`), or a reason behind another part
    (`REG#NIK#KK#Budi#hilang`): the fields of another service's format, read as such."""
    if len(others) != 2:
        return len(others) > 2
    first, second = others
    return (_reason_words(first, reason_words) is None and not _lone_reason_number(first)
            and _reason_words(second, reason_words) is not None)


def _read_other_service(parts: list[str], reason_words: dict[str, str]) -> Reading:
    """The fields of another Dukcapil service's format, after its document word: Kabupaten
    Magelang's `<NIK>#<Nomor KK>#<Nama>#<Desa>#<Kecamatan>#Pemula/Hilang/Rusak/Ubah Data`, with
    fields missing, moved or added. Only four things are taken from them:
    - the identity numbers: the parts that are numbers and nothing else (or carry a NIK or KK
      label); a part with words (a name, a desa with its RT/RW) is never read as one;
    - the reason: the last part that is a reason word and nothing else ("Pemula", "Ubah Data"),
      so that a name or desa that is a reason word before it ("Baru") is not taken for it; or a
      lone 1-4 right after the identity numbers or at the very end;
    - the Suket number: a part shaped like one (`474.11/12/KEC.X`, its classification code
      first), labelled ("Suket 474/..."), or after the reason in its part ("Pemula 474/...");
    - nothing else: names, desa or kelurahan and kecamatan are dropped here, so they are
      neither kept with the dialogue nor stored."""
    parts = [part for part in parts if not _is_phone(_id_digits(part))]
    reading = Reading(other_service=True)
    ids: list[str] = []
    candidates: list[tuple[int, str]] = []  # (place, part) of the parts with no number read
    last_id = -1
    for index, part in enumerate(parts):
        inside = _read_free(part, {})  # numbers and labels only
        labelled = inside.labelled & {*ID_FIELDS, "suket"}
        if labelled:
            for name in labelled:
                if name != "suket" or _suket_shaped(inside.values[name], labelled=True):
                    reading.values.setdefault(name, inside.values[name])
                    reading.labelled.add(name)
            if labelled & set(ID_FIELDS):
                reading.ids_found += inside.ids_found
                last_id = index
            continue
        if inside.ids_found and not re.search(r"[A-Z]", part):
            ids.extend(inside.values[name] for name in ID_FIELDS if name in inside.values)
            reading.ids_found += inside.ids_found
            last_id = index
            continue
        candidates.append((index, part))
    _place_ids(reading, ids)
    reason: str | None = None
    suket: str | None = None
    for index, part in candidates:
        first, *rest = _first_card_and_suket(part)
        words = _reason_words(first, reason_words)
        if words is None and _lone_reason_number(part) \
                and index in (last_id + 1, len(parts) - 1):
            words = part
        if words is not None:
            reason = words
            if rest and _suket_shaped(rest[0]):
                suket = rest[0]
        elif _suket_shaped(part):
            suket = part
    if reason is not None:
        reading.values["reason"] = reason
    if suket is not None:
        reading.values.setdefault("suket", suket)
    return reading


# Words that may stand beside a reason word in its field ("KTP hilang", "Alasan: rusak").
_BESIDE_REASON = frozenset({"ALASAN", "ALASANNYA", "ALASANNA", "REASON", "KTP", "EL", "KTPEL",
                            "EKTP", "E"})
# A Suket number as Kecamatan offices write it: a classification code (470, 474.11, ...), a
# slash, then the rest (`474.11/123/KEC-BGR`). An RT/RW (`002/005`) is not one.
_SUKET_SHAPE = re.compile(r"4\d\d(?:\.\d+)*\s*/\s*[A-Z0-9]")
_LABELLED_SUKET_SHAPE = re.compile(r"\d")


def _reason_words(part: str, reason_words: dict[str, str]) -> str | None:
    """The part's words when they are a reason and nothing else ("Pemula", "UBAH DATA", "KTP
    hilang"); None for a part that holds anything else (a name, "Rusak Jaya", a digit) or words
    of two reasons ("Pemula/Hilang/Rusak/Ubah Data" copied from the instructions)."""
    if re.search(r"\d", part):
        return None
    words = [word for word in phrase_words(part) if word not in _BESIDE_REASON]
    codes: set[str] = set()
    index = 0
    while index < len(words):
        pair = " ".join(words[index:index + 2])
        if index + 1 < len(words) and pair in reason_words:
            codes.add(reason_words[pair])
            index += 2
        elif words[index] in reason_words:
            codes.add(reason_words[words[index]])
            index += 1
        else:
            return None
    return " ".join(words) if len(codes) == 1 else None


def _lone_reason_number(part: str) -> bool:
    return part.isdigit() and len(part) == 1 and 1 <= int(part) <= 4


def _suket_shaped(text: str, labelled: bool = False) -> bool:
    """Whether `text` may be a Suket number: shaped like one, or with a digit after its label."""
    return bool((_LABELLED_SUKET_SHAPE if labelled else _SUKET_SHAPE).match(text.strip()))


def _first_card_and_suket(part: str) -> list[str]:
    """`...#1 474/5/KEC.GML/2019`: a first card's reason and its Suket number in one part,
    told apart by the blank after the reason (other parts are one answer each)."""
    first, _, rest = part.partition(" ")
    if first.upper() in _FIRST_CARD_WORDS and re.search(r"\d", rest):
        return [first, rest.strip()]
    return [part]


def _is_phone(digits: str) -> bool:
    """Whether `digits` are an Indonesian mobile number (08..., 628..., 10 to 14 digits), which
    residents add to a registration; an identity number has 16 digits and never starts with 0."""
    return digits.isdigit() and len(digits) != ID_LENGTH and 10 <= len(digits) <= 14 \
        and (digits.startswith("08") or digits.startswith("628"))


def _label_only(part: str) -> bool:
    """Whether a `#` part is a label and nothing else (`NIK`, `No. KK:`)."""
    tokens = _tokens(part)
    if any(token.kind == "num" for token in tokens):
        return False
    labels = list(_label_phrases(tokens))
    covered = {index for first, after, _ in labels for index in range(first, after)}
    return bool(labels) and all(
        index in covered or token.kind == "other" or token.text in _FILLERS
        for index, token in enumerate(tokens))


def _place_ids(reading: Reading, ids: list[str]) -> None:
    """Identity numbers without a label fill the NIK, then the KK, not yet given. Two of them
    are read the other way round when only that way fits: the first is a KK of the regency
    served and the second can only be a NIK (a woman's birth day + 40, or a NIK from another
    regency), as a clerk reading "3271010101200003 3271014501900029" would see."""
    free = [name for name in ID_FIELDS if name not in reading.values]
    if free == list(ID_FIELDS) and len(ids) >= 2 and kk_first(ids[0], ids[1]):
        ids = [ids[1], ids[0], *ids[2:]]
    for name, digits in zip(free, ids, strict=False):
        reading.values[name] = digits


def kk_first(first: str, second: str) -> bool:
    """Whether `first` is a KK and `second` can only be a NIK. A second number of the regency
    served with a possible day is left second: it is a KK typed wrong (an unknown kecamatan)
    as often as a NIK, and the KK's refusal then names the mistake."""
    if not all(number.isdigit() and len(number) == ID_LENGTH for number in (first, second)):
        return False  # a word or a number typed short: read where it stands
    only_a_nik = int(second[6:8]) > 40 or second[:4] != region.current().code
    return (only_a_nik and not _fits(parse_kk, second) and _fits(parse_kk, first)
            and _fits(parse_nik, second))


def _fits(rule: Callable[[str, date], object], number: str) -> bool:
    try:
        rule(number, date.today())
    except IdentityError:
        return False
    return True


def _id_digits(part: str) -> str:
    """A part holding one number (however grouped) is that number; anything else stays as
    typed, so the rules can say what is wrong with it."""
    digits = re.sub(r"[ .\-]", "", part)
    return digits if digits.isdigit() else part


def _tokens(text: str) -> list[_Token]:
    return [_Token(m.lastgroup or "other", m.group(), m.start(), m.end())
            for m in _TOKEN.finditer(text)]


def _read_free(text: str, reason_words: dict[str, str]) -> Reading:
    tokens = _tokens(text)
    reading = Reading()
    numbers = list(_numbers(text, tokens))
    label_at = _labels(tokens)  # token index after a label -> field
    unlabelled_ids: list[str] = []
    suket_from: int | None = None
    last_id_end = 0
    for first, last, digits in numbers:
        label = _label_before(tokens, first, label_at)
        if label == "suket":
            suket_from = tokens[first].start if suket_from is None else suket_from
            continue
        if _is_phone(digits):
            continue  # "... no HP 0812 3456 7890": the phone number, never a NIK or KK
        if len(digits) >= ID_DIGITS:
            reading.ids_found += 1
            last_id_end = tokens[last].end
            if label in ID_FIELDS and label not in reading.values:
                reading.values[label] = digits
                reading.labelled.add(label)
            elif label != "kk":
                unlabelled_ids.append(digits)
            # (a second number labelled KK is left out: never read as the NIK by its place)
        elif label == "reason" and "reason" not in reading.values:
            reading.values["reason"] = digits
            reading.labelled.add("reason")
    _place_ids(reading, unlabelled_ids)
    reason_end = _find_reason(text, tokens, numbers, label_at, last_id_end, reading,
                              reason_words)
    for position, name in label_at.items():
        while position < len(tokens) and (tokens[position].kind == "other" or (
                tokens[position].kind == "word" and tokens[position].text in _FILLERS)):
            position += 1  # "Suket no. 474/..." is the number after the label
        if name == "suket" and position < len(tokens):
            suket_from = tokens[position].start if suket_from is None \
                else min(suket_from, tokens[position].start)
    if suket_from is not None:
        suket = text[suket_from:].strip(" :.,;=-")
        if suket:
            reading.values["suket"] = suket
            reading.labelled.add("suket")
    elif reason_end is not None and reading.values.get("reason") in _FIRST_CARD_WORDS:
        tail = text[reason_end:].strip(" :.,;=-/")
        if any(char.isdigit() for char in tail):
            reading.values["suket"] = tail
    return reading


# The answers to "reason" that lead to the Suket question (`asks_suket`): its number or word.
_FIRST_CARD_WORDS = frozenset({"1", "BARU", "NEW", "SUKET", "ENGGAL", "ANYAR", "PEMULA"})


def _find_reason(text: str, tokens: list[_Token], numbers: list[tuple[int, int, str]],
                 label_at: dict[int, str], last_id_end: int, reading: Reading,
                 reason_words: dict[str, str]) -> int | None:
    """Sets the reason (a reason word anywhere outside a Suket number, or a lone digit right
    after the identity numbers); returns where it ends in `text`."""
    if "reason" in reading.values:
        return None
    for index, token in enumerate(tokens):
        if token.kind != "word":
            continue
        if label_at.get(index) == "suket" or _after_suket_label(index, label_at):
            break
        pair = f"{token.text} {tokens[index + 1].text}" if index + 1 < len(tokens) else ""
        for words, end in ((pair, tokens[min(index + 1, len(tokens) - 1)].end),
                           (token.text, token.end)):
            if words and words in reason_words:
                reading.values["reason"] = words
                if _label_before(tokens, index, label_at) == "reason":
                    reading.labelled.add("reason")  # "alasan: rusak"
                return end
    if not last_id_end:
        return None
    for first, last, digits in numbers:
        if tokens[first].start >= last_id_end and len(digits) == 1:
            between = re.sub(r"[A-Z]+", lambda word: " " if word.group()
                             in _REASON_NUMBER_WORDS else word.group(),
                             text[last_id_end:tokens[first].start])
            if not re.search(r"[A-Z0-9]", between):
                reading.values["reason"] = digits
                return tokens[last].end
            break
    return None


def _after_suket_label(index: int, label_at: dict[int, str]) -> bool:
    return any(name == "suket" and position <= index for position, name in label_at.items())


def _numbers(text: str, tokens: list[_Token]) -> Iterator[tuple[int, int, str]]:
    """Each number as (first token, last token, digits): digit groups joined across single
    blanks, dots or dashes while they add up to at most 16 digits (`3271 0145 0190 0029`); a
    group that is 16 digits long on its own stands alone. Groups that do not add up to an
    identity number stay apart (`1 470/12/KEC`: the reason 1, then a Suket number), and 32
    digits in a row are the NIK and the KK typed without a blank."""
    index = 0
    while index < len(tokens):
        if tokens[index].kind != "num":
            index += 1
            continue
        first = last = index
        digits = tokens[index].text
        if len(digits) == 2 * ID_LENGTH:
            yield first, last, digits[:ID_LENGTH]
            yield first, last, digits[ID_LENGTH:]
            index += 1
            continue
        while (len(digits) < ID_LENGTH and last + 2 <= len(tokens)
               and _joinable(text, tokens, last, digits)):
            last += 1 if tokens[last + 1].kind == "num" else 2
            digits += tokens[last].text
        if last > first and len(digits) < ID_DIGITS:
            last, digits = first, tokens[first].text
        yield first, last, digits
        index = last + 1


def _joinable(text: str, tokens: list[_Token], last: int, digits: str) -> bool:
    """Whether the digit group after token `last` continues the same number."""
    following = last + 1
    if following < len(tokens) and tokens[following].kind == "other" \
            and tokens[following].text in ".-":
        following += 1
    if following >= len(tokens) or tokens[following].kind != "num":
        return False
    gap = text[tokens[last].end:tokens[following].start]
    if len(gap) != 1 or not _GROUP_GAP.fullmatch(gap):
        return False
    return len(digits) + len(tokens[following].text) <= ID_LENGTH


def _labels(tokens: list[_Token]) -> dict[int, str]:
    """{index of the token after a label: field}. Labels that stand together ("NIK dan KK:",
    "NIK/KK") head a list of numbers in that order, so they name none of them on their own."""
    found = list(_label_phrases(tokens))
    heading: set[int] = set()
    for (_, after, _), (start, later, _) in pairwise(found):
        if all(t.kind == "other" or t.text in _CONNECTORS for t in tokens[after:start]):
            heading |= {after, later}
    return {after: name for _, after, name in found if after not in heading}


def _label_phrases(tokens: list[_Token]) -> Iterator[tuple[int, int, str]]:
    """(first token, token after, field) of each label phrase, the longest phrase first."""
    index = 0
    while index < len(tokens):
        for size in range(_LONGEST_LABEL, 0, -1):
            words = tokens[index:index + size]
            if len(words) == size and all(t.kind == "word" for t in words):
                name = _LABELS.get(tuple(t.text for t in words))
                if name is not None:
                    yield index, index + size, name
                    index += size
                    break
        else:
            index += 1


def _label_before(tokens: list[_Token], first: int, label_at: dict[int, str]) -> str | None:
    """The label that names the number starting at token `first`: a label just before it, with
    at most a few filler words and punctuation in between."""
    named = _label_reach(tokens, first, label_at)
    return named[0] if named is not None else None


def _label_reach(tokens: list[_Token], first: int, label_at: dict[int, str]
                 ) -> tuple[str, int] | None:
    """`_label_before`'s label, with the index of the token after it."""
    index = first
    fillers = 0
    while index > 0:
        if index in label_at:
            return label_at[index], index
        token = tokens[index - 1]
        if token.kind == "word":
            if token.text not in _FILLERS or fillers >= _MOST_FILLERS:
                return None
            fillers += 1
        elif token.kind != "other":
            return None
        index -= 1
    return (label_at[0], 0) if 0 in label_at else None
