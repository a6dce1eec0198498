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


def split_fields(rest: str) -> tuple[str, ...]:
    """Fields after a keyword: `#` or `*` separated when the resident used them, else by spaces.
    Empty trailing fields (`REG NIK#KK#`) are dropped."""
    rest = rest.strip().lstrip("#*:.,;-= ").strip()
    if not rest:
        return ()
    parts = _SEPARATORS.split(rest) if _SEPARATORS.search(rest) else rest.split(" ")
    fields = [part.strip() for part in parts]
    while fields and not fields[-1]:
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
