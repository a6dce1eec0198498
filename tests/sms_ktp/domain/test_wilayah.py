"""Area codes come from the shipped CSVs; these values are the verified Kemendagri codes."""

import pytest

from sms_ktp.domain.wilayah import bogor_kecamatan, bogor_kelurahan, province_name, regency_name


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


def test_bogor_kecamatan() -> None:
    assert bogor_kecamatan() == {
        "01": "Bogor Selatan",
        "02": "Bogor Timur",
        "03": "Bogor Tengah",
        "04": "Bogor Barat",
        "05": "Bogor Utara",
        "06": "Tanah Sareal",
    }


def test_bogor_kelurahan() -> None:
    kelurahan = bogor_kelurahan()
    assert len(kelurahan) == 68
    assert kelurahan["3271011001"] == "Batu Tulis"
    assert kelurahan["3271061011"] == "Cibadak"
    kecamatan = bogor_kecamatan()
    for code in kelurahan:
        assert len(code) == 10 and code.isdigit()
        assert code.startswith("3271") and code[4:6] in kecamatan


def test_returned_dicts_do_not_alter_the_cache() -> None:
    bogor_kecamatan()["07"] = "Nowhere"
    bogor_kelurahan().clear()
    assert "07" not in bogor_kecamatan()
    assert len(bogor_kelurahan()) == 68
