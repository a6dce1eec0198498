"""Serah berkas: the papers of a KK, akta or KIA application handed in at the kecamatan office in
the slot its reference SMS gave (`papers_visit`). The office's list of the papers it waits for,
today and the next working days, printable like the pickup list; and the two records staff make
when the family comes, on the list and on the application's page: "Berkas lengkap" (the
application moves on to `papers_checked`, with an SMS only where the document's catalogue has
one) and "Berkas kurang: <what>" (the application stays submitted; ONE SMS tells the family what
to bring). Each is confirmed on a page that shows the SMS first, and audited. An operator sees
and records their own kecamatan only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask import render_template, request
from werkzeug.wrappers import Response

from flows.catalogue import messages, render
from flows.dates import say_day
from sms_ktp.applications import document_stages, papers_visit, sms_budget
from sms_ktp.applications.decisions import document_name
from sms_ktp.backoffice.search import ApplicationDetail
from sms_ktp.backoffice.wording import document_words
from sms_ktp.domain.local_time import local_date
from sms_ktp.domain.masking import mask_id, redact
from sms_ktp.domain.pickup_calendar import local
from sms_ktp.domain.stages import Stage
from sms_ktp.web.staff.application_actions import (
    ACTORS,
    Refused,
    confirmation,
    confirmed,
    decide,
    target,
    when,
)
from sms_ktp.web.staff.blueprint import connect, me, now, record, require, runtime, staff
from sms_ktp.web.staff.counter import chosen_office, missing

DAYS = 5  # working days the list shows from the day chosen (today by default)


def what_limit() -> int:
    """The GSM-7 septets "what is missing" may take: `papers.missing` stays one SMS in every
    language with the longest document name and reference (`sms_budget`)."""
    return sms_budget.budget("what")


@dataclass(frozen=True)
class Listed:
    """One application on the office's list."""

    reference: str
    document: str  # the office's words ("Akta Kelahiran")
    nik: str  # masked
    brings: str
    code: str


@dataclass(frozen=True)
class Slot:
    starts_at: datetime | None
    visits: list[list[Listed]]  # the applications of each family's visit


def _brings(case: papers_visit.Waiting) -> str:
    """What the family was told to bring (the document's `bring` SMS, without its heading)."""
    key = f"{case.document}.bring.{case.reason}"
    if key not in messages("id"):
        return "-"
    text = render("id", key, ref=case.reference)
    return text.split(": ", 1)[1] if ": " in text else text


def _slots(cases: list[papers_visit.Waiting]) -> dict[date | None, list[Slot]]:
    """The list by (local) day and slot, a family's visit together."""
    days: dict[date | None, dict[datetime | None, dict[int, list[Listed]]]] = {}
    for case in cases:
        day = local(case.starts_at).date() if case.starts_at is not None else None
        visits = days.setdefault(day, {}).setdefault(case.starts_at, {})
        visits.setdefault(case.visit_id, []).append(Listed(
            case.reference, document_words(case.document), mask_id(case.nik), _brings(case),
            case.code))
    return {day: [Slot(start, list(visits.values())) for start, visits in slots.items()]
            for day, slots in days.items()}


@staff.get("/papers")
@require(*ACTORS)
def papers() -> Any:
    policy = runtime().pickup_policy()
    chosen = chosen_office(policy)
    if chosen is None:
        return missing()
    office, choice = chosen
    today = local_date(now())
    typed = request.args.get("date", "")[:10]
    error = None
    try:
        first = date.fromisoformat(typed) if typed else today
    except ValueError:
        first, error = today, "Tanggal tidak terbaca; ditampilkan mulai hari ini."
    days = ([first] if policy.calendar.is_open(office, first) else []) + \
        policy.calendar.open_days(office, policy.calendar.next_open_day(office, first), DAYS)
    days = days[:DAYS]
    with connect() as connection:
        cases = papers_visit.office_days(connection, office.code, first, days[-1])
    slots = _slots(cases)
    return render_template(
        "staff/papers.html", days=days, slots=slots, held=slots.get(None, []),
        total=len(cases), today=today, first=first, error=error,
        day_words={day: say_day("id", day) for day in days}, what_limit=what_limit(), **choice)


