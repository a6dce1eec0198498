"""NIK and KK rules (DOMAIN.md, "Identity numbers")."""

from dataclasses import FrozenInstanceError
from datetime import date, datetime

import pytest

from sms_ktp.domain.identity import (
    IdentityError,
    digits_only,
    parse_kk,
    parse_nik,
    require_valid_pair,
)

TODAY = date(2024, 6, 1)


def nik_error(text: str, today: date = TODAY) -> str:
    with pytest.raises(IdentityError) as caught:
        parse_nik(text, today)
    return caught.value.code


def kk_error(text: str) -> str:
    with pytest.raises(IdentityError) as caught:
        parse_kk(text)
    return caught.value.code


def test_male_nik() -> None:
    nik = parse_nik("3271021506850002", TODAY)
    assert nik.value == "3271021506850002"
    assert nik.regency_code == "3271"
    assert nik.kecamatan_code == "02"
    assert nik.birth_date == date(1985, 6, 15)
    assert nik.female is False
    assert nik.serial == "0002"


def test_female_nik_has_forty_added_to_the_day() -> None:
    nik = parse_nik("3271014501900001", TODAY)
    assert nik.birth_date == date(1990, 1, 5)
    assert nik.female is True


@pytest.mark.parametrize(
    ("ddmmyy", "born"), [("410100", date(2000, 1, 1)), ("711299", date(1999, 12, 31))]
)
def test_female_day_range(ddmmyy: str, born: date) -> None:
    nik = parse_nik(f"327101{ddmmyy}0001", TODAY)
    assert nik.female is True
    assert nik.birth_date == born


@pytest.mark.parametrize(
    "text",
    [
        "3201014501900001",  # Kabupaten Bogor
        "3173014501900001",  # Jakarta Barat
        "1171014501900001",  # Kota Banda Aceh
    ],
)
def test_nik_from_outside_bogor_is_accepted(text: str) -> None:
    assert parse_nik(text, TODAY).regency_code == text[:4]


@pytest.mark.parametrize("text", ["9999014501900001", "3299014501900001", "3200014501900001"])
def test_unknown_region(text: str) -> None:
    assert nik_error(text) == "region"


@pytest.mark.parametrize(
    "ddmmyy",
    [
        "320190",  # day 32
        "000190",  # day 00
        "400190",  # day 40 (female day 00)
        "720190",  # day 72 (female day 32)
        "011390",  # month 13
        "010090",  # month 00
        "310290",  # 31 February
        "310490",  # 31 April
        "290201",  # 29 February: 2001 and 1901 are both non-leap
        "690201",  # same for a woman
    ],
)
def test_impossible_birth_date(ddmmyy: str) -> None:
    assert nik_error(f"327101{ddmmyy}0001") == "birth_date"


@pytest.mark.parametrize(
    ("ddmmyy", "born"), [("290200", date(2000, 2, 29)), ("690200", date(2000, 2, 29))]
)
def test_29_february_in_a_leap_year(ddmmyy: str, born: date) -> None:
    assert parse_nik(f"327101{ddmmyy}0001", TODAY).birth_date == born


def test_year_in_the_future_resolves_to_the_1900s() -> None:
    assert parse_nik("3271011506990001", TODAY).birth_date == date(1999, 6, 15)
    # 2024-07-01 is after TODAY, so it is 1924
    assert parse_nik("3271010107240001", TODAY).birth_date == date(1924, 7, 1)
    # today itself is not in the future
    assert parse_nik("3271010106240001", TODAY).birth_date == date(2024, 6, 1)


def test_29_february_falls_back_to_the_previous_century_when_needed() -> None:
    # 2024-02-29 is after this "today"; 1924 was a leap year too
    assert parse_nik("3271012902240001", date(2024, 2, 28)).birth_date == date(1924, 2, 29)


def test_today_may_be_a_datetime() -> None:
    nik = parse_nik("3271010106240001", datetime(2024, 6, 1, 9, 30))
    assert nik.birth_date == date(2024, 6, 1)


def test_serial_0000() -> None:
    assert nik_error("3271014501900000") == "serial"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("9999013201900000", "region"),  # region before birth date and serial
        ("3271013201900000", "birth_date"),  # birth date before serial
        ("99990132019000", "length"),  # length first
    ],
)
def test_check_order(text: str, code: str) -> None:
    assert nik_error(text) == code


