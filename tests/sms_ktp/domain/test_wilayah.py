"""Area codes come from the shipped CSVs; these values are the verified Kemendagri codes."""

import pytest

from sms_ktp.domain.wilayah import (
    kecamatan_of,
    kelurahan_of,
    longest_names,
    province_name,
    provinces,
    regencies,
    regency_name,
)


@pytest.mark.parametrize(
    ("code", "name"),
    [("32", "Jawa Barat"), ("31", "Daerah Khusus Ibukota Jakarta"), ("11", "Aceh")],
)
def test_province_name(code: str, name: str) -> None:
    assert province_name(code) == name


@pytest.mark.parametrize("code", ["99", "00", "3", "320", "ab", "", "３２"])
def test_unknown_province(code: str) -> None:
    assert province_name(code) is None


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("3271", "Kota Bogor"),
        ("3201", "Kabupaten Bogor"),
        ("3173", "Kota Administrasi Jakarta Barat"),
        # the CSV has a trailing space after this name
        ("3172", "Kota Administrasi Jakarta Utara"),
    ],
)
def test_regency_name(code: str, name: str) -> None:
    assert regency_name(code) == name


@pytest.mark.parametrize("code", ["3299", "9999", "3200", "32", "32.71", "327", "32710", ""])
def test_unknown_regency(code: str) -> None:
    assert regency_name(code) is None


def test_kota_bogor_kecamatan() -> None:
    assert dict(kecamatan_of("3271")) == {
        "01": "Bogor Selatan",
        "02": "Bogor Timur",
        "03": "Bogor Tengah",
        "04": "Bogor Barat",
        "05": "Bogor Utara",
        "06": "Tanah Sareal",
    }


@pytest.mark.parametrize(("code", "count", "highest"), [
    ("3201", 40, "40"), ("3276", 11, "11"), ("7371", 15, "15"), ("9171", 5, "05")])
def test_other_regencies_have_their_own_kecamatan(code: str, count: int, highest: str) -> None:
    kecamatan = kecamatan_of(code)
    assert len(kecamatan) == count and max(kecamatan) == highest


@pytest.mark.parametrize("code", ["9999", "32", "abcd", ""])
def test_no_kecamatan_for_what_is_no_regency(code: str) -> None:
    assert dict(kecamatan_of(code)) == {}


def test_the_whole_country_is_loaded() -> None:
    assert (len(provinces()), len(regencies())) == (38, 514)
    assert sum(len(kecamatan_of(code)) for code in regencies()) == 7285


def test_kota_bogor_kelurahan() -> None:
    kelurahan = kelurahan_of("3271")
    assert len(kelurahan) == 68
    assert kelurahan["3271011001"] == "Batu Tulis"
    assert kelurahan["3271061011"] == "Cibadak"
    for code in kelurahan:
        assert len(code) == 10 and code.isdigit()
        assert code.startswith("3271") and code[4:6] in kecamatan_of("3271")


def test_the_table_cannot_be_changed_by_a_caller() -> None:
    with pytest.raises(TypeError):
        kecamatan_of("3271")["07"] = "Nowhere"  # type: ignore[index]
    assert "07" not in kecamatan_of("3271")


def test_the_longest_names_of_the_table() -> None:
    assert longest_names() == ("Kabupaten Administrasi Kepulauan Seribu",
                               "Buay Pematang Ribu Ranau Tengah")