# --- the records ---------------------------------------------------------------------------------
def _case(reference: str) -> papers_visit.Waiting:
    with connect() as connection:
        case = papers_visit.waiting(connection, reference)
    if case is None:
        raise Refused("Permohonan ini tidak sedang menunggu berkas: sudah dicatat atau ditutup.")
    return case


def _slot_words(case: papers_visit.Waiting) -> str:
    office = runtime().pickup_policy().offices.get(case.office)
    place = office.name if office else case.office
    return f"{when(case.starts_at)} di {place}" if case.starts_at else place


@staff.post("/applications/<reference>/papers/complete")
@require(*ACTORS)
def application_papers_complete(reference: str) -> Response:
    def act(found: ApplicationDetail) -> str | Response:
        case = _case(reference)
        name = document_words(case.document)
        told = document_stages.notice(case.document, Stage.PAPERS_CHECKED)
        if not confirmed():
            return confirmation(
                found, title=f"Berkas {name} ref {reference} lengkap?",
                action="staff.application_papers_complete", button="Ya, berkas lengkap",
                effects=[f"Permohonan {name} lanjut ke tahap berkas lengkap dan diproses.",
                         f"Kunjungan serah berkas ({_slot_words(case)}) selesai untuk "
                         "permohonan ini.",
                         "Tercatat di riwayat permohonan dan di log audit."]
                + ([] if told else ["Tanpa SMS ke warga."]),
                sms_key=told[0] if told else None, sms_params=told[1] if told else None)
        rt = runtime()
        with connect() as connection:
            try:
                document_stages.advance(connection, rt.pickup_policy(), rt.settings, reference,
                                        Stage.PAPERS_CHECKED, note=papers_visit.COMPLETE_NOTE,
                                        actor=me().actor, now=now())
            except document_stages.StageRefused as refused:
                raise Refused(refused.words) from None
            record(connection, "application.papers_complete", target(reference),
                   f"berkas {name} lengkap")
        return "Berkas lengkap dicatat." + (" Keluarga diberi tahu lewat SMS." if told else "")

    return decide(reference, act)


@staff.post("/applications/<reference>/papers/missing")
@require(*ACTORS)
def application_papers_missing(reference: str) -> Response:
    def act(found: ApplicationDetail) -> str | Response:
        what = redact(" ".join(request.form.get("what", "").split()))
        if not what:
            raise Refused("Tulis berkas apa yang kurang: warga membacanya di SMS.")
        budget, used = what_limit(), sms_budget.length(what)
        if used > budget:
            raise Refused(f"Terlalu panjang untuk satu SMS: {used} dari paling banyak {budget} "
                          f"karakter GSM-7 ({sms_budget.DOUBLED} dihitung dua).")
        case = _case(reference)
        name = document_words(case.document)
        if not confirmed():
            return confirmation(
                found, title=f"Berkas {name} ref {reference} kurang?",
                action="staff.application_papers_missing",
                button="Ya, kirim SMS berkas kurang", fields={"what": what},
                effects=[f"Permohonan {name} tetap menunggu berkas; warga membawa kekurangannya "
                         "ke kantor kecamatan pada jam kerja.",
                         "Yang kurang tercatat di riwayat permohonan dan di log audit."],
                sms_key="papers.missing",
                sms_params={"what": what, "document": document_name(case.document)})
        rt = runtime()
        with connect() as connection:
            try:
                papers_visit.record_missing(connection, rt.pickup_policy(), reference, what,
                                            me().actor, now())
            except papers_visit.PapersRefused:
                raise Refused("Permohonan ini tidak sedang menunggu berkas.") from None
            record(connection, "application.papers_missing", target(reference),
                   f"berkas {name} kurang: {what}")
        return "Berkas kurang dicatat. Keluarga diberi tahu lewat SMS apa yang perlu dibawa."

    return decide(reference, act)


@staff.context_processor
def _papers_of_application() -> dict[str, Callable[..., Any]]:
    """For the application's page: the papers visit it waits for (read only when asked)."""
    return {"papers_case": _papers_case, "papers_what_limit": what_limit}


def _papers_case(reference: str) -> dict[str, Any] | None:
    with connect() as connection:
        case = papers_visit.waiting(connection, reference)
    if case is None:
        return None
    return {"slot": _slot_words(case), "code": case.code, "document": document_words(
        case.document)}
