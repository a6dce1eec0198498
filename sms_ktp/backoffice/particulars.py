"""What an application says besides its NIK and KK, as staff read it on its page: the reason in
the document's own words, and the answers its dialogue stored (`application.details`): a child's
birth date and sex, a deceased's NIK (masked like every NIK) and date of death. Read field by
field, so a new document that asks for the same things shows them with no change here; a field
not named here is not shown (it may hold personal data)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from flows.catalogue import messages
from sms_ktp.domain.masking import mask_id

STAFF_LANGUAGE = "id"
# The fields a dialogue may store, in the order the page shows them.
FIELDS = {"deceased_nik": "NIK almarhum/almarhumah", "death_date": "Tanggal meninggal",
          "birth_date": "Tanggal lahir anak", "sex": "Jenis kelamin anak"}


def reason_label(document: str) -> str:
    return "Alasan cetak" if document == "ktp" else "Alasan"


def reason_words(document: str, reason: str) -> str:
    """The reason as the family's SMS names it: the document's own word, else the KTP-el's."""
    catalogue = messages(STAFF_LANGUAGE)
    return catalogue.get(f"{document}.reason.{reason}") or catalogue.get(f"reason.{reason}") \
        or reason


def particulars(document: str, details: Mapping[str, Any] | None,
                reveal: bool = False) -> tuple[tuple[str, str], ...]:
    """(label, value) of each stored answer staff may read; a NIK in full only when `reveal`
    (the caller audits it)."""
    if not details:
        return ()
    return tuple((label, _value(document, field, details[field], reveal))
                 for field, label in FIELDS.items() if details.get(field))


def _value(document: str, field: str, value: Any, reveal: bool) -> str:
    if field.endswith("_nik"):
        return str(value) if reveal else mask_id(str(value))
    if field.endswith("_date"):
        return date.fromisoformat(str(value)).strftime("%d-%m-%Y")
    if field == "sex":
        return messages(STAFF_LANGUAGE).get(f"{document}.sex.{value}", str(value))
    return str(value)
