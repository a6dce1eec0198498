"""Concatenated SMS as gammu-smsd's tables hold them: one row a part, tied by a User Data Header.

Outbound, a text longer than one SMS is cut into parts the way gammu-smsd-inject cuts it (153
GSM-7 septets or 67 UCS-2 units a part, behind an `050003RRNNSS` header). Inbound, gammu stores
every part it received as a row of its own; `join_parts` puts the parts of one message back
together. Pure functions, so the rules are tested without a database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gsm7.encoding import GSM7_PART, GSM7_SINGLE, UCS2_PART, UCS2_SINGLE, septets

DEFAULT_CODING = "Default_No_Compression"
UNICODE_CODING = "Unicode_No_Compression"
# gammu-smsd reads at most this many parts of one outbox message (GSM_MAX_MULTI_SMS).
MAX_PARTS = 50

# Information elements of a concatenation header: 8-bit and 16-bit message reference.
_CONCAT_8BIT, _CONCAT_16BIT = 0x00, 0x08


@dataclass(frozen=True)
class OutboundParts:
    """A text cut for gammu's outbox: its coding and the text of each part, in order."""

    coding: str
    texts: tuple[str, ...]

    @property
    def multipart(self) -> bool:
        return len(self.texts) > 1


def split_text(text: str) -> OutboundParts:
    """Cut `text` into SMS parts without splitting a GSM-7 escape or a UTF-16 surrogate pair.

    A single SMS holds 160 septets (GSM-7) or 70 UTF-16 units (UCS-2); a part of a longer one
    holds 153 or 67, the header taking the rest.
    """
    length = septets(text)
    if length is not None:
        single, part, coding = GSM7_SINGLE, GSM7_PART, DEFAULT_CODING
        cost = _septet_cost
    else:
        length = _utf16_units(text)
        single, part, coding = UCS2_SINGLE, UCS2_PART, UNICODE_CODING
        cost = _utf16_cost
    if length <= single:
        return OutboundParts(coding, (text,))
    texts: list[str] = []
    current: list[str] = []
    used = 0
    for char in text:
        size = cost(char)
        if used + size > part:
            texts.append("".join(current))
            current, used = [], 0
        current.append(char)
        used += size
    if current:
        texts.append("".join(current))
    return OutboundParts(coding, tuple(texts))


def concat_udh(reference: int, total: int, position: int) -> str:
    """The header gammu-smsd-inject writes for part `position` of `total` (8-bit reference)."""
    return f"050003{reference % 256:02X}{total:02X}{position:02X}"


def _septet_cost(char: str) -> int:
    # Only called on GSM-7 text: 1, or 2 for the characters sent as escape + character.
    return septets(char) or 1


def _utf16_cost(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class Concatenation:
    """Where one part sits in its message: reference, number of parts, position (from 1)."""

    reference: int
    total: int
    position: int
    wide: bool = False  # 16-bit reference


def parse_udh(udh: str | None) -> Concatenation | None:
    """The concatenation element of a hex User Data Header, or None (no header, another kind of
    header, or one that does not parse: such a row is a message of its own)."""
    if not udh:
        return None
    try:
        data = bytes.fromhex(udh)
    except ValueError:
        return None
    if not data or data[0] + 1 > len(data):
        return None
    index, end = 1, data[0] + 1
    while index + 2 <= end:
        element, size = data[index], data[index + 1]
        value = data[index + 2 : index + 2 + size]
        if len(value) != size:
            return None
        if element == _CONCAT_8BIT and size == 3:
            return _concatenation(value[0], value[1], value[2], wide=False)
        if element == _CONCAT_16BIT and size == 4:
            return _concatenation(value[0] << 8 | value[1], value[2], value[3], wide=True)
        index += 2 + size
    return None


def _concatenation(reference: int, total: int, position: int, wide: bool) -> Concatenation | None:
    if total < 1 or not 1 <= position <= total:
        return None
    return Concatenation(reference, total, position, wide)


@dataclass(frozen=True)
class InboxPart:
    """One gammu inbox row, as much of it as joining needs."""

    id: int
    sender: str
    recipient: str
    text: str
    udh: str | None


@dataclass(frozen=True)
class JoinedMessage:
    """The parts of one message (in order) or a lone row; `complete` is False for a
    concatenated message some of whose parts are not there (yet)."""

    parts: tuple[InboxPart, ...]
    complete: bool
    extra_ids: tuple[int, ...] = ()  # the same part received twice: handled with the message

    @property
    def first(self) -> InboxPart:
        return self.parts[0]

    @property
    def text(self) -> str:
        return "".join(part.text for part in self.parts)

    @property
    def ids(self) -> tuple[int, ...]:
        return tuple(part.id for part in self.parts) + self.extra_ids


def join_parts(rows: Sequence[InboxPart]) -> list[JoinedMessage]:
    """Group inbox rows into messages, in the order their first row came.

    Parts belong together when they come from the same sender to the same modem under the same
    reference and count; a part received twice counts once.
    """
    groups: dict[tuple[object, ...], list[tuple[Concatenation, InboxPart]]] = {}
    order: list[tuple[object, ...]] = []
    for row in rows:
        concat = parse_udh(row.udh)
        if concat is None or concat.total == 1:
            key: tuple[object, ...] = ("single", row.id)
            concat = Concatenation(0, 1, 1)
        else:
            key = (row.sender, row.recipient, concat.wide, concat.reference, concat.total)
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append((concat, row))
    messages = []
    for key in order:
        members = groups[key]
        by_position: dict[int, InboxPart] = {}
        extra: list[int] = []
        for concat, row in members:
            if concat.position in by_position:
                extra.append(row.id)
            else:
                by_position[concat.position] = row
        total = members[0][0].total
        parts = tuple(by_position[position] for position in sorted(by_position))
        messages.append(JoinedMessage(parts, len(parts) == total, tuple(extra)))
    return messages
