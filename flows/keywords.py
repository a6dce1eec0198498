"""Reading what residents type: keywords and their fields, the way they learned them when
registering their SIM cards (`REG NIK#KK#`), in any of the catalogue languages, with the typos a
numeric keypad makes. The words themselves live in `messages/keywords.toml`."""

from __future__ import annotations

import re
import sys
import tomllib
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources

from flows.catalogue import document_folders

# Invisible characters that phones and copy-paste slip into messages.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u00ad"), None)
# Quotes of every shape read as a blank: `REG "3271..."` is `REG 3271...`.
_QUOTES = dict.fromkeys(map(ord, "\"'`\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u00ab\u00bb"),
                        " ")
# Dashes of every length read as a hyphen: `3271–0145–0190–0029` (an en dash from a word
# processor or a phone's autocorrect) is a number in groups.
_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63"), "-")

ANY_LANGUAGE = "any"
# The action of the words that name a language after BAHASA / BASA / LANG.
LANGUAGE_NAMES = "language_names"
# A slip (one letter missing, extra, wrong or swapped) is forgiven in words at least this long.
FORGIVEN_LENGTH = 5
ID_LENGTH = 16


@dataclass(frozen=True)
class Keyword:
    action: str
    language: str | None = None  # a keyword that is clearly one language answers in it


@dataclass(frozen=True)
class Command:
    action: str
    args: tuple[str, ...]
    language: str | None
    # Read from a word one slip away from a keyword, or from another service's status check
    # (`KTP#<NIK>`) that answers a question as well: a registration dialogue in progress takes
    # such a text as its answer instead.
    guessed: bool = False
    # What follows the keyword, cleaned but not split: read by its labels where that matters
    # (`DAFTAR NIK 3271... KK 3271...`, see `flows.fields`).
    rest: str = field(default="", compare=False)


@dataclass(frozen=True)
class KeywordTable:
    """The keywords by their words (a phrase is a tuple of words) and the language names."""

    phrases: Mapping[tuple[str, ...], Keyword]
    language_names: Mapping[str, str]
    longest_phrase: int
    forgiving: Mapping[str, Keyword]  # single words long enough for a slip to be forgiven


def phrase_words(text: str) -> tuple[str, ...]:
    """`Cek-status.` -> ("CEK", "STATUS"): how a phrase is compared."""
    return tuple(re.findall(r"[A-Z]+", text.upper()))


def load_table(source: Mapping[str, Mapping[str, list[str]]]) -> KeywordTable:
    """The table of `keywords.toml`; a phrase listed twice is refused rather than guessed at."""
    phrases: dict[tuple[str, ...], Keyword] = {}
    names: dict[str, str] = {}
    for action, by_language in source.items():
        for language, words in by_language.items():
            for text in words:
                words_of = phrase_words(text)
                if not words_of:
                    raise ValueError(f"keywords.toml [{action}]: {text!r} has no letters")
                if action == LANGUAGE_NAMES:
                    names[words_of[0]] = language
                    continue
                if words_of in phrases:
                    raise ValueError(f"keywords.toml: {text!r} is listed twice")
                phrases[words_of] = Keyword(action,
                                            None if language == ANY_LANGUAGE else language)
    forgiving = {words[0]: keyword for words, keyword in phrases.items()
                 if len(words) == 1 and len(words[0]) >= FORGIVEN_LENGTH}
    return KeywordTable(phrases, names, max(map(len, phrases)), forgiving)


@cache
def table_source() -> dict[str, dict[str, list[str]]]:
    """keywords.toml, with each document's own (`flows/documents/<code>/keywords.toml`: the
    words that start its dialogue, as an action named by the document's code)."""
    text = resources.files("flows.messages").joinpath("keywords.toml").read_text("utf-8")
    source = tomllib.loads(text)
    for folder in document_folders():
        own = folder.joinpath("keywords.toml")
        if own.is_file():
            for action, words in tomllib.loads(own.read_text("utf-8")).items():
                if action != folder.name:
                    raise ValueError(f"{folder.name}/keywords.toml: [{action}]: a document's "
                                     f"keywords start its own dialogue, [{folder.name}]")
                source[action] = words
    return source


