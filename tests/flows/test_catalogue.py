"""The message catalogues: complete in every language, same placeholders, and every message one
GSM-7 SMS (160 characters) even with its placeholders at their longest."""

import re
import string
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import flows.catalogue as catalogue
from flows.catalogue import (
    DEFAULT_LANGUAGE,
    Msg,
    languages,
    messages,
    render,
    supported,
    template,
)
from flows.dates import say_day, say_time
from gsm7.encoding import GSM7_SINGLE, is_gsm7, septets
from sms_ktp.domain.pickup_calendar import default_offices

LANGUAGES = languages()
# `status.list` holds a variable number of items: tests/flows/test_sms_channel.py checks it.
LISTING = "status.list"
KNOWN_BUGS: dict[tuple[str, str], str] = {}


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def longest(lang: str, prefix: str) -> Msg:
    """The `prefix.*` message of `lang` with the longest rendering, as a nested message."""
    keys = [key for key in messages(lang) if key.startswith(prefix + ".")]
    assert keys, f"no {prefix}.* messages in {lang}"
    return Msg(max(keys, key=lambda key: len(render(lang, key))))


def longest_params(lang: str) -> Mapping[str, Any]:
    masked = "***1234"
    return {
        "ref": "123456789",
        "nik": masked,
        "kk": masked,
        "reason": longest(lang, "reason"),
        "bring": longest(lang, "bring"),
        "got": 17,
        "minutes": 120,
        "count": 6,
        "n": 5,
        "stage": longest(lang, "stage_short"),
        "explain": longest(lang, "stage"),
        # pickups: the longest date of the year, the default office names and address
        "day": max((say_day(lang, date(2026, 1, 1) + timedelta(days=n)) for n in range(365)),
                   key=len),
        "time": say_time(lang, datetime(2026, 9, 30, 9, 30)),
        "office": max((o.name for o in default_offices().values()), key=len),
        "address": "Kota Bogor",
        "code": "ABCDEF",
        "why": "x" * 50,  # a rejection's reason, at its limit
        "weekday": longest(lang, "when.weekday"),
        "month": longest(lang, "when.month"),
        "year": 2026,
        "hour": "09",
        "minute": "30",
    }


def every_key() -> list[Any]:
    return [
        pytest.param(lang, key, id=f"{lang}:{key}")
        for lang in LANGUAGES
        for key in messages(lang)
    ]


def sized_keys() -> list[Any]:
    cases = []
    for lang in LANGUAGES:
        for key in messages(lang):
            if key == LISTING:
                continue
            reason = KNOWN_BUGS.get((lang, key))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            cases.append(pytest.param(lang, key, id=f"{lang}:{key}", marks=marks))
    return cases


def test_indonesian_first_then_english_and_sundanese() -> None:
    assert LANGUAGES[0] == DEFAULT_LANGUAGE == "id"
    assert sorted(LANGUAGES[1:]) == ["en", "su"]


def test_catalogues_are_not_empty() -> None:
    for lang in LANGUAGES:
        assert len(messages(lang)) > 40, lang


@pytest.mark.parametrize(("lang", "key"), every_key())
def test_key_exists_in_every_language(lang: str, key: str) -> None:
    missing = [other for other in LANGUAGES if key not in messages(other)]
    assert not missing, f"{key!r} (from {lang}.toml) is missing in: {', '.join(missing)}"


@pytest.mark.parametrize(("lang", "key"), every_key())
def test_placeholders_are_the_same_in_every_language(lang: str, key: str) -> None:
    mine = placeholders(messages(lang)[key])
    for other in LANGUAGES:
        theirs = placeholders(messages(other).get(key, ""))
        assert theirs == mine, f"{key!r}: {lang} uses {sorted(mine)}, {other} {sorted(theirs)}"


@pytest.mark.parametrize(("lang", "key"), every_key())
def test_templates_are_gsm7_as_written(lang: str, key: str) -> None:
    """`render` would rescue a curly quote, but a translator's other characters become '?'."""
    assert is_gsm7(messages(lang)[key]), f"{lang}:{key} has a character outside GSM-7"


@pytest.mark.parametrize(("lang", "key"), sized_keys())
def test_message_fits_one_sms_at_its_longest(lang: str, key: str) -> None:
    text = render(lang, key, **longest_params(lang))
    length = septets(text)
    assert length is not None, f"{lang}:{key} is not GSM-7: {text!r}"
    assert length <= GSM7_SINGLE, f"{lang}:{key} is {length} characters: {text!r}"


