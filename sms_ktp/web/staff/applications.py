"""Permohonan: finding an application (by reference, NIK or the family's phone), reading its
timeline, and the decisions staff take on it at the counter.

Every decision is a POST with the CSRF token, checked on the server (role and office), audited,
and answered with a redirect back to the application (303) and a flash message. An operator
works only on applications of their own kecamatan: another office's application is "not found"
(404), on the page and on every action, so its existence is not disclosed either. Full NIK and
KK numbers appear only through the audited reveal.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from flows.catalogue import messages
from flows.dates import say_day, say_time
from sms_ktp.applications import decisions, pickup, sms_budget
from sms_ktp.backoffice.search import ApplicationDetail, Key, Query, SearchResult, detail, search
from sms_ktp.backoffice.staff import Role
from sms_ktp.domain.identity import digits_only
from sms_ktp.domain.masking import redact
from sms_ktp.domain.pickup_calendar import local
from sms_ktp.web.staff.blueprint import (
    allows_office,
    connect,
    me,
    record,
    require,
    runtime,
    staff,
)
from sms_ktp.web.staff.paging import requested_page

NOTE_LIMIT = 200  # a cancellation note: a line in the timeline
CHANNELS = {"sms": "SMS", "ussd": "USSD", "staff": "Petugas"}
_ACTORS = (Role.ADMIN, Role.OPERATOR)  # who may decide; helpers only look applications up


@staff.route("/applications", methods=["GET", "POST"])
@require(Role.ADMIN, Role.OPERATOR, Role.HELPER)
def applications() -> str:
    # The search form posts: a NIK typed into it never lands in a URL (browser history, a
    # proxy's access log). A reference or phone in `?q=` still works for links.
    text = (request.form if request.method == "POST" else request.args).get("q", "")[:60]
    page = requested_page()
    person = me()
    if person.role is Role.HELPER and not text.strip():
        # A kelurahan helper looks up one resident's status; browsing the city's newest
        # applications is not their job.
        result = SearchResult(Query(Key.RECENT), [])
    else:
        office = person.office if person.role is Role.OPERATOR else None
        with connect() as connection:
            result = search(connection, text, office=office, page=page)
    # A typed NIK is never shown back in full, not even in the search box.
    typed = "" if result.query.key is Key.NIK else text
    return render_template("staff/applications.html", result=result, typed=typed, page=page,
                           browse=person.role is not Role.HELPER, **_labels())


@staff.get("/applications/<reference>")
@require(Role.ADMIN, Role.OPERATOR, Role.HELPER)
def application(reference: str) -> Any:
    with connect() as connection:
        found = _visible(detail(connection, reference))
    if found is None:
        return _missing(reference)
    return _page(found)


@staff.post("/applications/<reference>/reveal")
@require(*_ACTORS)
def application_reveal(reference: str) -> Any:
    """The full NIK and KK, for this one page: recorded in the audit log first."""
    with connect() as connection:
        found = _visible(detail(connection, reference, reveal=True))
        if found is not None:
            record(connection, "application.reveal_nik", _target(reference),
                   "NIK dan KK lengkap ditampilkan")
    if found is None:
        return _missing(reference)
    response = _page(found)
    response.headers["Cache-Control"] = "no-store"
    return response


@staff.post("/applications/<reference>/reject")
@require(*_ACTORS)
def application_reject(reference: str) -> Response:
    def act(found: ApplicationDetail) -> str:
        reason = " ".join(request.form.get("reason", "").split())
        if not reason:
            raise _Refused("Tulis alasan penolakan: warga membacanya di SMS.")
        budget, used = decisions.reason_budget(), sms_budget.length(redact(reason))
        if used > budget:
            raise _Refused(f"Alasan terlalu panjang untuk satu SMS: {used} dari paling banyak "
                           f"{budget} karakter GSM-7 ({sms_budget.DOUBLED} dihitung dua).")
        _stage_allows(found, "reject", "Permohonan yang sudah dicetak atau ditutup tidak bisa "
                                       "ditolak.")
        runtime_ = runtime()
        try:
            decisions.reject(runtime_.db, runtime_.clock, runtime_.quiet_hours, reference,
                             reason, me().actor)
        except decisions.DecisionRefused:
            raise _Refused("Permohonan ini sudah ditutup; tidak bisa ditolak.") from None
        _audit("application.reject", reference, f"alasan: {reason}")
        return "Permohonan ditolak. Warga diberi tahu alasannya lewat SMS."

    return _decide(reference, act)


@staff.post("/applications/<reference>/cancel")
@require(*_ACTORS)
def application_cancel(reference: str) -> Response:
    def act(found: ApplicationDetail) -> str:
        note = " ".join(request.form.get("note", "").split())
        if not note:
            raise _Refused("Tulis catatan pembatalan (untuk riwayat permohonan).")
        if len(note) > NOTE_LIMIT:
            raise _Refused(f"Catatan paling banyak {NOTE_LIMIT} karakter.")
        _stage_allows(found, "cancel", "Permohonan ini sudah ditutup.")
        runtime_ = runtime()
        try:
            decisions.cancel(runtime_.db, runtime_.clock, runtime_.quiet_hours, reference, note,
                             me().actor, runtime_.pickup_policy())
        except decisions.DecisionRefused:
            raise _Refused("Permohonan ini sudah ditutup.") from None
        _audit("application.cancel", reference, f"catatan: {note}")
        return "Permohonan dibatalkan. Warga diberi tahu lewat SMS."

    return _decide(reference, act)


@staff.post("/applications/<reference>/reschedule")
@require(*_ACTORS)
def application_reschedule(reference: str) -> Response:
    def act(found: ApplicationDetail) -> str:
        _stage_allows(found, "reschedule", "Tidak ada jadwal ambil yang bisa dipindah.")
        runtime_ = runtime()
        try:
            start = pickup.reschedule_by_staff(runtime_.db, runtime_.clock,
                                               runtime_.pickup_policy(), reference, me().actor)
        except pickup.MoveRefused as refused:
            raise _Refused("Belum ada slot kosong di kantor ini; jadwal tetap." if refused.key
                           == "pickup.full" else "Tidak ada jadwal ambil yang bisa dipindah."
                           ) from None
        shown = _when(start)
        _audit("application.reschedule", reference, f"jadwal baru {shown}")
        return f"Jadwal ambil dipindah ke {shown}. Warga diberi tahu lewat SMS."

    return _decide(reference, act)


@staff.post("/applications/<reference>/collect")
@require(*_ACTORS)
def application_collect(reference: str) -> Response:
    def act(found: ApplicationDetail) -> str:
        _stage_allows(found, "collect", "KTP-el ini tidak sedang menunggu diambil.")
        code = digits_only(request.form.get("code", "")).upper()[:20]
        if not code:
            raise _Refused("Tulis kode ambil yang ada di SMS warga.")
        # `verify` finds a card by its code alone: the code must be this application's, or
        # another resident's card would be marked collected.
        if not found.accepts(code):
            raise _Refused(f"Kode ambil {code} tidak cocok dengan permohonan ini. Minta warga "
                           "menunjukkan SMS jadwal ambil; KTP-el belum diserahkan.")
        # A family visit hands over the cards ticked (all of them unless staff untick a member
        # who did not come: that card gets a visit of its own, with an SMS).
        chosen = set(request.form.getlist("cards"))
        if len(found.visit_cards) <= 1:
            chosen = {reference}  # one card: no list to tick
        elif not chosen:
            raise _Refused("Centang KTP-el yang diserahkan; belum ada yang diserahkan.")
        if not chosen <= {card for card, _ in found.visit_cards}:
            raise _Refused("Pilih KTP-el dari kunjungan ini saja.")
        runtime_ = runtime()
        try:
            handover = pickup.verify(runtime_.db, runtime_.clock, code, me().actor,
                                     only=None if chosen >= {c for c, _ in found.visit_cards}
                                     else chosen)
        except pickup.VerifyError:
            raise _Refused("Kode ambil ini sudah dipakai atau tidak berlaku lagi.") from None
        for handed in handover.handed:
            _audit("application.collect", handed, "kode ambil cocok")
        if handover.kept:
            return (f"{len(handover.handed)} KTP-el tercatat sudah diambil; "
                    f"{len(handover.kept)} lainnya dijadwalkan lagi (warga menerima SMS).")
        if len(handover.handed) > 1:
            return f"{len(handover.handed)} KTP-el keluarga ini tercatat sudah diambil."
        return "KTP-el tercatat sudah diambil."

    return _decide(reference, act)


class _Refused(Exception):
    """A decision not taken, with the reason staff read (nothing has changed)."""


def _decide(reference: str, act: Callable[[ApplicationDetail], str]) -> Response:
    """Run one decision on a visible application, then back to its page with the outcome."""
    with connect() as connection:
        found = _visible(detail(connection, reference))
    if found is None:
        return _missing(reference)
    try:
        flash(act(found), "ok")
    except _Refused as refused:
        flash(str(refused), "error")
    return redirect(url_for("staff.application", reference=reference), code=303)


def _stage_allows(found: ApplicationDetail, action: str, otherwise: str) -> None:
    if action not in found.actions:
        raise _Refused(otherwise)


def _audit(action: str, reference: str, detail_: str) -> None:
    """The audit entry of a decision the domain function has already committed in its own
    transaction: written right after it."""
    with connect() as connection:
        record(connection, action, _target(reference), detail_)


def _target(reference: str) -> str:
    return f"application {reference}"


def _visible(found: ApplicationDetail | None) -> ApplicationDetail | None:
    """The application if the signed-in member of staff may see it (an operator: their own
    kecamatan only)."""
    if found is None or not allows_office(found.kecamatan_code):
        return None
    return found


def _page(found: ApplicationDetail) -> Response:
    person = me()
    can_act = person.role in _ACTORS
    html = render_template("staff/application.html", app=found, can_act=can_act,
                           reason_limit=decisions.reason_budget(), note_limit=NOTE_LIMIT,
                           **_labels())
    return Response(html, mimetype="text/html")


def _missing(reference: str) -> Response:
    html = render_template("staff/application.html", app=None, missing=reference[:20],
                           **_labels())
    return Response(html, status=404, mimetype="text/html")


def _labels() -> dict[str, Any]:
    catalogue = messages("id")
    offices = runtime().pickup_policy().offices
    return {"channels": CHANNELS,
            "reasons": {key.removeprefix("reason."): text for key, text in catalogue.items()
                        if key.startswith("reason.")},
            "offices": {code: office.name for code, office in offices.items()}}


def _when(moment: datetime) -> str:
    """A slot as the resident's SMS words it: "Selasa, 1 Desember 2026, 08.30 WIB"."""
    shown = local(moment)
    return f"{say_day('id', shown.date())}, {say_time('id', shown)}"