@cache
def keyword_table() -> KeywordTable:
    return load_table(table_source())


def language_named(word: str) -> str | None:
    """The language code `word` names (`SUNDA` -> "su"), if any."""
    words = phrase_words(word)
    return keyword_table().language_names.get(words[0]) if words else None


# --- characters ---------------------------------------------------------------------------------
def _ascii_digit(char: str) -> str:
    return str(unicodedata.decimal(char)) if unicodedata.category(char) == "Nd" else char


def clean(text: str) -> str:
    """Canonical form of an inbound text: NFKC (full-width digits become ASCII), digits of any
    script as ASCII digits (Arabic-Indic keyboards), no invisible or control characters, quotes
    as blanks, dashes as hyphens, single spaces, no surrounding blanks."""
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    if not text.isascii():
        text = "".join(_ascii_digit(char) if char.isdigit() else char for char in text)
    text = text.translate(_QUOTES).translate(_DASHES)
    text = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in text)
    return " ".join(text.split())


def without_accents(text: str) -> str:
    """`Énggal` -> `Enggal`: Sundanese spelling with and without the accent reads the same."""
    return "".join(char for char in unicodedata.normalize("NFKD", text)
                   if not unicodedata.combining(char))


# --- fields -------------------------------------------------------------------------------------
_SEPARATORS = re.compile(r"[#*]")
# Between fields when no `#` or `*` is used: blanks and the punctuation people type instead.
_GAP = r"[\s/.,;:=\-]*"
# A NIK or KK at the start of what is left: 16 digits, grouped by spaces, dots or dashes.
_LEADING_ID = re.compile(_GAP + r"(\d(?:[ .\-]?\d){15})(?!\d)")
_LEADING_GAP = re.compile(_GAP)
# A KK of the wrong length still fills the KK's place whole, so that the reply counts its digits.
_DIGIT_GROUPS = re.compile(r"(\d(?:[ .\-]?\d)*)")
# The reason that follows the numbers: a number or a word; the Suket number is what remains.
_NEXT_WORD = re.compile(r"([^\s/.,;:=#*\-]+)")


def _join_digit_groups(words: list[str]) -> list[str]:
    """`123 456 789`: groups of digits add up to a number of at most 16 digits."""
    fields: list[str] = []
    digits = 0
    for word in words:
        plain = word.replace(".", "").replace("-", "")
        if plain.isdigit() and fields and 0 < digits < ID_LENGTH \
                and digits + len(plain) <= ID_LENGTH:
            fields[-1] += word
            digits += len(plain)
        else:
            fields.append(word)
            digits = len(plain) if plain.isdigit() else 0
    return fields


def _numbers_first(rest: str) -> list[str] | None:
    """`NIK/KK/1/474.11/12/KEC`, `NIK.KK`, `NIK KK hilang`: the 16-digit numbers at the start
    (their grouping dropped), the word after them, then the rest whole (a Suket number keeps
    its own slashes and dots). None when the text does not start with a 16-digit number."""
    fields: list[str] = []
    position = 0
    while len(fields) < 2:
        found = _LEADING_ID.match(rest, position)
        if not found:
            break
        fields.append(re.sub(r"\D", "", found.group(1)))
        position = found.end()
    if not fields:
        return None
    position = _LEADING_GAP.match(rest, position).end()  # type: ignore[union-attr]
    word = (_DIGIT_GROUPS if len(fields) < 2 else _NEXT_WORD).match(rest, position) \
        or _NEXT_WORD.match(rest, position)
    if word:
        fields.append(word.group(1))
        tail = rest[_LEADING_GAP.match(rest, word.end()).end():].strip()  # type: ignore[union-attr]
        if tail:
            fields.append(tail)
    return fields


