"""The life of an application, in the vocabulary of Dukcapil services."""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    SUBMITTED = "submitted"              # received, waiting for staff verification
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


# An application in one of these stages is over: its NIK may apply again.
CLOSED_STAGES = frozenset({Stage.COLLECTED, Stage.CANCELLED, Stage.REJECTED})


def is_active(stage: str) -> bool:
    return Stage(stage) not in CLOSED_STAGES
