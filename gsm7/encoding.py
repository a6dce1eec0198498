"""GSM-7 awareness for outgoing text: one stray curly quote turns a 160-character SMS into a
70-character UCS-2 one, and every extra part is paid for by the city."""

from __future__ import annotations

import math
import unicodedata

from gsm0338.charset import BASIC_CHARACTER_SET, BASIC_CHARACTER_SET_EXTENSION

GSM7_SINGLE = 160
GSM7_PART = 153
UCS2_SINGLE = 70
UCS2_PART = 67

# Characters phones and word processors like to produce, mapped to their plain GSM-7 cousins.
_LOOKALIKES = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
        "\u00a0": " ", "\u2007": " ", "\u202f": " ", "\t": " ",
        "\u2022": "-", "\u00b7": ".",
    }
)
_EXPANSIONS = {"\u2026": "...", "\u2122": "TM", "\u00a9": "(c)"}


def _characters(table: dict[int, str]) -> frozenset[str]:
    return frozenset(unicodedata.lookup(name) for name in table.values())


# The GSM 03.38 alphabet, read from the codec package's own tables (not retyped here).
_BASIC = _characters(BASIC_CHARACTER_SET)
_EXTENSION = _characters(BASIC_CHARACTER_SET_EXTENSION)  # sent as escape + character


_DROP_BASIC = dict.fromkeys(map(ord, _BASIC))


def septets(text: str) -> int | None:
    """Length in GSM-7 septets (extension characters count twice), or None when not GSM-7."""
    rest = text.translate(_DROP_BASIC)  # at C speed: what is left is rare
    if all(char in _EXTENSION for char in rest):
        return len(text) + len(rest)
    return None


def is_gsm7(text: str) -> bool:
    return septets(text) is not None


def segments(text: str) -> int:
    """How many SMS parts the operator bills for this text."""
    length = septets(text)
    if length is not None:
        return 1 if length <= GSM7_SINGLE else math.ceil(length / GSM7_PART)
    units = len(text.encode("utf-16-le")) // 2
    return 1 if units <= UCS2_SINGLE else math.ceil(units / UCS2_PART)


def to_gsm7(text: str) -> str:
    """Replace look-alike characters so that the text stays GSM-7; accents are dropped and
    anything else unencodable becomes '?' rather than silently tripling the cost."""
    if is_gsm7(text):  # every look-alike is outside GSM-7: nothing to replace
        return text
    text = text.translate(_LOOKALIKES)
    for char, replacement in _EXPANSIONS.items():
        text = text.replace(char, replacement)
    if is_gsm7(text):
        return text
    out = []
    for char in text:
        if is_gsm7(char):
            out.append(char)
            continue
        stripped = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        )
        out.append(stripped if stripped and is_gsm7(stripped) else "?")
    return "".join(out)