def split_fields(rest: str) -> tuple[str, ...]:
    """Fields after a keyword: `#` or `*` separated when the resident used them; else the
    16-digit numbers first, however grouped and separated; else by spaces. Empty trailing
    fields (`REG NIK#KK#`) and bare punctuation (`Status?`) are dropped."""
    rest = rest.strip().lstrip("#*:.,;-= ").strip()
    if _SEPARATORS.search(rest):
        fields = [part.strip() for part in _SEPARATORS.split(rest)]
    else:
        fields = _numbers_first(rest) or _join_digit_groups(rest.split())
    if not any(char.isalnum() for field in fields for char in field):
        return ()
    while fields and not any(char.isalnum() for char in fields[-1]):
        fields.pop()
    return tuple(fields)


# --- keywords -----------------------------------------------------------------------------------
_WORD = re.compile(r"[^0-9A-Za-z]*([A-Za-z]+)")
_WORD_GAP = re.compile(r"[^0-9A-Za-z#*]*([A-Za-z]+)")
# Words of courtesy a resident may put before the keyword ("Pak, saya mau daftar ...", "tolong
# cek status 123456789", "punten bade daptar", "nuwun sewu, kula badhe daftar"): skipped when a
# keyword follows them. Greetings (HALO, SELAMAT PAGI) are not among them: a keyword starts the
# text or follows these words.
LEADING_COURTESY = frozenset({
    "PAK", "BAPAK", "BU", "IBU", "MIN", "ADMIN", "KAK", "KAKAK", "MAS", "MBAK", "BANG", "DIK",
    "SAYA", "SY", "AKU", "KAMI", "MAU", "INGIN", "PENGEN", "PINGIN", "MOHON", "TOLONG",
    "MINTA", "PERMISI", "MAAF", "NUMPANG", "IZIN", "IJIN", "BADE", "HOYONG", "ABDI", "PUNTEN",
    "NYUHUNKEUN", "AKANG", "TETEH", "EUY", "KULA", "BADHE", "AJENG", "NYUWUN", "NUWUN", "SEWU",
    "PANGAPUNTEN", "I", "WANT", "TO", "WOULD", "LIKE", "PLEASE",
})
_MOST_COURTESY = 5
# Words in a keyword's arguments that name nothing by themselves: `cek status ref 123456789`,
# `STATUS KTP saya no. 123456789`, `BAHASA nya sunda`. The reference or day is what remains.
ARGUMENT_FILLERS = frozenset({
    "REF", "REFF", "NOREF", "REFERENSI", "REFERENCE", "NO", "NOMOR", "NOMER", "NMR", "NOMBER",
    "NUMBER", "KTP", "EL", "KTPEL", "E", "SAYA", "SY", "ABDI", "MY", "MIN", "PAK", "BU", "KAK",
    "MOHON", "TOLONG", "PLEASE", "PUNTEN", "NYA", "DONG", "YG", "YANG",
})
# A filler stuck to the number it introduces: `REF:123456789`, `no.626018155`.
_GLUED_FILLER = re.compile(r"([A-Za-z]+)[.:=\-]*(?=\d)")


def _arguments(rest: str) -> tuple[str, ...]:
    """The fields after a keyword (`split_fields`) less the words that name nothing."""
    fields = []
    for part in split_fields(rest):
        glued = _GLUED_FILLER.match(part)
        if glued and glued.group(1).upper() in ARGUMENT_FILLERS:
            part = part[glued.end():]
        words = phrase_words(part)
        if words and not any(char.isdigit() for char in part) \
                and all(word in ARGUMENT_FILLERS for word in words):
            continue
        fields.append(part)
    return tuple(fields)


def _leading_words(text: str, most: int) -> Iterator[tuple[str, int]]:
    """The first `most` words of `text` (upper-cased) with where each ends; a digit, `#` or `*`
    ends the words (`REG3271...` is REG then a number)."""
    found = _WORD.match(text)
    while found and most > 0:
        yield found.group(1).upper(), found.end()
        most -= 1
        found = _WORD_GAP.match(text, found.end())


