"""Pickup codes hidden from staff: found after the words that announce them, in every language
of the catalogues, and nothing else touched."""

from __future__ import annotations

import pytest

from flows.catalogue import languages, messages, render
from sms_ktp.applications.hidden_codes import HIDDEN, hide_codes


@pytest.mark.parametrize("lang", languages())
def test_every_catalogue_message_with_a_code_has_it_hidden(lang):
    """Whatever the catalogues say before a code, in every language, it is found."""
    keys = [key for key, text in messages(lang).items() if "{code}" in text]
    assert keys
    for key in keys:
        text = render(lang, key, code="ACD347", cards="KTP-el NIK ***0001", day="Senin",
                      time="09.30 WIB", minutes=15,
                      office="Kantor Kec. Bogor Selatan", address="Jl. Raya 7", ref="123456789",
                      document="KK", link="https://ktp.kotabogor.go.id/d/ACD347", pin="105820",
                      until="31/12", documents="KK ref 123456789")
        assert "ACD347" in text and "ACD347" not in hide_codes(text), f"{lang}:{key}"


@pytest.mark.parametrize("lang", languages())
def test_a_signed_pdfs_link_code_and_pin_are_hidden(lang):
    """Whoever read them could download a family's KK or akta, or print it at an office."""
    text = render(lang, "notify.document_ready", document="KK", ref="123456789",
                  link="https://ktp.kotabogor.go.id/d/ACDEFH34", pin="105820", until="31/12",
                  code="ACDEFH34")
    hidden = hide_codes(text)
    assert "ACDEFH34" in text and "ACDEFH34" not in hidden and "105820" not in hidden
    assert "https://ktp.kotabogor.go.id/d/" in hidden and "123456789" in hidden


@pytest.mark.parametrize("lang", languages())
def test_the_code_that_confirms_a_new_family_phone_is_hidden(lang):
    """Whoever read it on the messages page could move a family's SMS to any phone."""
    text = render(lang, "phone_change.code", code="105820", minutes=15)
    assert "105820" in text and "105820" not in hide_codes(text)


@pytest.mark.parametrize("text", [
    "Kode ambil: ACD347.", "kode ambil tetap: ACD347", "KODE ACD347", "code: 3MMM77",
    "Pickup code: ACD347 show it", "Kode nyandak: ACD347", "showing the code ACD347",
])
def test_a_code_announced_by_its_words_is_hidden(text):
    assert hide_codes(text).count(HIDDEN) == 1


@pytest.mark.parametrize("text", [
    "Ketik DAFTAR untuk mendaftar.", "ref 123456789 NIK ***0001", "STATUS 123456789",
    "Kode pos 16111 Bogor", "Kode ambil tidak cocok.",
])
def test_other_words_stay_as_they_are(text):
    assert hide_codes(text) == text


def test_a_code_known_to_belong_to_the_text_is_hidden_wherever_it_stands():
    assert hide_codes("collected with ACD347", ["ACD347", None]) == f"collected with {HIDDEN}"
