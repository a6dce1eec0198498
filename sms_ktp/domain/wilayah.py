"""Official area codes (Kemendagri), read from the whole country's table shipped with the package
(`sms_ktp/data/wilayah/`, with its source and licence in `SOURCE.md`).

The data is never retyped here: copies on the internet often get kecamatan codes wrong, and a
regency's kecamatan codes are not always contiguous, so the table is the single source of truth.
Codes are undotted: province 2 digits, regency 4, kecamatan 6, kelurahan/desa 10.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from functools import cache
from importlib.resources import files
from types import MappingProxyType


def _rows(name: str) -> Iterator[dict[str, str]]:
    text = (files("sms_ktp") / "data" / "wilayah" / f"{name}.csv").read_text(encoding="utf-8")
    for row in csv.DictReader(text.splitlines()):
        yield {key: value.strip() for key, value in row.items()}


def _is_digits(code: str, length: int) -> bool:
    return len(code) == length and code.isascii() and code.isdigit()


@cache
def provinces() -> Mapping[str, str]:
    """Province names by 2-digit code."""
    return MappingProxyType({row["code"]: row["name"] for row in _rows("provinces")})


@cache
def regencies() -> Mapping[str, tuple[str, str]]:
    """(name, province code) of every regency, by 4-digit code."""
    return MappingProxyType({row["code"]: (row["name"], row["province_code"])
                             for row in _rows("regencies")})


@cache
def _kecamatan() -> Mapping[str, Mapping[str, str]]:
    by_regency: dict[str, dict[str, str]] = {}
    for row in _rows("districts"):
        by_regency.setdefault(row["regency_code"], {})[row["code"][4:]] = row["name"]
    return MappingProxyType({code: MappingProxyType(names) for code, names in by_regency.items()})


def province_name(code2: str) -> str | None:
    """Name of a province from the first two digits of a NIK or KK."""
    return provinces().get(code2) if _is_digits(code2, 2) else None


def regency_name(code4: str) -> str | None:
    """Name of a regency/city from the first four digits of a NIK or KK."""
    found = regencies().get(code4) if _is_digits(code4, 4) else None
    return found[0] if found else None


def kecamatan_of(code4: str) -> Mapping[str, str]:
    """A regency's kecamatan by their own 2 digits (the 5th and 6th of a KK); empty for a code
    that is no regency."""
    return _kecamatan().get(code4, MappingProxyType({})) if _is_digits(code4, 4) else {}


def kelurahan_of(code4: str) -> dict[str, str]:
    """A regency's kelurahan and desa by 10-digit code (read from the 83,762 rows on each call:
    only tests and tools need them)."""
    return {row["code"]: row["name"] for row in _rows("villages")
            if row["district_code"][:4] == code4}


@cache
def longest_names() -> tuple[str, str]:
    """The longest regency and kecamatan names of the whole table: what every message that names
    them must still fit one SMS with."""
    regency = max((name for name, _ in regencies().values()), key=len)
    kecamatan = max((name for names in _kecamatan().values() for name in names.values()), key=len)
    return regency, kecamatan
