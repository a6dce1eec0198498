"""The SMS dialogue's refusals as staff read them at the counter (assisted registration): the
same words, so a resident is never told one thing there and another by SMS, without the
sentences that tell a resident what to type or send ("Kirim lagi NIK:", "ketik BATAL"), which
mean nothing to a member of staff filling in a form. A refusal that is only such an instruction
has staff wording of its own."""

from __future__ import annotations

import re

# A sentence that asks the resident to do something by SMS: a verb of sending or typing, or a
# keyword they would type (upper case: "tidak" is also an ordinary word).
_VERB = re.compile(r"\b(?:kirim|ketik|balas|tekan)\b", re.IGNORECASE)
_KEYWORD = re.compile(r"\b(?:BATAL|DAFTAR|STATUS|YA|TIDAK|JADWAL|BANTUAN)\b")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
# Refusals whose SMS wording is all instruction.
STAFF_WORDING = {"error.reason.unknown": "Pilih salah satu alasan cetak."}
FALLBACK = "Periksa lagi isian ini bersama warga."


def for_staff(key: str | None, sms_text: str) -> str:
    """What staff read next to a field refused with the catalogue message `key`, whose SMS
    wording is `sms_text`."""
    if key in STAFF_WORDING:
        return STAFF_WORDING[key]
    kept = [sentence for sentence in _SENTENCE_END.split(sms_text.strip())
            if not (_VERB.search(sentence) or _KEYWORD.search(sentence))]
    return " ".join(kept) or FALLBACK


def tells_what_to_send(text: str) -> bool:
    """Whether `text` still speaks to a resident with a phone in hand."""
    return bool(_VERB.search(text) or _KEYWORD.search(text))
