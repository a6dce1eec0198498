"""The regency served, from its 4-digit code: kecamatan from the table, the zone and the
languages of its province, and the process-wide choice made at start."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sms_ktp.domain import region
from sms_ktp.domain.local_time import local_date, local_zone, zone_label
from sms_ktp.domain.quiet_hours import QuietHours


@pytest.mark.parametrize(("code", "name", "zone", "languages", "kecamatan"), [
    ("3271", "Kota Bogor", "WIB", ("id", "en", "su"), 6),
    ("3201", "Kabupaten Bogor", "WIB", ("id", "en", "su"), 40),
    ("3276", "Kota Depok", "WIB", ("id", "en", "su"), 11),
    ("3471", "Kota Yogyakarta", "WIB", ("id", "en", "jv"), 14),
    ("3578", "Kota Surabaya", "WIB", ("id", "en", "jv"), 31),
    ("3101", "Kabupaten Administrasi Kepulauan Seribu", "WIB", ("id", "en"), 2),
    ("7371", "Kota Makassar", "WITA", ("id", "en"), 15),
    ("5171", "Kota Denpasar", "WITA", ("id", "en"), 4),
    ("9171", "Kota Jayapura", "WIT", ("id", "en"), 5),
    ("8171", "Kota Ambon", "WIT", ("id", "en"), 5),
])
def test_a_regency_from_its_code(code, name, zone, languages, kecamatan):
    served = region.region(code)
    assert (served.name, served.zone_label, served.languages) == (name, zone, languages)
    assert len(served.kecamatan) == kecamatan
    assert served.zone.key == {"WIB": "Asia/Jakarta", "WITA": "Asia/Makassar",
                               "WIT": "Asia/Jayapura"}[zone]


@pytest.mark.parametrize("code", ["9999", "32", "327", "32710", "abcd", "", "３２７１"])
def test_an_unknown_code_says_what_a_code_is(code):
    with pytest.raises(region.UnknownRegion, match="is not a regency code"):
        region.region(code)


def test_the_languages_can_be_set():
    assert region.region("7371", ["id", "en", "su"]).languages == ("id", "en", "su")


def test_a_kk_is_a_residents_when_its_kecamatan_is_the_regencys():
    kabupaten = region.region("3201")
    assert kabupaten.holds_kk("3201400101200003")  # kecamatan 40: above 30
    assert not kabupaten.holds_kk("3201410101200003")  # no kecamatan 41
    assert not kabupaten.holds_kk("3271010101200003")  # Kota Bogor's
    assert region.region("3271").holds_kk("3271060101200003")


def test_find_by_words_and_by_code():
    assert region.find("kota bogor") == [("3271", "Kota Bogor")]
    assert region.find("BOGOR") == [("3201", "Kabupaten Bogor"), ("3271", "Kota Bogor")]
    assert region.find("9171") == [("9171", "Kota Jayapura")]
    assert region.find("atlantis") == [] and region.find("") == []


def test_the_process_serves_kota_bogor_until_configured():
    assert region.current().code == "3271"
    region.configure(region.region("7371"))
    instant = datetime(2026, 11, 30, 16, 30, tzinfo=UTC)  # 00.30 WITA on 1 December
    assert (region.current().code, zone_label(), local_zone().key) == (
        "7371", "WITA", "Asia/Makassar")
    assert local_date(instant).isoformat() == "2026-12-01"
    region.configure(region.region("3271"))
    assert local_date(instant).isoformat() == "2026-11-30"  # 23.30 WIB


def test_quiet_hours_are_the_regencys_local_hours():
    quiet = QuietHours.parse("20:00-07:00")
    evening = datetime(2026, 11, 30, 12, 30, tzinfo=UTC)  # 19.30 WIB, 20.30 WITA
    assert not quiet.is_quiet(evening)  # Kota Bogor
    region.configure(region.region("7371"))
    assert quiet.is_quiet(evening)
    # The next SMS leaves at 07.00 WITA, 23.00 UTC.
    assert quiet.next_allowed(evening) == datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
