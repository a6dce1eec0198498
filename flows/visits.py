"""A family visit's cards in one SMS: the pickup SMS, the reminder and the answers about a
visit name its cards (`{cards}`) by their masked NIKs, as many as the SMS leaves room for."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from flows.catalogue import render, template
from gsm7.encoding import GSM7_SINGLE, septets


def fit_cards(lang: str, masked: Sequence[str], fill: Callable[[str], str]) -> str:
    """`fill(cards)` with the fullest naming of the cards that keeps it one SMS: every masked
    NIK, else as many as fit and "+N", else the count alone (which the catalogues leave room
    for). One card is always named by its NIK."""
    if len(masked) == 1:
        return fill(render(lang, "cards.one", nik=masked[0]))
    for shown in range(len(masked), 0, -1):
        niks = ", ".join(masked[:shown])
        if shown < len(masked):
            niks += f" +{len(masked) - shown}"
        text = fill(render(lang, "cards.listed", n=len(masked), niks=niks))
        if (septets(text) or GSM7_SINGLE + 1) <= GSM7_SINGLE:
            return text
    return fill(render(lang, "cards.counted", n=len(masked)))


def cards_phrase(lang: str, key: str, masked: Sequence[str], **params: object) -> str:
    """The naming of the cards (`{cards}`) that keeps the message `key` one SMS, for a message
    rendered later with it."""
    named: list[str] = []

    def fill(cards: str) -> str:
        named.append(cards)
        return render(lang, key, cards=cards, **params)

    fit_cards(lang, masked, fill)
    return named[-1]


def visit_text(lang: str, key: str, masked: Sequence[str], **params: object) -> str:
    """The catalogue message `key` about a visit of these cards."""
    return fit_cards(lang, masked, lambda cards: render(lang, key, cards=cards, **params))


class VisitWording:
    """One message about visits of one slot in one language, worded once: a day's allocation
    words thousands of visits that differ only in their cards and code (`str.format` each;
    for several cards, the room the message leaves is counted once and each listing of NIKs
    measured against it)."""

    def __init__(self, lang: str, key: str, **fixed: object) -> None:
        self.lang = lang
        self.worded = template(lang, key, **fixed)
        self.one = template(lang, "cards.one")
        self.listed = template(lang, "cards.listed")
        self._room: dict[int, int] = {}  # code length -> septets left for the cards

    def text(self, masked: Sequence[str], **values: str) -> str:
        if len(masked) == 1:  # the catalogues leave room for one card's NIK
            return self.worded.format(cards=self.one.format(nik=masked[0]), **values)
        size = sum(map(len, values.values()))
        if size not in self._room:
            self._room[size] = GSM7_SINGLE - (septets(self.worded.format(cards="", **values))
                                              or GSM7_SINGLE)
        room = self._room[size]
        for shown in range(len(masked), 0, -1):
            niks = ", ".join(masked[:shown])
            if shown < len(masked):
                niks += f" +{len(masked) - shown}"
            cards = self.listed.format(n=len(masked), niks=niks)
            if len(cards) <= room:  # digits, stars, commas: one septet each
                return self.worded.format(cards=cards, **values)
        return self.worded.format(cards=render(self.lang, "cards.counted", n=len(masked)),
                                  **values)
