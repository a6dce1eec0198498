"""Kartu Keluarga: the applicant's NIK (17 or older for a split KK), the family's KK and the
reason; the KK is then signed electronically (TTE) and issued as a PDF."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flows.catalogue import Msg
from flows.dialogue import Conversation, Invalid, Route, Step
from flows.documents.common import (
    NUMBER,
    WORDS,
    DocumentFlow,
    age_on,
    applicant_nik,
    choices_of,
    confirm_step,
    dialogue_of,
    finish,
    kk_step,
    masked,
    read_choice,
    refuse_open,
)
from flows.ports import ApplicationDraft, Services

CODE = "kk"
REASONS = ("tambah", "kurang", "pisah", "ubah", "hilang", "rusak")
# Split KK: the applicant must be 17 or older (or married: at the office, not by SMS).
SPLIT_AGE = 17
REASON_WORDS = {
    "TAMBAH": "tambah", "BERTAMBAH": "tambah", "ANGGOTA BERTAMBAH": "tambah",
    "TAMBAH ANGGOTA": "tambah", "LAHIR": "tambah", "KELAHIRAN": "tambah", "NIKAH": "tambah",
    "MENIKAH": "tambah", "DATANG": "tambah", "ADDED": "tambah", "ADD": "tambah",
    "KURANG": "kurang", "BERKURANG": "kurang", "ANGGOTA BERKURANG": "kurang",
    "MENINGGAL": "kurang", "KEMATIAN": "kurang", "PINDAH": "kurang", "REMOVED": "kurang",
    "PISAH": "pisah", "PISAH KK": "pisah", "PECAH": "pisah", "PECAH KK": "pisah",
    "KK BARU": "pisah", "SPLIT": "pisah", "MISAH": "pisah", "PAMISAH": "pisah",
    "UBAH": "ubah", "PERUBAHAN": "ubah", "PERUBAHAN DATA": "ubah", "UBAH DATA": "ubah",
    "GANTI DATA": "ubah", "CHANGE": "ubah", "PAROBIHAN": "ubah", "EWAH": "ubah",
    "OWAH": "ubah",
    "HILANG": "hilang", "LOST": "hilang", "LEUNGIT": "hilang", "ILANG": "hilang",
    "ICAL": "hilang",
    "RUSAK": "rusak", "DAMAGED": "rusak", "SOBEK": "rusak", "RUKSAK": "rusak",
    "RISAK": "rusak",
}


def active_key(nik: str) -> str:
    """One open KK application per applicant."""
    return f"{CODE}:{nik}"


def read_nik(text: str, services: Services, conversation: Conversation) -> str:
    nik = applicant_nik(text, services)
    refuse_open(CODE, active_key(nik), nik, services, conversation)
    return nik


_read_reason = read_choice(REASON_WORDS, REASONS, "kk.error.reason")


def read_reason(text: str, services: Services, conversation: Conversation) -> str:
    reason = _read_reason(text, services, conversation)
    if reason == "pisah":
        age = age_on(conversation.answers["nik"], services.today())
        if age < SPLIT_AGE:
            raise Invalid("kk.error.too_young", age=age)
    return reason


def summary(answers: Mapping[str, Any]) -> dict[str, Any]:
    return {**masked(answers, "nik", "kk"), "reason": Msg(f"kk.reason.{answers['reason']}")}


def draft(conversation: Conversation) -> ApplicationDraft:
    answers = conversation.answers
    return ApplicationDraft(CODE, answers["nik"], answers["kk"], answers["reason"],
                            active_key=active_key(answers["nik"]))


DIALOGUE = dialogue_of(CODE, [
    Step("nik", "kk.ask.nik", read_nik, (Route("kk"),)),
    kk_step(CODE, "reason"),
    Step("reason", "kk.ask.reason", read_reason, (Route("confirm"),),
         choices=choices_of(CODE, "reason", REASONS)),
    confirm_step(CODE, summary),
], finish(CODE, draft))

# `KK 3271...`: the number the keyword labels is the KK.
FLOW = DocumentFlow(CODE, DIALOGUE, (("nik", NUMBER), ("kk", NUMBER), ("reason", WORDS)),
                    keyword_names="kk")
