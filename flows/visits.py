"""A family visit's cards in one SMS: the pickup SMS, the reminder and the answers about a
visit name its cards (`{cards}`) by their masked NIKs, as many as the SMS leaves room for.

A visit may hold KIA cards too. A KIA's application carries the parent's NIK, the same for
every child, so a KIA is named by the child's birth date instead ("KIA lhr 12-03-2019"): among
the names a visit's cards are given here (`masked`), a KIA is `kia:<ISO birth date>`
(`card_name`), a KTP-el its masked NIK."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

from flows.catalogue import render, template
from gsm7.encoding import GSM7_SINGLE, septets

KIA = "kia:"  # a KIA among a visit's card names: the prefix of the child's birth date


def card_name(card: str | None, nik_masked: str, details: Mapping[str, Any] | None) -> str:
    """How a visit's SMS names one card (`card`: the kind of blank card it is printed on): a
    KTP-el by its holder's masked NIK, a KIA by the child's birth date."""
    if card == "kia":
        return KIA + str((details or {}).get("birth_date") or "")
    return nik_masked


def fit_cards(lang: str, masked: Sequence[str], fill: Callable[[str], str]) -> str:
    """`fill(cards)` with the fullest naming of the cards that keeps it one SMS: every masked
    NIK (every KIA's birth date), else as many as fit and "+N", else the count alone (which
    the catalogues leave room for). One card is always named by its NIK (a KIA by its birth
    date)."""
    namings = card_namings(lang, masked)
    if len(masked) == 1:
        return fill(namings[0])
    for naming in namings[:-1]:
        text = fill(naming)
        if (septets(text) or GSM7_SINGLE + 1) <= GSM7_SINGLE:
            return text
    return fill(namings[-1])


def card_namings(lang: str, masked: Sequence[str]) -> list[str]:
    """The namings of a visit's cards, fullest first; the last one (the count) is as short as
    the catalogues leave room for. KTP-el and KIA cards together: both fully, then fewer
    KTP-el NIKs, then fewer KIA dates, then the number of cards alone."""
    niks = [name for name in masked if not name.startswith(KIA)]
    births = [_born(name[len(KIA):]) for name in masked if name.startswith(KIA)]
    if not births:
        return _ktp_namings(lang, niks)
    if not niks:
        return _kia_namings(lang, births)
    ktp, kia = _ktp_namings(lang, niks), _kia_namings(lang, births)
    return ([render(lang, "cards.both", ktp_cards=each, kia_cards=kia[0]) for each in ktp]
            + [render(lang, "cards.both", ktp_cards=ktp[-1], kia_cards=each)
               for each in kia[1:]]
            + [render(lang, "cards.mixed", n=len(masked))])


def _listing(names: Sequence[str], shown: int) -> str:
    text = ", ".join(names[:shown])
    return text + (f" +{len(names) - shown}" if shown < len(names) else "")


def _ktp_namings(lang: str, niks: Sequence[str]) -> list[str]:
    if len(niks) == 1:
        return [render(lang, "cards.one", nik=niks[0]), render(lang, "cards.counted", n=1)]
    return [render(lang, "cards.listed", n=len(niks), niks=_listing(niks, shown))
            for shown in range(len(niks), 0, -1)] + [render(lang, "cards.counted", n=len(niks))]


def _kia_namings(lang: str, births: Sequence[date | None]) -> list[str]:
    """Every child's birth date ("12-03-2019"), else with two-digit years ("12-03-19": a KIA
    holder is under 17), else as many as fit and "+N", else the count."""
    counted = render(lang, "cards.kia_counted", n=len(births))
    known = [born for born in births if born is not None]
    if len(known) < len(births):  # a birth date erased: the count tells no child apart
        return [counted]
    if len(known) == 1:
        return [render(lang, "cards.kia_one", born=f"{known[0]:%d-%m-%Y}"), counted]
    full = [f"{born:%d-%m-%Y}" for born in known]
    short = [f"{born:%d-%m-%y}" for born in known]
    return ([render(lang, "cards.kia_listed", n=len(known), dates=", ".join(full))]
            + [render(lang, "cards.kia_listed", n=len(known), dates=_listing(short, shown))
               for shown in range(len(short), 0, -1)] + [counted])


def _born(iso: str) -> date | None:
    """A child's birth date (None when unknown)."""
    try:
        return date.fromisoformat(iso)
    except ValueError:
        return None


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
        if any(name.startswith(KIA) for name in masked):  # few visits: measured one by one
            return fit_cards(self.lang, masked,
                             lambda cards: self.worded.format(cards=cards, **values))
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
