"""The regency a deployment serves (`[region] code`): its name, kecamatan, time zone and the
languages its residents are offered, all from the Kemendagri table. One release serves any of
Indonesia's 514 regencies; a process serves one, set once at start (`configure`), Kota Bogor
until then."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from zoneinfo import ZoneInfo

from sms_ktp.domain import wilayah

DEFAULT_CODE = "3271"  # Kota Bogor, the first city

# Perpres 41/1987, by province code (DOMAIN.md, "Any regency of Indonesia").
_WITA = {"51", "52", "53", "63", "64", "65", "71", "72", "73", "74", "75", "76"}
_WIT = {"81", "82", "91", "92", "93", "94", "95", "96"}
ZONES = {"WIB": ZoneInfo("Asia/Jakarta"), "WITA": ZoneInfo("Asia/Makassar"),
         "WIT": ZoneInfo("Asia/Jayapura")}
# Home languages beside Bahasa Indonesia and English: Sundanese in Jawa Barat and Banten,
# Javanese in Jawa Tengah, DI Yogyakarta and Jawa Timur.
_HOME_LANGUAGES = {"32": ("su",), "36": ("su",), "33": ("jv",), "34": ("jv",), "35": ("jv",)}


class UnknownRegion(ValueError):
    pass


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    province_code: str
    province_name: str
    kecamatan: Mapping[str, str]  # by their 2 digits within the regency (5th and 6th of a KK)
    zone_label: str  # WIB, WITA or WIT
    languages: tuple[str, ...]  # offered: Bahasa Indonesia, English, then the home language

    @property
    def zone(self) -> ZoneInfo:
        return ZONES[self.zone_label]

    def holds_kk(self, kk: str) -> bool:
        """Whether a 16-digit KK is of this regency: its first 6 digits are one of its
        kecamatan."""
        return kk[:4] == self.code and kk[4:6] in self.kecamatan


def zone_label_of(province_code: str) -> str:
    if province_code in _WITA:
        return "WITA"
    return "WIT" if province_code in _WIT else "WIB"


def default_languages(province_code: str) -> tuple[str, ...]:
    return ("id", "en", *_HOME_LANGUAGES.get(province_code, ()))


def region(code: str, languages: Iterable[str] | None = None) -> Region:
    """The regency of the 4-digit `code`; `languages` overrides those its province is offered."""
    found = wilayah.regencies().get(code) if re.fullmatch(r"[0-9]{4}", code or "") else None
    if found is None:
        raise UnknownRegion(f"{code!r} is not a regency code of the Kemendagri table (4 digits, "
                            "e.g. 3271 Kota Bogor; `sms-ktp region find NAME` lists them)")
    name, province_code = found
    return Region(code=code, name=name, province_code=province_code,
                  province_name=wilayah.provinces()[province_code],
                  kecamatan=wilayah.kecamatan_of(code), zone_label=zone_label_of(province_code),
                  languages=tuple(languages) if languages else default_languages(province_code))


def find(words: str) -> list[tuple[str, str]]:
    """(code, name) of the regencies whose name holds every word, or whose code starts with the
    digits given: for the person installing the service."""
    terms = words.lower().split()
    return [(code, name) for code, (name, _) in sorted(wilayah.regencies().items())
            if terms and all(term in name.lower() or code.startswith(term) for term in terms)]


_configured: Region | None = None


def configure(served: Region) -> None:
    """Set once by the runtime at start, from `[region]`."""
    global _configured
    _configured = served


def current() -> Region:
    """The regency this process serves."""
    return _configured if _configured is not None else _default()


@cache
def _default() -> Region:
    return region(DEFAULT_CODE)
