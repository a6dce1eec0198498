"""A family without any phone, registered with its kelurahan as its contact.

Some families own no phone at all. The kelurahan helper who registers them makes the kelurahan
their contact: the family's phone column holds the kelurahan's address
(`sms_ktp.domain.contact_address`), so every SMS any part of the service writes to the family
lands on the kelurahan's list (`sms_ktp.messaging.kelurahan_mailbox`) and on the kelurahan's
phone when it has one (`[kelurahan] phones`), and the helpers pass it on. Only a helper, whose
account names the kelurahan they work in, can do this: the address must be a kelurahan whose
staff will read its list.

When the family later gets a phone, the change of the family's phone replaces the address with
the number, as it replaces any old number: the phone column stays the single source of where a
family is told.
"""

from __future__ import annotations

from functools import cache

from sms_ktp.domain import wilayah
from sms_ktp.domain.contact_address import address_of, is_kelurahan_code, kelurahan_in

NO_KELURAHAN = ("Hanya pendamping kelurahan (akun yang terhubung ke satu kelurahan) yang dapat "
                "menjadikan kelurahan sebagai kontak keluarga tanpa HP. Isi nomor HP keluarga.")


def family_address(kelurahan: str | None) -> str | None:
    """Where a phoneless family registered by a helper of `kelurahan` is told; None when the
    helper has no kelurahan."""
    return address_of(kelurahan) if is_kelurahan_code(kelurahan) else None


def contact_problem(kelurahan: str | None) -> str | None:
    """Why this member of staff cannot make their kelurahan a family's contact, if they cannot."""
    return None if is_kelurahan_code(kelurahan) else NO_KELURAHAN


def is_phoneless(phone: str | None) -> bool:
    """Whether a family's phone column holds a kelurahan's address rather than a number."""
    return kelurahan_in(phone) is not None


def kelurahan_name(code: str | None) -> str:
    """"Kelurahan Babakan" for a code of the regency served (the table says kelurahan or desa
    by the 7th digit), else the code itself."""
    if not is_kelurahan_code(code):
        return code or ""
    assert code is not None
    name = _names(code[:4]).get(code)
    if name is None:
        return f"kelurahan {code}"
    return f"{'Desa' if code[6] == '2' else 'Kelurahan'} {name}"


def kelurahan_names(regency: str) -> dict[str, str]:
    """The regency's kelurahan and desa by 10-digit code (read once)."""
    return _names(regency)


def kelurahan_of_regency(code: str | None, regency: str) -> bool:
    """Whether `code` is one of the regency's kelurahan or desa in the Kemendagri table."""
    return is_kelurahan_code(code) and code in _names(regency)


@cache
def _names(regency: str) -> dict[str, str]:
    return wilayah.kelurahan_of(regency)
