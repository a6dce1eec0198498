"""The SMS dialogue's refusals as staff read them at the counter: every refusal the form can get,
in the catalogue's words, tells staff nothing to type or send by SMS."""

from __future__ import annotations

import string

import pytest

from flows.catalogue import messages, render
from sms_ktp.applications.assisted import STAFF_LANGUAGE
from sms_ktp.applications.counter_wording import (
    FALLBACK,
    STAFF_WORDING,
    for_staff,
    tells_what_to_send,
)

# The refusals of the fields the assisted registration form has (every one in the catalogue,
# also those added later).
FORM_REFUSALS = sorted(key for key in messages(STAFF_LANGUAGE)
                       if key.startswith(("error.nik.", "error.kk.", "error.reason.",
                                          "error.suket.")))


def sms_wording(key: str) -> str:
    names = {name for _, name, _, _ in string.Formatter().parse(messages(STAFF_LANGUAGE)[key])
             if name}
    return render(STAFF_LANGUAGE, key, **dict.fromkeys(names, "12"))


@pytest.mark.parametrize("key", FORM_REFUSALS)
def test_no_refusal_tells_staff_to_type_or_send_anything(key):
    wording = for_staff(key, sms_wording(key))
    assert wording and not tells_what_to_send(wording), wording
    assert "BATAL" not in wording and "ketik" not in wording.lower()


@pytest.mark.parametrize("key", [key for key in FORM_REFUSALS if key not in STAFF_WORDING])
def test_a_refusal_keeps_the_sms_words_it_keeps(key):
    """Nothing reworded: only the resident's instructions are left out."""
    wording = for_staff(key, sms_wording(key))
    assert wording == FALLBACK or all(sentence in sms_wording(key)
                                      for sentence in wording.split(". "))


def test_the_instructions_go_and_the_explanation_stays():
    assert for_staff("error.kk.not_resident", (
        "KK ini bukan KK Kota Bogor (diawali 327101 s/d 327106). Layanan ini khusus warga Kota "
        "Bogor. Kirim KK lain atau ketik BATAL.")) == (
        "KK ini bukan KK Kota Bogor (diawali 327101 s/d 327106). Layanan ini khusus warga Kota "
        "Bogor.")
    assert for_staff("error.nik.length", "NIK harus 16 angka, yang terbaca 12 angka. Kirim lagi "
                                         "NIK:") == "NIK harus 16 angka, yang terbaca 12 angka."
    assert for_staff("error.reason.unknown", "Pilihan tidak dikenal. Balas angka 1 Baru.") == (
        "Pilih salah satu alasan cetak.")
    assert for_staff("x", "Ketik BATAL untuk membatalkan.") == FALLBACK
    assert for_staff("x", "Data tidak cocok dengan KK.") == "Data tidak cocok dengan KK."
