"""Kartu Identitas Anak (KIA): a parent's NIK, the family's KK and the child's birth date (a child
under 17; at 17 the child registers for the KTP-el instead). The KIA is a card: once its papers
are checked it is printed on its own blangko and collected like a KTP-el. From age 5 its papers
include two photos, on a red background for an odd birth year and a blue one for an even year."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from flows.dialogue import Conversation, Invalid, Route, Step
from flows.documents.common import (
    DATE,
    NUMBER,
    DocumentFlow,
    confirm_step,
    dialogue_of,
    finish,
    kk_step,
    masked,
    nik_step,
    read_date,
    shown_date,
    years_between,
)
from flows.ports import ApplicationDraft, Services
from sms_ktp.domain.identity import parse_nik

CODE = "kia"
REASON = "baru"  # a first KIA; a lost or damaged one is replaced at the office
# A KIA is for a child under 17; at 17 the KTP-el (DAFTAR).
ADULT_AGE = 17
# From this age the papers include two 2x3 photos of the child.
PHOTO_AGE = 5


def read_birth(text: str, services: Services, conversation: Conversation) -> str:
    """The child's birth date (ISO): not in the future, after the parent's own birth date (the
    NIK's), and under 17 years ago."""
    today = services.today()
    born = read_date(text, today)
    parent = parse_nik(conversation.answers["nik"], today).birth_date
    if born <= parent:
        raise Invalid("kia.error.before_parent")
    if years_between(born, today) >= ADULT_AGE:
        raise Invalid("kia.error.too_old")
    return born.isoformat()


def summary(answers: Mapping[str, Any]) -> dict[str, Any]:
    return {**masked(answers, "nik", "kk"), "born": shown_date(answers["birth"])}


def draft(conversation: Conversation) -> ApplicationDraft:
    """No key keeps a second KIA out: a family may ask for twins (born the same day) at once."""
    answers = conversation.answers
    return ApplicationDraft(CODE, answers["nik"], answers["kk"], REASON,
                            details={"birth_date": answers["birth"]})


def papers(application: ApplicationDraft, services: Services) -> str:
    """The papers to bring: with two photos from age 5, their background named by the birth
    year (red for odd, blue for even)."""
    born = date.fromisoformat(application.details["birth_date"])
    if years_between(born, services.today()) < PHOTO_AGE:
        return f"{CODE}.bring.{REASON}"
    return f"{CODE}.bring.{REASON}_{'red' if born.year % 2 else 'blue'}"


DIALOGUE = dialogue_of(CODE, [
    nik_step(CODE),
    kk_step(CODE, "birth"),
    Step("birth", "kia.ask.birth", read_birth, (Route("confirm"),)),
    confirm_step(CODE, summary),
], finish(CODE, draft, bring=papers))

FLOW = DocumentFlow(CODE, DIALOGUE, (("nik", NUMBER), ("kk", NUMBER), ("birth", DATE)))