def parse_command(text: str) -> Command | None:
    """The keyword command in `text`, or None when the text does not start with a keyword (it is
    then an answer to the current question, or nonsense). The longest phrase wins: `CEK JADWAL`
    is the pickups, `CEK 123456789` a status. Words of courtesy before a keyword are skipped
    (`tolong daftar ...` registers, though TOLONG alone asks for help). The `#` formats of other
    services count as keywords too (`hash_format`)."""
    cleaned = clean(text)
    if not cleaned.isascii():
        cleaned = without_accents(cleaned)
    other_format = hash_format(cleaned)
    if other_format is not None:
        return other_format
    table = keyword_table()
    starts = [0]  # where a keyword may start: the text, or after each word of courtesy
    words = list(_leading_words(cleaned, _MOST_COURTESY + 1))
    for word, end in words[:_MOST_COURTESY]:
        if word not in LEADING_COURTESY:
            break
        starts.append(end)
    for start in reversed(starts):  # the keyword after the courtesy: MOHON BANTUAN is help
        found = _keyword_at(cleaned, start, table)
        if found is not None:
            keyword, end = found
            command = Command(keyword.action, _arguments(cleaned[end:]), keyword.language,
                              rest=cleaned[end:])
            if command.action == "help" and nik_after_hash(command) is not None:
                # INFO#<NIK>, as the SIM registration answered it: where that NIK's card stands
                command = replace(command, action="status")
            elif _labels_a_number(command):
                # "KK: 3271...", "kk nya 3271...": the number labelled, which answers the
                # question of a dialogue in progress; outside one, the KK keyword.
                command = replace(command, guessed=True)
            return command
    if len(words) < len(starts):
        return None
    word, end = words[len(starts) - 1]  # the first word that is no courtesy: a slip of one?
    guess = _forgiven(word, table)
    if guess is None:
        return None
    return Command(guess.action, _arguments(cleaned[end:]), guess.language, guessed=True,
                   rest=cleaned[end:])


def _labels_a_number(command: Command) -> bool:
    """A document's keyword followed by a number without `#` (the one-SMS forms use `#`; a `#`
    list of labelled numbers is told apart by `flows.sms`, which reads the labels)."""
    return command.action in _document_codes() and "#" not in command.rest \
        and any(char.isdigit() for char in command.rest)


def is_document(command: Command) -> bool:
    """Whether `command` starts a document's dialogue."""
    return command.action in _document_codes()


@cache
def _document_codes() -> frozenset[str]:
    """The actions that start a document's dialogue (its folder's name)."""
    return frozenset(folder.name for folder in document_folders())


# --- the `#` formats of other services -------------------------------------------------------
# The document named first, as other Dukcapil services ask for it: Kabupaten Magelang's
# `#KTP#<NIK>#<Nomor KK>#<Nama>#<Desa>#<Kecamatan>#Pemula` (DOMAIN.md, "Any regency") and the
# status checks `KTP#<NIK>`, `#E-KTP#<NIK>`. Only before a `#` or `*`: "KTP saya hilang" stays an
# answer to the question asked, and KTP alone no keyword.
DOCUMENT_WORDS = frozenset({("KTP",), ("KTP", "EL"), ("KTPEL",), ("EKTP",), ("E", "KTP"),
                            ("E", "KTP", "EL"), ("EKTP", "EL")})
# ULANG#NIK#KK#: registering again, as a SIM card was (DOMAIN.md, "SMS habits in Indonesia").
REGISTER_AGAIN = ("ULANG",)
# The words before the first `#` or `*`, after any `#` that opens the text.
_BEFORE_HASH = re.compile(r"[\s#*.,:;=\-]*([A-Za-z][A-Za-z\s.\-]*?)[\s.,:;=\-]*(?=[#*])")


