"""Official area codes (Kemendagri), read from the CSVs shipped with the package.

The data is never retyped here: copies on the internet often get Bogor's kecamatan codes wrong,
so the CSV is the single source of truth.
"""

from __future__ import annotations

import csv
from functools import cache
from importlib.resources import files

_KABKOTA_CSV = "kode_wilayah_kabkota.csv"
_BOGOR_CSV = "kota_bogor_wilayah.csv"
_BOGOR_PREFIX = ("32", "71")


@cache
def _load(filename: str) -> dict[str, str]:
    """Read a `code,name` CSV once; skips `#` comments and trims stray spaces in names."""
    text = (files("sms_ktp") / "data" / filename).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return {
        row["code"].strip(): row["name"].strip()
        for row in csv.DictReader(lines)
        if row.get("code") and row.get("name")
    }


def _is_digits(code: str, length: int) -> bool:
    return len(code) == length and code.isascii() and code.isdigit()


def province_name(code2: str) -> str | None:
    """Name of a province from the first two digits of a NIK or KK."""
    if not _is_digits(code2, 2):
        return None
    return _load(_KABKOTA_CSV).get(code2)


def regency_name(code4: str) -> str | None:
    """Name of a regency/city from the first four (undotted) digits of a NIK or KK."""
    if not _is_digits(code4, 4):
        return None
    return _load(_KABKOTA_CSV).get(f"{code4[:2]}.{code4[2:]}")


@cache
def _bogor_levels() -> tuple[dict[str, str], dict[str, str]]:
    kecamatan: dict[str, str] = {}
    kelurahan: dict[str, str] = {}
    for code, name in _load(_BOGOR_CSV).items():
        parts = code.split(".")
        if tuple(parts[:2]) != _BOGOR_PREFIX:
            continue
        if len(parts) == 3:
            kecamatan[parts[2]] = name
        elif len(parts) == 4:
            kelurahan["".join(parts)] = name
    return kecamatan, kelurahan


def bogor_kecamatan() -> dict[str, str]:
    """Kota Bogor's kecamatan by 2-digit code; a fresh dict so callers cannot corrupt the cache."""
    return dict(_bogor_levels()[0])


def bogor_kelurahan() -> dict[str, str]:
    """Kota Bogor's kelurahan keyed by undotted 10-digit code; a fresh dict, as above."""
    return dict(_bogor_levels()[1])