@pytest.mark.parametrize(
    "text",
    [
        "3271 0145 0190 0001",
        "3271.0145.0190.0001",
        "3271-0145-0190-0001",
        "327101/450190/0001",
        "  3271014501900001\n",
        "３２７１０１４５０１９００００１",  # full-width digits
        "3271\u200b0145\u200c0190\u200d0001\ufeff",  # zero-width characters
        "3271\u00a00145\u20130190\u20130001",  # no-break space and en dash
    ],
)
def test_nik_with_separators(text: str) -> None:
    assert parse_nik(text, TODAY).value == "3271014501900001"


@pytest.mark.parametrize(
    "text",
    [
        "327101450190001",  # 15 digits
        "32710145019000011",  # 17 digits
        "3271O14501900001",  # letter O instead of zero
        "NIK3271014501900001",
        "3271014501900001#",
        "",
        "   ",
        "٣٢٧١٠١٤٥٠١٩٠٠٠٠١",  # Arabic-Indic digits are not accepted
    ],
)
def test_nik_length(text: str) -> None:
    assert nik_error(text) == "length"


def test_digits_only() -> None:
    assert digits_only(" 3271 01.45-01/90 ") == "327101450190"
    assert digits_only("１２３") == "123"
    assert digits_only("12\u200b3") == "123"
    # other characters are kept, so that the length check fails
    assert digits_only("12a 3") == "12a3"


def test_nik_is_frozen() -> None:
    nik = parse_nik("3271014501900001", TODAY)
    with pytest.raises(FrozenInstanceError):
        nik.value = "3271014501900002"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kecamatan", "name"),
    [
        ("01", "Bogor Selatan"),
        ("02", "Bogor Timur"),
        ("03", "Bogor Tengah"),
        ("04", "Bogor Barat"),
        ("05", "Bogor Utara"),
        ("06", "Tanah Sareal"),
    ],
)
def test_kk_from_kota_bogor(kecamatan: str, name: str) -> None:
    kk = parse_kk(f"3271{kecamatan}0101230004")
    assert kk.value == f"3271{kecamatan}0101230004"
    assert kk.kecamatan_code == kecamatan
    assert kk.kecamatan_name == name


def test_kk_with_separators() -> None:
    assert parse_kk("3271 0601 0123 0004").value == "3271060101230004"


@pytest.mark.parametrize(
    "text",
    [
        "3271070101230004",  # no kecamatan 07 in Kota Bogor
        "3271000101230004",
        "3201010101230004",  # Kabupaten Bogor
        "3173010101230004",  # Jakarta Barat
    ],
)
def test_kk_outside_kota_bogor(text: str) -> None:
    assert kk_error(text) == "not_resident"


@pytest.mark.parametrize("text", ["327106010123000", "32710601012300041", "3271O60101230004", ""])
def test_kk_length(text: str) -> None:
    assert kk_error(text) == "length"


def test_identity_error() -> None:
    error = IdentityError("serial")
    assert isinstance(error, ValueError)
    assert error.code == "serial"
    assert str(error) == "serial"
    with pytest.raises(ValueError):
        IdentityError("nonsense")  # type: ignore[arg-type]


def test_identity_error_does_not_carry_the_number() -> None:
    with pytest.raises(IdentityError) as caught:
        parse_nik("3271014501900000", TODAY)
    assert "3271014501900000" not in str(caught.value)
    assert "3271014501900000" not in repr(caught.value)


@pytest.mark.parametrize("text", [
    "3271013102200001",  # 31 February
    "3271014501200001",  # day 45: the +40 of women is a NIK's, never a KK's
    "3271010013200001",  # month 13
    "3271010000200001",  # day and month 0
    "3271013104200001",  # 31 April
    "3271012902230001",  # 29 February 2023 (2023 is no leap year)
])
def test_kk_issue_date_must_be_a_real_date(text: str) -> None:
    assert kk_error(text) == "issue_date"


def test_kk_issued_on_a_leap_day_is_accepted() -> None:
    assert parse_kk("3271012902240001").value == "3271012902240001"


def test_kk_issued_in_the_future_is_refused_and_read_in_the_last_century_if_possible() -> None:
    today = date(2026, 12, 6)
    assert parse_kk("3271010612260001", today).value == "3271010612260001"  # today
    # 7 December (19)26 is in the past: the century that makes the date possible.
    assert parse_kk("3271010712260001", today).value == "3271010712260001"


def test_kk_serial_0000_is_refused() -> None:
    assert kk_error("3271010101200000") == "serial"


def test_require_valid_pair_refuses_a_kk_equal_to_the_nik() -> None:
    number = "3271011501900004"  # a man born 15 January 1990; as a KK issued that day
    with pytest.raises(ValueError, match="cannot be its NIK"):
        require_valid_pair(number, number, date(2026, 12, 6))
    require_valid_pair(number, "3271010101200003", date(2026, 12, 6))