def hash_format(cleaned: str) -> Command | None:
    """`KTP#<NIK>` (and `#KTP#`, `E-KTP #`, `ktp-el#`): where that NIK's card stands, unless a
    registration dialogue waits for an answer (it may be the NIK asked for). With more fields
    (`#KTP#<NIK>#<KK>#<Nama>#...`): a registration in one message, its fields read by
    `flows.fields`, which knows the layout by the document word kept at the start of `rest`.
    `ULANG#<NIK>#<KK>#`: a registration. None for any other text."""
    found = _BEFORE_HASH.match(cleaned)
    if found is None:
        return None
    words = phrase_words(found.group(1))
    after = cleaned[found.end():]
    if words == REGISTER_AGAIN:
        return Command("register", _arguments(after), None, rest=after)
    if words not in DOCUMENT_WORDS:
        return None
    fields = [part for part in split_fields(after) if part]
    if len(fields) == 1 and any(char.isdigit() for char in fields[0]):
        return Command("status", _arguments(after), None, guessed=True, rest=after)
    if len(fields) < 2:
        return None  # `KTP#`, `KTP#hilang`: not enough to read as a format
    document_first = cleaned[found.start(1):]
    return Command("register", _arguments(after), None, rest=document_first)


def nik_after_hash(command: Command) -> str | None:
    """The NIK of a status check in the `#` format (`KTP#<NIK>`, `CEK#<NIK>`, `INFO#<NIK>`,
    `CEK KTP # 3271 ...`): one 16-digit number however grouped (a KK typed instead reads the
    same), after a `#` or `*`. None otherwise: `STATUS <NIK>` with a blank is taken for a
    reference typed wrong, and a 9-digit reference is a reference."""
    if len(command.args) != 1 or not command.rest.lstrip().startswith(("#", "*")):
        return None
    digits = re.sub(r"[\s.\-]", "", command.args[0])
    return digits if len(digits) == ID_LENGTH and digits.isdigit() else None


def _keyword_at(text: str, start: int, table: KeywordTable) -> tuple[Keyword, int] | None:
    """The longest keyword phrase that starts at `start` in `text`, and where it ends."""
    words: list[str] = []
    found: tuple[Keyword, int] | None = None
    for word, end in _leading_words(text[start:], table.longest_phrase):
        words.append(word)
        keyword = table.phrases.get(tuple(words))
        if keyword is not None:
            found = (keyword, start + end)
    return found


def _forgiven(word: str, table: KeywordTable) -> Keyword | None:
    """The one keyword `word` is a slip of, if exactly one action is that close."""
    if len(word) < FORGIVEN_LENGTH - 1:
        return None
    matches = {keyword for known, keyword in table.forgiving.items()
               if abs(len(known) - len(word)) <= 1 and one_slip(word, known)}
    return matches.pop() if len(matches) == 1 else None


def one_slip(typed: str, known: str) -> bool:
    """Whether `typed` is `known` with one letter missing, extra, wrong, or two letters swapped
    (Damerau-Levenshtein distance exactly 1)."""
    if typed == known:
        return False
    if len(typed) == len(known):
        differ = [i for i, (a, b) in enumerate(zip(typed, known, strict=True)) if a != b]
        return len(differ) == 1 or (
            len(differ) == 2 and differ[1] == differ[0] + 1
            and typed[differ[0]] == known[differ[1]] and typed[differ[1]] == known[differ[0]])
    shorter, longer = sorted((typed, known), key=len)
    if len(longer) - len(shorter) != 1:
        return False
    return any(longer[:i] + longer[i + 1:] == shorter for i in range(len(longer)))


# --- the README table ---------------------------------------------------------------------------
_LANGUAGE_COLUMNS = (("id", "Indonesian"), ("su", "Sundanese"), ("jv", "Javanese"),
                     ("en", "English"), (ANY_LANGUAGE, "Any language"))


def markdown_table() -> str:
    """Every keyword and alias by action and language, as README.md shows it."""
    lines = ["| Action | " + " | ".join(title for _, title in _LANGUAGE_COLUMNS) + " |",
             "|---" * (len(_LANGUAGE_COLUMNS) + 1) + "|"]
    for action, by_language in table_source().items():
        cells = [", ".join(f"`{word}`" for word in by_language.get(language, [])) or "-"
                 for language, _ in _LANGUAGE_COLUMNS]
        lines.append(f"| {action} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":  # python -m flows.keywords --table
    if sys.argv[1:] != ["--table"]:
        sys.exit("usage: python -m flows.keywords --table")
    print(markdown_table())
