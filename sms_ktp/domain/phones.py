"""Phone numbers of residents, always kept as E.164 so one family has one comparable number."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneNumberType

_DEFAULT_REGION = "ID"
_MOBILE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
# Only digits, an optional leading "+" and common separators: the library would otherwise turn
# letters into keypad digits, making sender names such as "TELKOMSEL" look like numbers.
_PHONE_LIKE = re.compile(r"\+?[0-9][0-9 ().\-]*")


@lru_cache(maxsize=65_536)
def normalise_msisdn(raw: str) -> str | None:
    """E.164 for a valid mobile number, else None (short codes, sender names, landlines, junk).

    Landlines are refused because the service must be able to send SMS back to the number.
    Cached: every message of a session or a dialogue comes from the same few numbers, and the
    parse is the slowest step of reading a request.
    """
    text = unicodedata.normalize("NFKC", raw).strip()
    if not _PHONE_LIKE.fullmatch(text):
        return None
    try:
        number = phonenumbers.parse(text, _DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    if phonenumbers.number_type(number) not in _MOBILE_TYPES:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
