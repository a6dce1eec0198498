"""Loket: one search box for whatever the resident brings (the pickup code on their phone, a
reference, a NIK, a KK, the family's phone) that opens the family's visit on one screen, the
hand-over of its cards after a confirmation that says what will happen. Moving a visit to a slot
staff choose is `pickup_actions`; the day's list of cards, `pickup_list`.

The search is a POST (a NIK never lands in a URL) answered with a redirect to a page named by a
harmless number (the visit's or the family's id), so the Back button never asks to send a form
again; so is the hand-over's first step, whose confirmation is a page of its own.

A signed PDF's code (8 letters, `document_files`), quoted by a family at a kelurahan or
kecamatan office, opens its application's print page instead (`document_print`); a kelurahan
helper's counter takes only that code. The code of a papers visit (the SMS of a KK, akta or KIA
application names one, `papers_visit`) opens that visit: the applications whose papers are to
be handed in, each linked to its page, where the papers are recorded. A code already used is
told as used, with when, rather than as unknown.

The code is never shown to staff. When they type it (in the search box or on the visit's
page), the session keeps a proof of it instead: a keyed hash of the visit and the code, valid
for `PROOF_MINUTES`, which the hand-over checks against the visit's open code under the visit's
lock. A member of staff reading their own cookie learns nothing of the code, and a code used or
given up meanwhile hands nothing over.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import current_app, flash, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from flows.catalogue import messages
from sms_ktp.applications import pickup
from sms_ktp.backoffice import counter as desk
from sms_ktp.backoffice.search import CodeVisit, kecamatan_name, visit_by_id
from sms_ktp.backoffice.staff import Role
from sms_ktp.domain.pickup_calendar import Office
from sms_ktp.web.staff.application_actions import when
from sms_ktp.web.staff.blueprint import connect, me, now, record, require, runtime, staff
from sms_ktp.web.staff.document_print import open_by_code

ROLES = (Role.ADMIN, Role.OPERATOR)  # who hands cards over at the counter
SEARCH_ROLES = (*ROLES, Role.HELPER)  # a helper prints a signed PDF whose code they are given
PROOF_MINUTES = 30  # a family at the counter: the code typed holds while it is served
_PROOF = "counter_proof"


def office_of_staff() -> str | None:
    """The office whose visits the signed-in member of staff may see (None: every office)."""
    person = me()
    return person.office if person.role is Role.OPERATOR else None


@staff.get("/counter")
@require(*SEARCH_ROLES)
def counter() -> Any:
    """The search box; under it the families a search matched (`keluarga`), or the papers
    visit a code named (`berkas`: open, the applications whose papers are to be handed in;
    closed, when its code was used), so that the next family is searched from the same page."""
    families = []
    wanted = [int(value) for value in request.args.getlist("keluarga")[:desk.FAMILY_LIMIT]
              if value.isdigit() and len(value) < 12 and me().role in ROLES]
    asked = request.args.get("berkas", "")
    papers: CodeVisit | None = None
    with connect() as connection:
        for family_id in wanted:
            found = counter_family_view(connection, family_id)
            if found is not None:
                families.append(found)
        if asked.isdigit() and len(asked) < 12 and me().role in ROLES:
            papers = visit_by_id(connection, int(asked), office=office_of_staff())
            if papers is None or not papers.papers:
                return missing()
    extra = {"when": when, "now": now(), **labels()} if papers is not None else {}
    return render_template("staff/counter.html", families=families, papers=papers, **extra)


def counter_family_view(connection: Any, family_id: int) -> desk.FamilyView | None:
    return desk.family(connection, family_id, office_of_staff())


@staff.post("/counter")
@require(*SEARCH_ROLES)
def counter_search() -> Response:
    query = desk.parse_counter_query(request.form.get("q", "")[:200])
    if query.kind == "link":
        return open_by_code(query.value)
    if me().role not in ROLES:
        flash("Ketik kode dokumen (8 huruf/angka dari SMS warga) untuk mencetak KK atau akta "
              "warga.", "error")
        return _back_to_search()
    if query.kind in ("empty", "unknown"):
        flash("Ketik kode dari SMS warga (6 huruf/angka: ambil KTP-el atau serah berkas), "
              "nomor ref (9 angka), NIK atau nomor KK (16 angka), atau nomor HP keluarga.",
              "error")
        return _back_to_search()
    with connect() as connection:
        found = desk.find(connection, query, office_of_staff())
        if query.kind == "number":
            # A person looked up by an identity number: who did, and when (UU Adminduk 95A).
            record(connection, "counter.search", "", f"cari dengan NIK/KK {query.shown}")
    if found.visit_id is not None:
        if query.kind == "code":
            _remember_code(found.visit_id, query.value)
        return redirect(url_for("staff.counter_visit", visit_id=found.visit_id), code=303)
    if found.code_visit is not None and found.code_visit.papers:
        return redirect(url_for("staff.counter", berkas=found.code_visit.id), code=303)
    if found.used_code:
        flash(_used_pickup(found.code_visit), "error")
    if len(found.family_ids) == 1:
        return redirect(url_for("staff.counter_family", family_id=found.family_ids[0]),
                        code=303)
    if found.family_ids:
        return redirect(url_for("staff.counter", keluarga=list(found.family_ids)), code=303)
    where = " di kecamatan Anda" if office_of_staff() else ""
    if query.kind == "code":
        flash(f"Tidak ditemukan{where}: tidak ada kunjungan dengan kode ini. Periksa lagi huruf "
              "dan angkanya di SMS warga, atau cari dengan nomor ref, NIK atau nomor HP.",
              "error")
    else:
        flash(f"Tidak ditemukan{where}: {query.shown}. Periksa lagi yang diketik, atau cari "
              "dengan nomor lain yang dibawa warga.", "error")
    return _back_to_search()


def _used_pickup(found: CodeVisit | None) -> str:
    """What a pickup code no longer open says: used (when the cards were handed over), given
    up for the post (when the family asked), or closed otherwise."""
    at = f" {when(found.closed_at)}" if found is not None and found.closed_at else ""
    if found is not None and found.closed == "used":
        return (f"Kode ambil ini sudah dipakai: KTP-el kunjungan itu diserahkan{at}. Berikut "
                "data keluarganya.")
    if found is not None and found.closed == "post":
        return (f"Kode ambil ini tidak berlaku lagi: keluarga meminta KTP-el dikirim pos{at}. "
                "Berikut data keluarganya.")
    return (f"Kode ambil ini tidak berlaku lagi: permohonannya sudah ditutup{at}. Berikut data "
            "keluarganya.")


def _back_to_search() -> Response:
    return redirect(url_for("staff.counter"), code=303)


@staff.get("/counter/families/<int:family_id>")
@require(*ROLES)
def counter_family(family_id: int) -> Any:
    with connect() as connection:
        found = counter_family_view(connection, family_id)
    if found is None:
        return missing()
    return render_template("staff/counter_family.html", family=found, **labels())


@staff.get("/counter/visits/<int:visit_id>")
@require(*ROLES)
def counter_visit(visit_id: int) -> Any:
    with connect() as connection:
        found = desk.visit(connection, visit_id, office_of_staff())
    if found is None:
        return missing()
    return render_template("staff/counter_visit.html", visit=found,
                           proven=_proof(visit_id) is not None, **labels())


@staff.post("/counter/visits/<int:visit_id>/handover")
@require(*ROLES)
def counter_handover_check(visit_id: int) -> Response:
    """The first step of a hand-over: the code (unless typed in the search) and the cards
    ticked; answered with the confirmation page, nothing is handed over yet."""
    office = office_of_staff()
    typed = "".join(char for char in request.form.get("code", "")[:40] if char.isalnum()).upper()
    with connect() as connection:
        found = desk.visit(connection, visit_id, office)
        if found is None:
            return missing()
        if typed and not desk.code_opens(connection, visit_id, typed):
            record(connection, "counter.code_refused", f"visit {visit_id}",
                   "kode ambil yang diketik tidak cocok")
            flash("Kode ambil tidak cocok dengan kunjungan ini. Minta warga menunjukkan SMS "
                  "jadwal ambil terbaru; KTP-el belum diserahkan.", "error")
            return _to_visit(visit_id)
    if typed:
        _remember_code(visit_id, typed)
    elif _proof(visit_id) is None:
        flash("Ketik kode ambil dari SMS warga; KTP-el belum diserahkan.", "error")
        return _to_visit(visit_id)
    chosen = _chosen(found)
    if not chosen:
        flash("Centang KTP-el yang diserahkan; belum ada yang diserahkan.", "error")
        return _to_visit(visit_id)
    return redirect(url_for("staff.counter_handover", visit_id=visit_id, kartu=sorted(chosen)),
                    code=303)


@staff.get("/counter/visits/<int:visit_id>/handover")
@require(*ROLES)
def counter_handover(visit_id: int) -> Any:
    """What the hand-over will do, to confirm: the cards handed over, those kept for a visit of
    their own, and the SMS the family gets."""
    with connect() as connection:
        found = desk.visit(connection, visit_id, office_of_staff())
    if found is None:
        return missing()
    if _proof(visit_id) is None:
        flash("Ketik lagi kode ambil dari SMS warga (kode yang diketik berlaku "
              f"{PROOF_MINUTES} menit).", "error")
        return _to_visit(visit_id)
    chosen = {reference for reference in request.args.getlist("kartu")
              if reference in found.references}
    if not chosen:
        return _to_visit(visit_id)
    handed = [card for card in found.cards if card.reference in chosen]
    kept = [card for card in found.cards if card.reference not in chosen]
    return render_template("staff/counter_handover.html", visit=found, handed=handed,
                           kept=kept, **labels())


@staff.post("/counter/visits/<int:visit_id>/handover/confirm")
@require(*ROLES)
def counter_handover_confirm(visit_id: int) -> Response:
    with connect() as connection:
        found = desk.visit(connection, visit_id, office_of_staff())
    if found is None:
        return missing()
    proof = _proof(visit_id)
    if proof is None:
        flash("Ketik lagi kode ambil dari SMS warga; KTP-el belum diserahkan.", "error")
        return _to_visit(visit_id)
    chosen = _chosen(found)
    if not chosen:
        flash("Centang KTP-el yang diserahkan; belum ada yang diserahkan.", "error")
        return _to_visit(visit_id)
    runtime_ = runtime()
    try:
        handover = pickup.hand_over(runtime_.db, runtime_.clock, visit_id, proof, me().actor,
                                    only=None if chosen >= found.references else chosen)
    except pickup.VerifyError:
        flash("Kode ambil ini sudah dipakai atau tidak berlaku lagi; tidak ada yang "
              "diserahkan.", "error")
        return redirect(url_for("staff.counter_family", family_id=found.family_id), code=303)
    session.pop(_PROOF, None)
    with connect() as connection:
        for reference in handover.handed:
            record(connection, "application.collect", f"application {reference}",
                   "diserahkan di loket, kode ambil cocok")
        for reference in handover.kept:
            record(connection, "application.pickup_kept", f"application {reference}",
                   "tidak diserahkan (pemilik tidak datang): dijadwalkan lagi")
    message = f"{len(handover.handed)} KTP-el tercatat sudah diambil."
    if handover.kept:
        message += (f" {len(handover.kept)} lainnya dijadwalkan lagi: keluarga menerima SMS "
                    "jadwal baru dengan kode baru.")
    flash(message, "ok")
    return redirect(url_for("staff.counter_family", family_id=found.family_id), code=303)


def _chosen(found: desk.Visit) -> set[str]:
    """The cards ticked, of this visit only; a visit of one card has nothing to tick."""
    if len(found.cards) == 1:
        return set(found.references)
    return {reference for reference in request.form.getlist("cards")
            if reference in found.references}


def _to_visit(visit_id: int) -> Response:
    return redirect(url_for("staff.counter_visit", visit_id=visit_id), code=303)


def chosen_office(policy: pickup.PickupPolicy) -> tuple[Office, dict[str, Any]] | None:
    """The office a day's list shows: an operator's own (asking another is not found), anyone
    else's the one asked, else the first; with the page's values for its office choice
    (`office`, `office_choices`, `chooses_office`, `kecamatan`). None: not found."""
    own = office_of_staff()
    asked = request.args.get("office", "")[:4]
    if own is not None and asked and asked != own:
        return None
    code = own or (asked if asked in policy.offices else next(iter(sorted(policy.offices))))
    office = policy.offices.get(code)
    if office is None:
        return None
    return office, {"office": office,
                    "office_choices": [policy.offices[key] for key in sorted(policy.offices)],
                    "chooses_office": own is None, "kecamatan": kecamatan_name(code)}


def missing() -> Response:
    """Not found, or another office's (not disclosed either)."""
    html = render_template("staff/counter_missing.html")
    return Response(html, status=404, mimetype="text/html")


