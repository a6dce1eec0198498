"""Checking progress by SMS: a phone sees its own family's applications, in plain words."""

from __future__ import annotations

import re

from live_service import KK, KK_2, NIK, NIK_2, PHONE, PHONE_2, LiveService

REF = re.compile(r"ref (\d{9})")


def register(service: LiveService, phone: str, nik: str, kk: str, reason: str = "2") -> str:
    service.sms(phone, f"DAFTAR {nik}#{kk}#{reason}")
    return REF.search(service.sms(phone, "YA")[0]).group(1)


def test_status_without_applications(service):
    assert service.sms(PHONE, "STATUS") == [
        "Belum ada pendaftaran KTP-el untuk nomor HP ini. Ketik DAFTAR untuk mendaftar."]


def test_status_of_the_only_application_explains_the_stage(service):
    reference = register(service, PHONE, NIK, KK)
    [status] = service.sms(PHONE, "cek")
    assert status == (f"Ref {reference} NIK ***0001: diterima, menunggu verifikasi petugas. "
                      "Lalu penunggalan data di Kemendagri. Kami kirim SMS bila ada kabar.")


def test_status_lists_the_family_and_shows_one_by_reference(service):
    first = register(service, PHONE, NIK, KK)
    second = register(service, PHONE, NIK_2, KK)
    [listing] = service.sms(PHONE, "STATUS")
    assert listing.startswith("2 pendaftaran: ")
    assert f"{first} NIK ***0001 diterima" in listing
    assert f"{second} NIK ***0002 diterima" in listing
    assert listing.endswith("Rincian: STATUS <ref>")
    [detail] = service.sms(PHONE, f"STATUS {second}")
    assert detail.startswith(f"Ref {second} NIK ***0002: diterima")


def test_a_phone_never_sees_another_familys_application(service):
    theirs = register(service, PHONE_2, NIK_2, KK_2)
    register(service, PHONE, NIK, KK)
    assert service.sms(PHONE, f"STATUS {theirs}") == [
        f"Ref {theirs} tidak ditemukan untuk nomor HP ini. Ketik STATUS untuk melihat semua "
        "pendaftaran keluarga Bapak/Ibu."]
    [listing] = service.sms(PHONE, "STATUS")
    assert theirs not in listing and "***0002" not in listing


def test_a_mistyped_reference_is_caught_by_its_check_digit(service):
    reference = register(service, PHONE, NIK, KK)
    typo = reference[:-2] + reference[-1] + reference[-2]  # two digits swapped
    if typo == reference:
        typo = reference[:-1] + str((int(reference[-1]) + 1) % 10)
    assert service.sms(PHONE, f"STATUS {typo}")[0].startswith("Nomor ref tidak cocok.")


def test_status_in_the_middle_of_a_registration_keeps_the_registration(service):
    reference = register(service, PHONE, NIK, KK)
    service.sms(PHONE, "DAFTAR")
    service.sms(PHONE, NIK_2)
    assert service.sms(PHONE, "STATUS")[0].startswith(f"Ref {reference} NIK ***0001")
    assert service.sms(PHONE, KK)[0].startswith("Alasan cetak KTP-el?")