def test_longest_values_are_what_they_claim() -> None:
    # Guards the size test above: the longest labels really are the longest ones.
    assert longest_params("su")["day"] == "Jumaah, 11 Séptémber 2026"
    assert render("id", longest("id", "bring").key) == "surat kehilangan dari polisi"
    assert render("en", longest("en", "reason").key) == "data changed"
    assert render("id", longest("id", "stage_short").key) == "tunggu blangko"


def test_placeholders_are_filled_and_nested_messages_use_the_readers_language() -> None:
    text = render("en", "register.confirm", nik="***0001", kk="***0003",
                  reason=Msg("reason.hilang"))
    assert text == (
        "Check: NIK ***0001, KK ***0003, reason lost. Your data is used only to print your "
        "KTP-el. Reply YES to send or NO to cancel."
    )
    text = render("id", "register.confirm", nik="***0001", kk="***0003",
                  reason=Msg("reason.hilang"))
    assert "alasan hilang." in text


def test_nested_message_gets_its_own_placeholders() -> None:
    text = render("id", "status.list", count=2, items="a; b",
                  more=Msg("status.more", {"n": 3}))
    assert text == "2 pendaftaran: a; b; +3 lagi. Rincian: STATUS <ref>"


@pytest.mark.parametrize("lang", ["xx", "jv", "", None])
def test_unknown_language_falls_back_to_indonesian(lang: Any) -> None:
    assert supported(lang) == "id"
    assert render(lang, "help.main") == render("id", "help.main")
    assert render(lang, "help.main").startswith("Layanan KTP-el Kota Bogor")


def test_known_language_is_kept() -> None:
    assert supported("en") == "en"
    assert render("en", "help.main").startswith("KTP-el service, Kota Bogor")


def test_key_missing_in_a_language_falls_back_to_indonesian(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = catalogue.messages

    def without_cancel_nothing(lang: str) -> dict[str, str]:
        table = dict(real(lang))
        if lang == "en":
            del table["cancel.nothing"]
        return table

    monkeypatch.setattr(catalogue, "messages", without_cancel_nothing)
    assert render("en", "cancel.nothing") == real("id")["cancel.nothing"]
    assert render("en", "cancel.nothing").startswith("Tidak ada pendaftaran")


def test_render_turns_lookalikes_in_values_into_gsm7() -> None:
    text = render("id", "status.not_found", ref="\u201c123456789\u201d")
    assert is_gsm7(text)
    assert '"123456789"' in text


def test_a_template_fills_what_is_fixed_and_keeps_the_rest_for_format() -> None:
    fixed = {"day": "Selasa, 1 Desember 2026", "time": "09.00 WIB",
             "office": "Kantor {Kec.} Bogor Timur", "address": "Jl. \u201cRaya\u201d 1"}
    worded = template("id", "notify.pickup_scheduled", **fixed)
    assert "{nik}" in worded and "{code}" in worded
    per_card = {"nik": "************1234", "code": "ACD347"}
    assert worded.format(**per_card) == render("id", "notify.pickup_scheduled",
                                               **fixed, **per_card)
    # Braces in a fixed value stay text, and the curly quotes became GSM-7 ones.
    assert "Kantor {Kec.} Bogor Timur, Jl. \"Raya\" 1." in worded.format(**per_card)


# --- the translators' glossary (flows/messages/GLOSSARY.md) -------------------------------------
def never_written() -> list[str]:
    """The "Never write" cells of the glossary's `## Terms` table."""
    text = (Path(catalogue.__file__).parent / "messages" / "GLOSSARY.md").read_text("utf-8")
    table = text.split("## Terms", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in rows[0].strip("|").split("|")]
    column = header.index("Never write")
    variants = []
    for row in rows[2:]:
        cell = row.strip("|").split("|")[column]
        variants += re.findall(r"`([^`]+)`", cell)
    return variants


def test_the_glossary_lists_variants_to_avoid() -> None:
    variants = never_written()
    assert {"e-KTP", "Anda", "blanko"} <= set(variants)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_message_uses_a_term_the_glossary_forbids(lang: str) -> None:
    found = [(key, variant) for key, text in messages(lang).items() for variant in never_written()
             if re.search(rf"(?<!\w){re.escape(variant)}(?!\w)", text, re.IGNORECASE)]
    assert not found, f"{lang}: {found}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_fixed_terms_are_spelled_the_same_everywhere(lang: str) -> None:
    for key, template_text in messages(lang).items():
        text = re.sub(r"\{[^}]*\}", "", template_text)  # placeholders are not words
        for term in ("KTP-el", "NIK", "Suket", "Kemendagri", "Disdukcapil", "WIB"):
            for written in re.findall(rf"(?<!\w){term}\w*", text, re.IGNORECASE):
                assert written == term, f"{lang}:{key} writes {written!r} for {term}"
