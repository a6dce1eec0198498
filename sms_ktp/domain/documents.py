"""The population documents the service takes applications for, as data: which ends as a card
and which as a signed PDF, the stages each goes through, and which blank-card stock a card is
printed on. Adding a document adds an entry here and its dialogue and texts under
`flows/documents/`; nothing else of the engine names a document."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from sms_ktp.domain.stages import Stage


class Output(StrEnum):
    CARD = "card"  # printed on a blangko, collected at the office (or posted)
    PDF = "pdf"    # signed electronically (TTE), downloaded with a link and a PIN or printed


@dataclass(frozen=True)
class Document:
    code: str  # as stored in `application.document`, and the CLI's word
    output: Output
    # The stages of a complete application, in order; `rejected` and `cancelled` may end any
    # open one. Other stages a card may pass through (penunggalan's data ganda, a missed
    # pickup, delivery by post) are the print and pickup machinery's, not steps of the path.
    path: tuple[Stage, ...]
    card: str | None = None  # the blank-card stock a card is printed on (`blangko --card`)
    # The reference SMS books a visit to hand in the papers at the kecamatan office.
    papers_visit: bool = True
    # Whose NIK the application carries, as staff pages name it ("NIK orang tua"); "": the
    # card holder's own.
    applicant: str = ""

    def next_stage(self, stage: str) -> Stage | None:
        """The stage after `stage` on the path (None at its end or off it)."""
        try:
            at = self.path.index(Stage(stage))
        except ValueError:
            return None
        return self.path[at + 1] if at + 1 < len(self.path) else None


PDF_PATH = (Stage.SUBMITTED, Stage.PAPERS_CHECKED, Stage.SIGNED, Stage.READY, Stage.COLLECTED)

KTP = Document("ktp", Output.CARD,
               (Stage.SUBMITTED, Stage.PENUNGGALAN, Stage.PRINT_QUEUE, Stage.PRINTED,
                Stage.PICKUP_SCHEDULED, Stage.COLLECTED),
               card="ktp", papers_visit=False)
KK = Document("kk", Output.PDF, PDF_PATH, applicant="pemohon")
AKTA_LAHIR = Document("akta_lahir", Output.PDF, PDF_PATH, applicant="pelapor")
AKTA_MATI = Document("akta_mati", Output.PDF, PDF_PATH, applicant="pelapor")
KIA = Document("kia", Output.CARD,
               (Stage.SUBMITTED, Stage.PAPERS_CHECKED, Stage.PRINT_QUEUE, Stage.PRINTED,
                Stage.PICKUP_SCHEDULED, Stage.COLLECTED),
               card="kia", applicant="orang tua")

DOCUMENTS: dict[str, Document] = {d.code: d for d in (KTP, KK, AKTA_LAHIR, AKTA_MATI, KIA)}
CARDS: tuple[str, ...] = tuple(dict.fromkeys(d.card for d in DOCUMENTS.values() if d.card))
ENDING_STAGES = (Stage.REJECTED, Stage.CANCELLED)

_enabled: tuple[str, ...] = tuple(DOCUMENTS)


class UnknownDocument(ValueError):
    pass


def document(code: str) -> Document:
    try:
        return DOCUMENTS[code]
    except KeyError:
        raise UnknownDocument(f"unknown document {code!r}: one of {', '.join(DOCUMENTS)}") \
            from None


def card_of(code: str) -> str | None:
    """The blank-card stock an application of this document is printed on (None: none)."""
    found = DOCUMENTS.get(code)
    return found.card if found is not None else None


def configure(codes: Iterable[str]) -> None:
    """The documents the regency offers (`[services] enabled`), in the catalogue's order."""
    global _enabled
    wanted = set(codes)
    for code in wanted:
        document(code)
    _enabled = tuple(code for code in DOCUMENTS if code in wanted)


def enabled() -> tuple[str, ...]:
    return _enabled


def is_enabled(code: str) -> bool:
    return code in _enabled
