"""An application's reason and stored answers as staff read them: in the document's own words,
dates as the family typed them, every NIK masked unless revealed, unknown fields never shown."""

from __future__ import annotations

import pytest

from sms_ktp.backoffice.particulars import particulars, reason_label, reason_words


@pytest.mark.parametrize(("document", "reason", "label", "words"), [
    ("ktp", "hilang", "Alasan cetak", "hilang"),
    ("ktp", "baru", "Alasan cetak", "baru (Suket)"),
    ("kk", "pisah", "Alasan", "pisah KK"),
    ("kk", "tambah", "Alasan", "anggota bertambah"),
    ("akta_lahir", "terlambat", "Alasan", "terlambat"),
    ("kia", "baru", "Alasan", "baru (Suket)"),
    ("kk", "sesuatu", "Alasan", "sesuatu"),  # a reason no text names: as stored
])
def test_the_reason_in_the_document_s_words(document, reason, label, words):
    assert (reason_label(document), reason_words(document, reason)) == (label, words)


def test_a_death_shows_the_deceased_masked_and_the_date_as_typed():
    details = {"deceased_nik": "3271011208450003", "death_date": "2026-11-27"}
    assert particulars("akta_mati", details) == (
        ("NIK almarhum/almarhumah", "***0003"), ("Tanggal meninggal", "27-11-2026"))
    assert particulars("akta_mati", details, reveal=True)[0] == (
        "NIK almarhum/almarhumah", "3271011208450003")


def test_a_birth_shows_the_child_s_date_and_sex():
    assert particulars("akta_lahir", {"birth_date": "2026-11-15", "sex": "P"}) == (
        ("Tanggal lahir anak", "15-11-2026"), ("Jenis kelamin anak", "perempuan"))
    assert particulars("kia", {"birth_date": "2015-03-12"}) == (
        ("Tanggal lahir anak", "12-03-2015"),)


def test_nothing_stored_or_unknown_fields_show_nothing():
    assert particulars("ktp", None) == ()
    assert particulars("kk", {}) == ()
    assert particulars("kk", {"mother_nik": "3271014501900001", "note": "x"}) == ()
