"""The consent wording and its version: the summary a resident confirms with YA says in one
sentence why the data is used, and `CONSENT_VERSION` names exactly that wording, so that the
version stored with an application (`application.consent_version`) says what was agreed to."""

from __future__ import annotations

import pytest

from flows.catalogue import languages, messages
from flows.messages import CONSENT_VERSION
from gsm7.encoding import GSM7_SINGLE, septets
from sms_ktp.models import Application

# Every consent wording residents were shown, by version: what a stored version means. When the
# sentence changes, add a version here and set CONSENT_VERSION to it; never edit an issued one.
ISSUED: dict[str, dict[str, str]] = {
    "2026-11": {"id": "Data hanya dipakai untuk cetak KTP-el.",
                "en": "Your data is used only to print your KTP-el.",
                "su": "Data ngan dianggo kanggo nyitak KTP-el.",
                # Javanese joined before any regency offered it: its review may still correct
                # it here and in jv.toml, until a regency offers Javanese (GLOSSARY.md).
                "jv": "Data namung kangge nyithak KTP-el."},
}
# The summaries answered with YA (SMS and USSD): each carries the sentence word for word.
SUMMARIES = ("register.confirm", "ussd.register.confirm")


def test_the_catalogues_say_what_the_current_version_issued() -> None:
    assert CONSENT_VERSION in ISSUED, (
        f"CONSENT_VERSION {CONSENT_VERSION!r} has no wording in ISSUED: add it")
    wording = ISSUED[CONSENT_VERSION]
    for lang in languages():
        assert messages(lang)["consent.purpose"] == wording.get(lang), (
            f"{lang}: the consent sentence differs from version {CONSENT_VERSION}: a changed "
            "sentence needs a new CONSENT_VERSION (flows/messages/__init__.py) and its "
            "wording in ISSUED")


def test_every_version_has_its_own_wording_in_every_language() -> None:
    wordings = [tuple(sorted(wording.items())) for wording in ISSUED.values()]
    assert len(set(wordings)) == len(wordings), "two versions with the same wording"
    for version, wording in ISSUED.items():
        assert set(wording) >= set(languages()), f"{version}: a language is missing"


@pytest.mark.parametrize("lang", languages())
@pytest.mark.parametrize("key", SUMMARIES)
def test_the_summary_confirmed_with_yes_carries_the_sentence(lang: str, key: str) -> None:
    assert messages(lang)["consent.purpose"] in messages(lang)[key]


@pytest.mark.parametrize("lang", languages())
def test_the_sentence_is_one_short_gsm7_sentence(lang: str) -> None:
    sentence = messages(lang)["consent.purpose"]
    assert sentence.endswith(".") and sentence.count(". ") == 0
    length = septets(sentence)
    assert length is not None and length <= GSM7_SINGLE // 3


def test_the_version_fits_its_column() -> None:
    assert len(CONSENT_VERSION) <= Application.__table__.c.consent_version.type.length
