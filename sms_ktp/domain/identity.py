"""NIK and Nomor KK rules.

A NIK never changes when its holder moves, so any real Indonesian regency is accepted; residency
in the regency served is shown by the KK instead (see DOMAIN.md, "Identity numbers").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from sms_ktp.domain import region
from sms_ktp.domain.masking import mask_id
from sms_ktp.domain.wilayah import province_name, regency_name

IdentityErrorCode = Literal["length", "region", "birth_date", "serial", "not_resident",
                            "issue_date"]
_ERROR_CODES = frozenset({"length", "region", "birth_date", "serial", "not_resident",
                          "issue_date"})

_FEMALE_DAY_OFFSET = 40
_SIXTEEN_DIGITS = re.compile(r"[0-9]{16}")
# Separators people type inside long numbers: spaces (any width), dots, dashes, slashes.
_SEPARATORS = frozenset(".-/\u2010\u2011\u2012\u2013\u2014\u2015\u2212")


class IdentityError(ValueError):
    """Why an identity number was refused; `code` lets the caller pick the reply to the resident.

    The message is only the code: the rejected number itself must never end up in a log.
    """

    def __init__(self, code: IdentityErrorCode) -> None:
        if code not in _ERROR_CODES:
            raise ValueError(f"unknown identity error code: {code!r}")
        super().__init__(code)
        self.code: IdentityErrorCode = code


def digits_only(text: str) -> str:
    """Strip what people type between digits (spaces, dots, dashes, slashes, invisible characters).

    Full-width digits from phone keyboards become ASCII (NFKC). Anything else (letters...) is kept,
    so the length check that follows fails instead of silently accepting a mangled number.
    """
    normalised = unicodedata.normalize("NFKC", text)
    return "".join(
        char
        for char in normalised
        if not (char.isspace() or char in _SEPARATORS or unicodedata.category(char) == "Cf")
    )


@dataclass(frozen=True, repr=False)
class Nik:
    """A checked NIK; repr/str show only the last four digits so it cannot leak into logs."""

    value: str
    regency_code: str
    kecamatan_code: str
    birth_date: date
    female: bool
    serial: str

    def __repr__(self) -> str:
        return f"Nik({mask_id(self.value)})"

    __str__ = __repr__


@dataclass(frozen=True, repr=False)
class KK:
    """A family card number of the regency served; its kecamatan decides the resident's home
    office."""

    value: str
    kecamatan_code: str
    kecamatan_name: str

    def __repr__(self) -> str:
        return f"KK({mask_id(self.value)})"

    __str__ = __repr__


def _sixteen_digits(text: str) -> str:
    value = digits_only(text)
    if not _SIXTEEN_DIGITS.fullmatch(value):
        raise IdentityError("length")
    return value


def _ddmmyy(day: int, month: int, year: int, today: date) -> date | None:
    """The date DD MM YY stands for, in the latest century that puts it on or before today."""
    for century in (2000, 1900):
        try:
            when = date(century + year, month, day)
        except ValueError:
            continue
        if when <= today:
            return when
    return None


def _birth_date(ddmmyy: str, today: date) -> tuple[date, bool]:
    """Decode DDMMYY: women have 40 added to the day; take the latest century not in the future."""
    day, month, year = int(ddmmyy[0:2]), int(ddmmyy[2:4]), int(ddmmyy[4:6])
    female = day > _FEMALE_DAY_OFFSET
    if female:
        day -= _FEMALE_DAY_OFFSET
    born = _ddmmyy(day, month, year, today)
    if born is None:
        raise IdentityError("birth_date")
    return born, female


def parse_nik(text: str, today: date) -> Nik:
    """Check a NIK typed by a resident (checks in order: length, region, birth_date, serial)."""
    if isinstance(today, datetime):
        today = today.date()
    value = _sixteen_digits(text)
    regency_code = value[:4]
    if province_name(value[:2]) is None or regency_name(regency_code) is None:
        raise IdentityError("region")
    born, female = _birth_date(value[6:12], today)
    serial = value[12:]
    if serial == "0000":
        raise IdentityError("serial")
    return Nik(
        value=value,
        regency_code=regency_code,
        kecamatan_code=value[4:6],
        birth_date=born,
        female=female,
        serial=serial,
    )


def parse_kk(text: str, today: date | None = None) -> KK:
    """Check a KK typed by a resident (in order: length, of the regency served, issue date,
    serial). A KK
    is `PP RR KK DD MM YY SSSS` like a NIK, but its date is the day the card was issued: a
    real date, not in the future, with nothing added to the day. `today`: defaults to the
    local date of the machine, which only matters for a card issued today or tomorrow."""
    if isinstance(today, datetime):
        today = today.date()
    value = _sixteen_digits(text)
    served = region.current()
    if not served.holds_kk(value):
        raise IdentityError("not_resident")
    kecamatan_code = value[4:6]
    kecamatan_name = served.kecamatan[kecamatan_code]
    day, month, year = int(value[6:8]), int(value[8:10]), int(value[10:12])
    if _ddmmyy(day, month, year, today or date.today() + timedelta(days=1)) is None:
        raise IdentityError("issue_date")
    if value[12:] == "0000":
        raise IdentityError("serial")
    return KK(value=value, kecamatan_code=kecamatan_code, kecamatan_name=kecamatan_name)


def require_valid_pair(nik: str, kk: str, today: date) -> None:
    """The last check before an application is written: both numbers keep their rules and the
    KK is not the NIK. The dialogues and the staff form refuse such answers long before, so a
    failure here is a defect, never a resident's mistake."""
    if parse_nik(nik, today).value == parse_kk(kk, today).value:
        raise ValueError("the KK of an application cannot be its NIK")
