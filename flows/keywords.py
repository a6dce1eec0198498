"""Reading what residents type: keywords and `#`-separated fields, the way they learned them when
registering their SIM cards (`REG NIK#KK#`)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Invisible characters that phones and copy-paste slip into messages.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u00ad"), None)


@dataclass(frozen=True)
class Keyword:
    action: str
    language: str | None = None  # a keyword that is clearly one language answers in it


KEYWORDS: dict[str, Keyword] = {
    "DAFTAR": Keyword("register", "id"),
    "REG": Keyword("register"),
    "REGISTER": Keyword("register", "en"),
    "STATUS": Keyword("status"),
    "CEK": Keyword("status", "id"),
    "BANTUAN": Keyword("help", "id"),
    "INFO": Keyword("help"),
    "HELP": Keyword("help", "en"),
    "BATAL": Keyword("cancel", "id"),
    "CANCEL": Keyword("cancel", "en"),
    "BAHASA": Keyword("language", "id"),
    "LANG": Keyword("language", "en"),
    "JADWAL": Keyword("pickup", "id"),
    "SCHEDULE": Keyword("pickup", "en"),
    "UBAH": Keyword("change", "id"),
    "CHANGE": Keyword("change", "en"),
    "RESCHEDULE": Keyword("reschedule", "en"),
    # Broadcasts only (announcements); STOP and START are common in Indonesian SMS too, so they
    # answer in the phone's language rather than switching it to English.
    "BERHENTI": Keyword("broadcast_off", "id"),
    "STOP": Keyword("broadcast_off"),
    "MULAI": Keyword("broadcast_on", "id"),
    "START": Keyword("broadcast_on"),
}


@dataclass(frozen=True)
class Command:
    action: str
    args: tuple[str, ...]
    language: str | None


def clean(text: str) -> str:
    """Canonical form of an inbound text: NFKC (full-width digits become ASCII), no invisible or
    control characters, single spaces, no surrounding blanks."""
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    text = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in text)
    return " ".join(text.split())


_LEADING = re.compile(r"^[^0-9A-Za-z]*([A-Za-z]+)(.*)$", re.DOTALL)
_SEPARATORS = re.compile(r"[#*]")


ID_LENGTH = 16


def _join_digit_groups(words: list[str]) -> list[str]:
    """`3271 0145 0190 0001 3271 ...`: groups of digits add up to 16-digit numbers."""
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


def split_fields(rest: str) -> tuple[str, ...]:
    """Fields after a keyword: `#` or `*` separated when the resident used them, else by spaces.
    Empty trailing fields (`REG NIK#KK#`) and bare punctuation (`Status?`) are dropped."""
    rest = rest.strip().lstrip("#*:.,;-= ").strip()
    if _SEPARATORS.search(rest):
        fields = [part.strip() for part in _SEPARATORS.split(rest)]
    else:
        fields = _join_digit_groups(rest.split())
    if not any(char.isalnum() for field in fields for char in field):
        return ()
    while fields and not any(char.isalnum() for char in fields[-1]):
        fields.pop()
    return tuple(fields)


def parse_command(text: str) -> Command | None:
    """The keyword command in `text`, or None when the text does not start with a keyword (it is
    then an answer to the current question, or nonsense)."""
    match = _LEADING.match(clean(text))
    if not match:
        return None
    keyword = KEYWORDS.get(match.group(1).upper())
    if keyword is None:
        return None
    return Command(keyword.action, split_fields(match.group(2)), keyword.language)
