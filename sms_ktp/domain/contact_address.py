"""The address of a family without any phone: its kelurahan, written where a phone number stands.

A family that owns no phone is registered with its kelurahan as its contact. Its `family.phone`
holds the kelurahan's address ("kel:" and the 10-digit kelurahan code) instead of a number, so
everything that reaches a family through its phone (the notices of every stage, the pickup SMS,
a correction) reaches the kelurahan without knowing about it, and the phone column stays the one
source of where a family is told: when the family later gets a phone, the number replaces the
address. The outbox's dispatcher hands messages to such an address to the kelurahan's list (and
the kelurahan's own phone) instead of the gateway.

An address never passes `phones.normalise_msisdn`, so no inbound SMS, search by phone or dialogue
can ever be keyed by it.
"""

from __future__ import annotations

PREFIX = "kel:"
_CODE_LENGTH = 10  # a kelurahan or desa code of the Kemendagri table, undotted


def is_kelurahan_code(code: str | None) -> bool:
    return (code is not None and len(code) == _CODE_LENGTH and code.isascii()
            and code.isdigit())


def address_of(kelurahan: str) -> str:
    """The address of a phoneless family whose contact is this kelurahan."""
    if not is_kelurahan_code(kelurahan):
        raise ValueError("a kelurahan code has 10 digits")
    return PREFIX + kelurahan


def kelurahan_in(address: str | None) -> str | None:
    """The kelurahan code of a kelurahan address; None for a phone number (or anything else)."""
    if address is None or not address.startswith(PREFIX):
        return None
    code = address[len(PREFIX):]
    return code if is_kelurahan_code(code) else None
