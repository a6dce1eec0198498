"""How long a text typed by staff may be when it lands in a resident's SMS: a rejection's reason,
an office's name and address. Every SMS is one GSM-7 SMS (160 septets; `[]{}~^€|\\` take two
each), in every language, so the room a typed value has is what the catalogue message leaves
with every other placeholder at its longest: read from the catalogues, not written down, so a
reworded message moves the limits with it.

A message may carry several typed values (the pickup SMS: the office's name and address); they
then share its room. `rooms` lists each message's room per language; `budget` is the room of a
set of typed values (what the forms count down from); `too_long` checks values as typed.
"""

from __future__ import annotations

import string
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from flows.catalogue import languages, messages, render
from gsm7.encoding import GSM7_SINGLE, septets, to_gsm7
from sms_ktp.applications.pickup import CODE_LENGTH
from sms_ktp.domain.documents import DOCUMENTS
from sms_ktp.domain.masking import mask_id
from sms_ktp.domain.wilayah import longest_names

# The placeholders staff type, and what they are.
TYPED = {"why": "alasan penolakan", "office": "nama kantor", "address": "alamat kantor",
         "what": "kekurangan berkas"}
DOUBLED = "[ ] { } ~ ^ \\ | €"  # what an SMS sends as two septets (and a form feed)


@dataclass(frozen=True)
class Room:
    """The septets one catalogue message leaves for the typed values it carries."""

    lang: str
    key: str
    typed: frozenset[str]
    septets: int


@dataclass(frozen=True)
class TooLong:
    """Typed values that together take more than the room of the messages they share."""

    typed: frozenset[str]
    used: int
    budget: int


def length(value: str) -> int:
    """The septets a typed value takes in an SMS (after the service's GSM-7 normalisation,
    which turns any other character into one or a few GSM-7 ones)."""
    return septets(to_gsm7(value)) or 0


@cache
def longest_values(lang: str) -> dict[str, str]:
    """Every placeholder staff do not type, at its longest in `lang`: a reference, masked
    numbers, a pickup code, the longest weekday and month with a two-digit day, a time in the
    longest zone and the longest regency name of the country, so that a budget is the same in
    every regency."""
    masked = mask_id("0" * 16)
    weekday = max((render(lang, f"when.weekday.{n}") for n in range(7)), key=_septets)
    month = max((render(lang, f"when.month.{n}") for n in range(1, 13)), key=_septets)
    cards = max((render(lang, "cards.one", nik=masked), render(lang, "cards.counted", n=15)),
                key=_septets)  # a family visit's cards: as many NIKs as fit, else the count
    document = max((render(lang, f"{code}.name") if f"{code}.name" in messages("id") else code
                    for code in DOCUMENTS), key=_septets)  # a document's short name
    return {"ref": "9" * 9, "nik": masked, "kk": masked, "code": "W" * CODE_LENGTH,
            "cards": cards, "document": document,
            # a papers visit's applications: one by its name and reference, or their count
            "documents": max((render(lang, "papers.one", document=document, ref="9" * 9),
                              render(lang, "papers.counted", n=15)), key=_septets),
            "day": render(lang, "when.date", weekday=weekday, day="30", month=month,
                          year="2026"),
            "time": render(lang, "when.time", hour="23", minute="59", zone="WITA"),
            "regency": longest_names()[0], "regency_code": "9999", "zone": "WITA"}


@cache
def rooms() -> tuple[Room, ...]:
    """The room of every catalogue message that carries a typed value, in every language."""
    found = []
    for lang in languages():
        for key, text in messages(lang).items():
            names = {name for _, name, _, _ in string.Formatter().parse(text) if name}
            typed = frozenset(names & set(TYPED))
            if typed:
                found.append(Room(lang, key, typed, _room(lang, key, names, typed)))
    return tuple(found)


def _room(lang: str, key: str, names: set[str], typed: frozenset[str]) -> int:
    longest = longest_values(lang)
    unknown = sorted(names - typed - set(longest))
    if unknown:
        raise ValueError(f"{lang}:{key}: no longest value known for {{{unknown[0]}}}: add it to "
                         "sms_budget.longest_values")
    values: dict[str, Any] = {**longest, **dict.fromkeys(typed, "")}
    return GSM7_SINGLE - _septets(render(lang, key, **{name: values[name] for name in names}))


def budget(*typed: str) -> int:
    """The septets these typed values share in the messages that carry exactly them (the
    tightest message in the tightest language)."""
    wanted = frozenset(typed)
    shared = [room.septets for room in rooms() if room.typed == wanted]
    if not shared:
        raise ValueError(f"no catalogue message carries exactly {sorted(wanted)}")
    return min(shared)


def too_long(values: Mapping[str, str], only: Collection[str] | None = None) -> list[TooLong]:
    """The sets of typed values (all given in `values`) that would make a message longer than
    one SMS, each with the septets it takes and its budget; empty when every message fits."""
    over: dict[frozenset[str], TooLong] = {}
    for room in rooms():
        if not room.typed <= set(values) or (only is not None and not room.typed & set(only)):
            continue
        used = sum(length(values[name]) for name in room.typed)
        if used > room.septets:
            known = over.get(room.typed)
            if known is None or room.septets < known.budget:
                over[room.typed] = TooLong(room.typed, used, room.septets)
    return sorted(over.values(), key=lambda problem: len(problem.typed))


def _septets(text: str) -> int:
    return septets(text) or 0
