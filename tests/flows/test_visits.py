"""A family visit's cards named in one SMS: every masked NIK while the SMS stays one SMS, then
as many as fit and "+N", then the count alone, in every language; a child's KIA by its birth
date."""

from __future__ import annotations

import pytest

from flows.catalogue import languages, render
from flows.visits import VisitWording, card_name, fit_cards, visit_text
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


# --- a child's KIA among the cards: named by the child's birth date ----------------------------

def kias(count: int) -> list[str]:
    return [card_name("kia", "***0001", {"birth_date": f"{2010 + n}-03-12"})
            for n in range(count)]


def test_a_kia_is_named_by_the_childs_birth_date_not_the_parents_nik() -> None:
    assert card_name("kia", "***0001", {"birth_date": "2019-03-12"}) == "kia:2019-03-12"
    assert card_name("ktp", "***0001", None) == "***0001"
    text = visit_text("id", "notify.pickup_scheduled", kias(1), **WORDS)
    assert text.startswith("KIA lhr 12-03-2010 siap diambil Rabu, 30 September 2026")
    assert "***0001" not in text


def test_a_visit_of_ktp_el_and_kia_cards_names_both() -> None:
    names = ["***0029", *kias(2)]
    assert fit_cards("id", names, str) == (
        "KTP-el NIK ***0029 dan 2 KIA (lhr 12-03-2010, 12-03-2011)")
    # Where the SMS has less room, the KTP-el is counted first, then the KIA dates shortened
    # (a KIA holder is under 17), then fewer of them.
    text = visit_text("id", "notify.pickup_scheduled", names, **WORDS)
    assert text.startswith("1 KTP-el dan 2 KIA (lhr 12-03-10, 12-03-11) siap diambil Rabu")
    assert fit_cards("id", names, lambda cards: cards + "x" * 120) == (
        "1 KTP-el dan 2 KIA (lhr 12-03-10 +1)" + "x" * 120)
    english = visit_text("en", "notify.reminder", [*masked(2), *kias(1)], **WORDS)
    assert english.startswith("Reminder: collect 2 KTP-el cards and KIA b. 12-03-2010 Rabu")


def test_a_kia_whose_birth_date_was_erased_is_counted() -> None:
    assert visit_text("id", "notify.reminder", [card_name("kia", "***0001", None)],
                      **WORDS).startswith(render("id", "notify.reminder", cards="1 KIA",
                                                 **WORDS)[:20])


@pytest.mark.parametrize("lang", languages())
def test_the_room_left_for_the_cards_holds_a_kia_too(lang: str) -> None:
    """The catalogues leave `{cards}` the room of one NIK or of the count of 15 cards: a KIA's
    date and the counts that end the namings take no more."""
    room = max(septets(render(lang, "cards.one", nik="***1234")),
               septets(render(lang, "cards.counted", n=15)))
    for naming in (render(lang, "cards.kia_one", born="31-12-2026"),
                   render(lang, "cards.kia_counted", n=15), render(lang, "cards.mixed", n=15)):
        assert septets(naming) <= room, (lang, naming)


@pytest.mark.parametrize("lang", languages())
@pytest.mark.parametrize(("ktp", "kia"), [(0, 2), (0, 15), (1, 1), (2, 3), (5, 5), (14, 1),
                                          (1, 14), (10, 10)])
def test_any_family_of_ktp_el_and_kia_fits_one_sms(lang: str, ktp: int, kia: int) -> None:
    long_office = {**WORDS, "office": "Kantor Kec. Buay Pematang Ribu Ranau Tengah",
                   "address": "Jl. Raya 1", "time": "09.30 WITA"}
    names = [*masked(ktp), *kias(kia)]
    slot = {key: long_office[key] for key in ("day", "time", "office", "address")}
    for key in ("notify.pickup_scheduled", "notify.reminder", "notify.rescheduled",
                "notify.visit_joined", "pickup.moved"):
        text = visit_text(lang, key, names, **long_office)
        assert septets(text) <= GSM7_SINGLE, (lang, key, ktp, kia, text)
        assert "KIA" in text or render(lang, "cards.mixed", n=ktp + kia) in text
        assert "***0001" not in text  # never the parent's NIK
        dates = [f"12-03-{10 + n}" for n in range(kia)]
        shown = [date for date in dates if date in text]
        assert shown == dates[:len(shown)]  # in order, none skipped
        assert VisitWording(lang, key, **slot).text(names, code="ABCDEF") == visit_text(
            lang, key, names, **slot, code="ABCDEF")
