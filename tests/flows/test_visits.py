"""A family visit's cards named in one SMS: every masked NIK while the SMS stays one SMS, then
as many as fit and "+N", then the count alone, in every language."""

from __future__ import annotations

import pytest

from flows.catalogue import languages, render
from flows.visits import VisitWording, fit_cards, visit_text
from gsm7.encoding import GSM7_SINGLE, septets

WORDS = {"day": "Rabu, 30 September 2026", "time": "09.30 WIB",
         "office": "Kantor Kec. Bogor Selatan", "address": "Kota Bogor", "code": "ACD347"}


def masked(count: int) -> list[str]:
    return [f"***{1000 + n}" for n in range(count)]


def test_one_card_is_named_by_its_nik() -> None:
    text = visit_text("id", "notify.pickup_scheduled", ["***0029"], **WORDS)
    assert text.startswith("KTP-el NIK ***0029 siap diambil Rabu, 30 September 2026")


def test_three_cards_are_all_named() -> None:
    text = visit_text("id", "notify.pickup_scheduled", masked(3), **WORDS)
    assert text.startswith("3 KTP-el (NIK ***1000, ***1001, ***1002) siap diambil")
    assert septets(text) <= GSM7_SINGLE


@pytest.mark.parametrize("lang", languages())
@pytest.mark.parametrize("count", range(1, 16))
def test_any_family_fits_one_sms_and_says_how_many(lang: str, count: int) -> None:
    long_office = {**WORDS, "office": "Kantor Kec. Buay Pematang Ribu Ranau Tengah",
                   "address": "Jl. Raya 1", "time": "09.30 WITA"}
    for key in ("notify.pickup_scheduled", "notify.reminder", "notify.rescheduled",
                "notify.visit_joined", "pickup.moved"):
        text = visit_text(lang, key, masked(count), **long_office)
        assert septets(text) <= GSM7_SINGLE, (lang, key, count, text)
        if count > 1:
            assert f"{count} KTP-el" in text
        named = [nik for nik in masked(count) if nik in text]
        assert named == masked(count)[:len(named)]  # in order, none skipped
        if 0 < len(named) < count:
            assert f" +{count - len(named)}" in text


def test_the_count_alone_when_not_even_one_nik_fits() -> None:
    def fill(cards: str) -> str:
        return cards + "x" * 140

    assert fit_cards("id", masked(4), fill) == render("id", "cards.counted", n=4) + "x" * 140


@pytest.mark.parametrize("lang", languages())
@pytest.mark.parametrize("count", range(1, 16))
def test_a_slot_worded_once_names_the_cards_as_each_message_would(lang: str, count: int) -> None:
    """The allocation's fast path (`VisitWording`) gives exactly `visit_text`'s SMS."""
    slot = {key: WORDS[key] for key in ("day", "time", "office", "address")}
    wording = VisitWording(lang, "notify.pickup_scheduled", **slot)
    assert wording.text(masked(count), code="ACD347") == visit_text(
        lang, "notify.pickup_scheduled", masked(count), **slot, code="ACD347")