def _mac(visit_id: int, code: str) -> str:
    key = current_app.secret_key
    secret = key.encode() if isinstance(key, str) else bytes(key or b"")
    return hmac.new(secret, f"counter-proof:{visit_id}:{code}".encode(),
                    hashlib.sha256).hexdigest()


def _remember_code(visit_id: int, code: str) -> None:
    session[_PROOF] = {"visit": visit_id, "mac": _mac(visit_id, code),
                       "until": (now() + timedelta(minutes=PROOF_MINUTES)).timestamp()}


def _proof(visit_id: int) -> Callable[[str], bool] | None:
    """Whether an open code is the one typed for this visit, while the proof holds."""
    held = session.get(_PROOF)
    if not isinstance(held, dict) or held.get("visit") != visit_id:
        return None
    until, mac = held.get("until"), held.get("mac")
    if not isinstance(until, (int, float)) or until < now().timestamp() \
            or not isinstance(mac, str):
        return None
    return lambda code: hmac.compare_digest(mac, _mac(visit_id, code))


def labels() -> dict[str, Any]:
    """The words the counter's pages share: office names and what each reason brings."""
    catalogue = messages("id")
    offices = runtime().pickup_policy().offices
    return {"offices": {code: office.name for code, office in offices.items()},
            "brings": {key.removeprefix("bring."): text for key, text in catalogue.items()
                       if key.startswith("bring.")}}
