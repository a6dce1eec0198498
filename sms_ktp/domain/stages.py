"""The life of an application, in the vocabulary of Dukcapil services."""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    SUBMITTED = "submitted"              # received, waiting for staff verification
    # Another document's papers checked at the counter (`sms_ktp.domain.documents`); a PDF is
    # then signed electronically (TTE) and ready to download.
    PAPERS_CHECKED = "papers_checked"
    SIGNED = "signed"
    READY = "ready"
    PENUNGGALAN = "penunggalan"          # waiting for de-duplication at Kemendagri
    PRINT_READY = "print_ready"          # PRR: Print Ready Record
    DUPLICATE = "duplicate"              # DUPLICATE_RECORD: cannot be printed, resident must visit
    PRINT_QUEUE = "print_queue"          # waiting for blangko
    PRINTED = "printed"
    PICKUP_SCHEDULED = "pickup_scheduled"
    COLLECTED = "collected"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    MISSED_PICKUP = "missed_pickup"
    # Delivery by post instead of a visit (`[delivery] post`): asked by the family (KIRIM),
    # handed to the courier with a tracking number, delivered to the address on the KK.
    POST_REQUESTED = "post_requested"
    POSTED = "posted"
    DELIVERED = "delivered"


# An application in one of these stages is over: its NIK may apply again.
CLOSED_STAGES = frozenset({Stage.COLLECTED, Stage.CANCELLED, Stage.REJECTED, Stage.DELIVERED})


def is_active(stage: str) -> bool:
    return Stage(stage) not in CLOSED_STAGES
