"""The septets staff-typed text may take in a resident's SMS, read from the catalogues: at its
budget every message carrying it is exactly one SMS in every language, one septet more is not;
the other placeholders' "longest" values really are the longest."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from flows.catalogue import languages, render
from flows.dates import say_day, say_time
from gsm7.encoding import _EXTENSION, GSM7_SINGLE, septets
from sms_ktp.applications import sms_budget
from sms_ktp.domain.masking import mask_id
from sms_ktp.domain.pickup_calendar import default_offices


def filled(room: sms_budget.Room, total: int) -> dict[str, str]:
    """`total` septets of "x" shared among the typed values of `room`."""
    names = sorted(room.typed)
    share, rest = divmod(total, len(names))
    return {name: "x" * (share + (rest if name == names[0] else 0)) for name in names}


def rendered(room: sms_budget.Room, typed: dict[str, str]) -> str:
    return render(room.lang, room.key, **{**sms_budget.longest_values(room.lang), **typed})


@pytest.mark.parametrize("room", sms_budget.rooms(), ids=lambda room: f"{room.lang}:{room.key}")
def test_at_its_budget_a_message_is_exactly_one_sms_and_one_more_septet_is_not(room):
    assert septets(rendered(room, filled(room, room.septets))) == GSM7_SINGLE
    assert septets(rendered(room, filled(room, room.septets + 1))) == GSM7_SINGLE + 1


@pytest.mark.parametrize("typed", [("why",), ("office",), ("office", "address")])
def test_values_at_their_budget_pass_and_one_septet_more_does_not(typed):
    room = next(room for room in sms_budget.rooms() if room.typed == frozenset(typed))
    budget = sms_budget.budget(*typed)
    assert not [p for p in sms_budget.too_long(filled(room, budget)) if p.typed == room.typed]
    [problem] = [p for p in sms_budget.too_long(filled(room, budget + 1))
                 if p.typed == room.typed]
    assert (problem.used, problem.budget) == (budget + 1, budget)


def test_every_typed_value_has_messages_in_every_language():
    for typed in (("why",), ("office",), ("office", "address")):
        langs = {room.lang for room in sms_budget.rooms() if room.typed == frozenset(typed)}
        assert langs == set(languages()), typed
        assert 0 < sms_budget.budget(*typed) < GSM7_SINGLE
    with pytest.raises(ValueError, match="no catalogue message carries exactly"):
        sms_budget.budget("address")


@pytest.mark.parametrize("lang", languages())
def test_the_longest_values_are_the_longest(lang):
    longest = sms_budget.longest_values(lang)
    start = date(2026, 1, 1)
    days = max(septets(say_day(lang, start + timedelta(days=n))) for n in range(7 * 366))
    assert days <= septets(longest["day"])
    times = max(septets(say_time(lang, datetime(2026, 1, 1, hour, minute)))
                for hour in range(24) for minute in range(0, 60, 5))
    assert times <= septets(longest["time"])
    for number in ("3271014501900001", None, "12"):
        assert len(mask_id(number)) <= len(longest["nik"])


def test_the_default_offices_fit_their_own_sms():
    for office in default_offices().values():
        assert sms_budget.too_long({"office": office.name, "address": office.address}) == []


def test_a_value_counts_as_the_sms_sends_it():
    assert sms_budget.length("Suket buram") == 11
    assert sms_budget.length("[x]") == 5 and sms_budget.length("€") == 2
    assert sms_budget.length("“kutip”") == 7  # curly quotes become plain ones
    assert sms_budget.length("…") == 3 and sms_budget.length("日本") == 2  # "..." and "??"
    assert set(sms_budget.DOUBLED.split()) == {char for char in _EXTENSION if char.isprintable()}


def test_too_long_names_each_set_of_values_once_with_its_tightest_budget():
    problems = sms_budget.too_long({"office": "x" * 100, "address": "y"})
    assert [(sorted(p.typed), p.used) for p in problems] == [
        (["office"], 100), (["address", "office"], 101)]
    assert problems[0].budget == sms_budget.budget("office")
    assert problems[1].budget == sms_budget.budget("office", "address")
    assert sms_budget.too_long({"why": "[]{}~^€" * 7}) == [
        sms_budget.TooLong(frozenset({"why"}), 98, sms_budget.budget("why"))]
