"""Pickup codes (and the codes that confirm a new family phone) kept out of staff's sight.
The code in the resident's SMS is what proves, at the
counter, that the person collecting a card is the one it was announced to: staff type the code
the resident shows, and a member of staff who could read it in the back office could hand a card
over to anybody. So every text staff read (an SMS on the messages page, a timeline note, a
resident's data export) passes through `hide_codes` first.

A code is found after the words that announce it. Those words are read from the message
catalogues (what stands before `{code}` in each language), with "kode"/"code" followed by up to
two words as a fallback for SMS worded by an older catalogue; a code known to belong to the text
(an application's own) is hidden wherever it stands.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from functools import cache

from flows.catalogue import languages, messages
from sms_ktp.applications.document_files import LINK_CODE_LENGTH
from sms_ktp.applications.pickup import CODE_ALPHABET, CODE_LENGTH

HIDDEN = "*" * CODE_LENGTH
# A pickup code, or the six digits that confirm a new family phone (`phone_change`): a member
# of staff who could read that one could move a family's SMS to any phone.
# A signed PDF's link code (8 letters: `document_files`) and its 6-digit PIN are the family's
# proof as well: the code is hidden after its words and in the link itself (`/d/<code>`).
_CODE = (rf"(?:[{CODE_ALPHABET}]{{{LINK_CODE_LENGTH}}}|[{CODE_ALPHABET}]{{{CODE_LENGTH}}}"
         rf"|\d{{6}})(?![A-Za-z0-9])")
_LINK = re.compile(rf"(?P<words>/d/){_CODE}")
_FALLBACK = r"\b(?:kode|code)\b(?:\s+\w+){0,2}"
_WORDS_BEFORE = 3  # the words of a catalogue message before its code that announce it


def hide_codes(text: str, known: Iterable[str | None] = ()) -> str:
    """`text` with every pickup code replaced by asterisks."""
    for code in known:
        if code:
            text = text.replace(code, HIDDEN)
    text = _LINK.sub(lambda found: found.group("words") + HIDDEN, text)
    return _announced().sub(lambda found: found.group("words") + HIDDEN, text)


@cache
def _announced() -> re.Pattern[str]:
    """Words that announce a code, from every catalogue, then the code itself."""
    phrases = sorted({r"\s+".join(map(re.escape, words)) for words in _catalogue_words()},
                     key=len, reverse=True)
    words = "|".join([*phrases, _FALLBACK])
    return re.compile(rf"(?P<words>(?i:{words})[:\s]+){_CODE}")


def _catalogue_words() -> set[tuple[str, ...]]:
    """The words right before `{code}` in every message of every language, e.g. ("Kode",
    "ambil") or ("showing", "the", "code")."""
    found = set()
    for lang in languages():
        for text in messages(lang).values():
            for literal, name, _, _ in string.Formatter().parse(text):
                words = [word.strip(":") for word in literal.split()
                         if any(char.isalnum() for char in word)]
                if name in ("code", "pin") and words:
                    found.add(tuple(words[-_WORDS_BEFORE:]))
    return found
