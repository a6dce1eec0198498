"""Application reference numbers residents quote by SMS.

Nine digits typed on a numeric keypad: eight random digits (no leading zero, which people drop)
and a Damm check digit, which catches every single-digit typo and every adjacent swap.
"""

from __future__ import annotations

import random
import re
import secrets

from sms_ktp.domain.identity import digits_only

_RANDOM_DIGITS = 8
_REFERENCE = re.compile(r"[1-9][0-9]{8}")

# Damm's weakly totally anti-symmetric quasigroup of order 10 (zero diagonal).
_DAMM_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)


def _damm(digits: str) -> int:
    """Interim Damm digit: the check digit for a payload, 0 for a payload plus its check digit."""
    interim = 0
    for char in digits:
        interim = _DAMM_TABLE[interim][int(char)]
    return interim


def new_reference(rng: random.Random | None = None) -> str:
    """Draw a new reference; pass a seeded `rng` only in tests, real ones must be unguessable."""
    below = secrets.randbelow if rng is None else rng.randrange
    payload = str(1 + below(9)) + "".join(str(below(10)) for _ in range(_RANDOM_DIGITS - 1))
    return payload + str(_damm(payload))


def normalise_reference(text: str) -> str | None:
    """Return the 9 digits of a well-typed reference, or None so the caller can ask again."""
    value = digits_only(text)
    if not _REFERENCE.fullmatch(value) or _damm(value) != 0:
        return None
    return value
