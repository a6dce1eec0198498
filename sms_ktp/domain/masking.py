"""Masking of personal numbers: UU Adminduk Art. 95A forbids spreading NIK/KK, so no SMS or log
line may carry one in full."""

from __future__ import annotations

import logging
import re

import phonenumbers

from sms_ktp.domain.contact_address import kelurahan_in

_HIDDEN = "***"
_KEEP_PHONE_DIGITS = 3

# A digit, then at least nine more, each optionally after one separator (space, dot, dash or an
# invisible character), so "3271 0145 0190 0001" and "0812-3456-7890" are caught as one run.
_SEPARATOR = r"[ .\-\u00a0\u2010-\u2015\u2212\u200b-\u200d\u2060\ufeff]"
_LONG_NUMBER = re.compile(rf"\d(?:{_SEPARATOR}?\d){{9,}}")


def mask_id(value: str | None) -> str:
    """Keep only the last four characters: enough for people to tell numbers apart. None (a
    number erased, `sms_ktp.privacy.retention`) is as hidden as a short one."""
    if value is None or len(value) < 4:
        return _HIDDEN
    return _HIDDEN + value[-4:]


def mask_phone(e164: str) -> str:
    """Keep the country prefix and the last three digits, hiding even how many digits there are
    (the console gateway writes the same form); never raises, since it runs in logging. A
    family without a phone is reached through its kelurahan, whose code is no secret."""
    kelurahan = kelurahan_in(e164)
    if kelurahan is not None:
        return f"kelurahan {kelurahan}"
    digits = "".join(c for c in e164 if c.isdigit())
    prefix = ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and number.country_code:
        country = str(number.country_code)
        if digits.startswith(country):
            prefix = "+" + country
            digits = digits[len(country) :]
    if len(digits) <= _KEEP_PHONE_DIGITS:
        return prefix + _HIDDEN
    return prefix + _HIDDEN + digits[-_KEEP_PHONE_DIGITS:]


def _mask_match(match: re.Match[str]) -> str:
    digits = [c for c in match.group() if c.isdigit()]
    return _HIDDEN + "".join(digits[-4:])


def redact(text: str) -> str:
    """Last line of defence for logs: hide every run of 10+ digits (NIK, KK, phone numbers).

    Shorter numbers (9-digit references, times, counts) stay readable. Numbers written next to each
    other with one separator count as one run, so they may be over-redacted; leaking is worse.
    """
    return _LONG_NUMBER.sub(_mask_match, text)


class _Redacting(logging.Filter):
    """A record's text redacted before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a broken format: logging reports it itself
            return True
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


_REDACTING = _Redacting()


def redact_logger(name: str) -> None:
    """Redact every record of the logger `name`: for libraries that log what they are handed,
    which our code cannot mask first (the database engine's result rows at DEBUG, the web
    server's request lines with their query string). Installing it twice changes nothing."""
    logger = logging.getLogger(name)
    if _REDACTING not in logger.filters:
        logger.addFilter(_REDACTING)
