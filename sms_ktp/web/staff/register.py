"""Assisted registration (`/staff/register`): a kelurahan helper registers a resident who cannot
use SMS. The rules, refusals and the confirmation SMS are those of the SMS dialogue
(`sms_ktp.applications.assisted`); this page only collects the form and shows the outcome.

A family's members come one after another: after a registration the page offers the next
member of the same family, and the form then carries only the family's id, which this
browser's session must have been handed by an earlier registration; the server reads the KK and
the phone from the family's row and the page shows them masked, so the KK is never typed twice
nor carried in a URL or a cookie. The receipt (`/staff/register/receipt`) prints what the family
takes home: the references, the papers to bring, the office, and how they will be told.

Every other document the regency offers (`?document=kk`) has a form of its own: one field per
question of its SMS dialogue, checked by the dialogue's readers, so the counter and the SMS
refuse the same answers for the same reasons.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import phonenumbers
from flask import abort, current_app, redirect, render_template, request, session, url_for
from sqlalchemy import select

from flows.catalogue import messages, offered, render
from flows.registration import REGISTRATION
from sms_ktp.applications import papers_visit
from sms_ktp.applications.assisted import (
    STAFF_LANGUAGE,
    AssistedForm,
    DocumentForm,
    Problem,
    Refused,
    document_steps,
    documents_offered,
    kept_family,
    register_assisted,
    register_document,
)
from sms_ktp.applications.kelurahan_contact import is_phoneless, kelurahan_name
from sms_ktp.backoffice.staff import Role
from sms_ktp.backoffice.wording import document_words
from sms_ktp.domain import documents
from sms_ktp.domain.contact_address import kelurahan_in
from sms_ktp.domain.masking import mask_id, mask_phone
from sms_ktp.models import Application, Family
from sms_ktp.web.addresses import request_address
from sms_ktp.web.staff.blueprint import connect, me, my_kelurahan, require, runtime, staff

# The outcome shown once after the redirect (masked numbers only: the session cookie is signed,
# not encrypted), the references this browser stored lately, to recognise a form sent twice and
# to print their receipt, and the families it registered lately, whose next member it may
# register without typing the KK and phone again.
_DONE = "register_done"
_RECENT = "register_recent"
_FAMILIES = "register_families"
# Another document's papers to bring, by reference: the catalogue key its registration chose
# (a KIA's photos depend on the child's age), for the receipt.
_PAPERS = "register_papers"
KEEP_RECENT = 20
KEEP_FAMILIES = 10

_APPLICATION = Application.__table__
_FAMILY = Family.__table__


# Staff words for a question of a document's dialogue, by document and step (a step not named
# here takes its generic words), and the hint under its field.
FIELD_LABELS = {
    "nik": "NIK pemohon", "kk": "Nomor KK", "reason": "Alasan", "birth": "Tanggal lahir anak",
    "birth_date": "Tanggal lahir anak", "sex": "Jenis kelamin anak",
    "deceased": "NIK yang meninggal", "died": "Tanggal meninggal",
}
DOCUMENT_FIELD_LABELS = {
    ("kk", "nik"): "NIK pemohon (kepala keluarga atau anggota yang punya KTP-el)",
    ("akta_lahir", "nik"): "NIK orang tua yang melapor",
    ("akta_mati", "nik"): "NIK pelapor",
    ("akta_mati", "kk"): "Nomor KK yang meninggal",
    ("kia", "nik"): "NIK orang tua",
}
NUMBER_HINT = "16 angka. Spasi atau titik boleh."
DATE_HINT = "Tanggal-bulan-tahun, misalnya 12-03-2019."
DATE_STEPS = frozenset({"birth", "birth_date", "died"})
NUMBER_STEPS = frozenset({"nik", "kk", "deceased"})


def registrable() -> tuple[str, ...]:
    """The documents this page registers: the KTP-el and every other document offered that
    has a dialogue, in the catalogue's order."""
    others = documents_offered()
    return tuple(code for code in documents.enabled() if code == "ktp" or code in others)


def _chosen(value: str | None) -> str:
    """The document of the form: one offered, else the first (the KTP-el by default)."""
    offered_here = registrable()
    if value in offered_here:
        return str(value)
    return offered_here[0] if offered_here else "ktp"


@staff.route("/register", methods=["GET", "POST"])
@require(Role.ADMIN, Role.OPERATOR, Role.HELPER)
def register() -> Any:
    source = request.form if request.method == "POST" else request.args
    document = _chosen(source.get("document"))
    if request.method == "POST":
        return _submit() if document == "ktp" else _submit_document(document)
    family = _family_shown(request.args.get("family", ""))
    done = _outcome(session.pop(_DONE, None))
    if document != "ktp":
        return _document_page(DocumentForm(document, family=str(family["id"]) if family else ""),
                              family=family, done=done)
    return _page(AssistedForm(family=str(family["id"]) if family else ""), family=family,
                 done=done)


def _submit_document(document: str) -> Any:
    form = DocumentForm.from_mapping(document, request.form)
    app = runtime()
    try:
        registered = register_document(app.db, app.clock, app.pickup_policy(), form,
                                       me().actor, request_address(), kelurahan=my_kelurahan(),
                                       families=_families())
    except Refused as refused:
        family = _family_shown(form.family) if "family" not in refused.problems else None
        if "family" in refused.problems:  # no longer usable: KK and phone typed again
            form = replace(form, family="")
        return _document_page(form, family=family, problems=refused.problems), 422
    recent = [str(reference) for reference in session.get(_RECENT, [])]
    session[_DONE] = {"document": document, "ref": registered.reference,
                      "nik": registered.nik_masked, "reason": registered.reason,
                      "phone": registered.phone, "language": registered.language,
                      "sms": registered.sms, "papers": registered.papers,
                      "papers_id": registered.papers_id, "family": registered.family_id}
    session[_RECENT] = [registered.reference, *recent][:KEEP_RECENT]
    kept = session.get(_PAPERS, {})
    session[_PAPERS] = {reference: key for reference, key in
                        {registered.reference: registered.papers_key,
                         **(kept if isinstance(kept, dict) else {})}.items()
                        if reference in session[_RECENT]}
    session[_FAMILIES] = list(dict.fromkeys([registered.family_id, *_families()]))[
        :KEEP_FAMILIES]
    if registered.sms:
        current_app.extensions["sms_ktp.on_reply_queued"]()
    return redirect(url_for("staff.register", document=document), code=303)


def _fields(document: str) -> list[dict[str, Any]]:
    """The form's fields: one per question of the document's dialogue, in its order."""
    fields = []
    for step in document_steps(document):
        kind = "choice" if step.choices else "date" if step.name in DATE_STEPS else \
            "number" if step.name in NUMBER_STEPS else "text"
        fields.append({
            "name": step.name, "kind": kind,
            "label": DOCUMENT_FIELD_LABELS.get((document, step.name))
            or FIELD_LABELS.get(step.name, step.name),
            "hint": DATE_HINT if kind == "date" else NUMBER_HINT if kind == "number" else "",
            "choices": [(choice.value, render(STAFF_LANGUAGE, choice.label))
                        for choice in step.choices]})
    return fields


def _document_page(form: DocumentForm, *, family: dict[str, Any] | None = None,
                   problems: dict[str, Problem] | None = None,
                   done: dict[str, Any] | None = None) -> str:
    kelurahan = my_kelurahan()
    return render_template(
        "staff/register_document.html", form=form, document=form.document,
        fields=_fields(form.document), problems=problems or {}, done=done, family=family,
        documents=[(code, document_words(code)) for code in registrable()],
        languages=[(code, render(code, "lang.name")) for code in offered()],
        # What the document's summary tells a resident by SMS ("Data hanya dipakai untuk KK."),
        # read out at the counter.
        consent=f"Data hanya dipakai untuk permohonan {document_words(form.document)}.",
        my_kelurahan=kelurahan_name(kelurahan) if kelurahan else None)


def _submit() -> Any:
    form = AssistedForm.from_mapping(request.form)
    recent = [str(reference) for reference in session.get(_RECENT, [])]
    app = runtime()
    try:
        registered = register_assisted(app.db, app.clock, app.pickup_policy(), form, me().actor,
                                       request_address(), recent, kelurahan=my_kelurahan(),
                                       families=_families())
    except Refused as refused:
        family = _family_shown(form.family) if "family" not in refused.problems else None
        if "family" in refused.problems:  # no longer usable: the whole form, KK and phone typed
            form = AssistedForm(nik=form.nik, reason=form.reason, suket=form.suket,
                                language=form.language)
        if refused.already:
            # Sent twice (back button, double click): the first one stands; start afresh.
            return _page(AssistedForm(language=form.language, family=form.family),
                         family=family, already=refused.already), 409
        return _page(form, family=family, problems=refused.problems), 422
    session[_DONE] = {"ref": registered.reference, "nik": registered.nik_masked,
                      "reason": registered.reason, "phone": registered.phone,
                      "language": registered.language, "sms": registered.sms,
                      "family": registered.family_id,
                      "collected": (registered.collected_on.isoformat()
                                    if registered.collected_on else "")}
    session[_RECENT] = [registered.reference, *recent][:KEEP_RECENT]
    session[_FAMILIES] = list(dict.fromkeys([registered.family_id, *_families()]))[
        :KEEP_FAMILIES]
    if registered.sms:
        current_app.extensions["sms_ktp.on_reply_queued"]()
    # Post/Redirect/Get: reloading the result page cannot send the form again.
    return redirect(url_for("staff.register"), code=303)


@staff.get("/register/receipt")
@require(Role.ADMIN, Role.OPERATOR, Role.HELPER)
def register_receipt() -> Any:
    """The printable receipt of a family's registrations made from this browser lately."""
    family = _family_shown(request.args.get("family", ""))
    recent = [str(reference) for reference in session.get(_RECENT, [])]
    if family is None or not recent:
        abort(404)
    policy = runtime().pickup_policy()
    with connect() as connection:
        rows = connection.execute(
            select(_APPLICATION.c.reference, _APPLICATION.c.nik, _APPLICATION.c.reason,
                   _APPLICATION.c.created_at, _APPLICATION.c.document,
                   _APPLICATION.c.papers_visit_id)
            .where(_APPLICATION.c.family_id == family["id"],
                   _APPLICATION.c.reference.in_(recent))
            .order_by(_APPLICATION.c.created_at, _APPLICATION.c.id)).all()
        visits = {visit_id: papers_visit.view(connection, policy, visit_id)
                  for visit_id in {row.papers_visit_id for row in rows}
                  if visit_id is not None}
    if not rows:
        abort(404)
    members = [{"ref": row.reference, "nik": mask_id(row.nik),
                "reason": render(STAFF_LANGUAGE, f"reason.{row.reason}"),
                "bring": render(STAFF_LANGUAGE, f"bring.{row.reason}"),
                "at": row.created_at} for row in rows if row.document == "ktp"]
    papers = session.get(_PAPERS, {})
    others = [_receipt_line(row, visits.get(row.papers_visit_id),
                            papers.get(row.reference) if isinstance(papers, dict) else None)
              for row in rows if row.document != "ktp"]
    office = policy.offices.get(family["kecamatan"])
    return render_template("staff/receipt.html", family=family, members=members, office=office,
                           others=others, last=rows[-1].created_at)


def _receipt_line(row: Any, visit: papers_visit.PapersVisit | None,
                  papers_key: str | None) -> dict[str, Any]:
    """Another document on the receipt: its reference, the applicant's masked NIK, its reason,
    the visit to hand in its papers (day, time, office) and the papers to bring."""
    catalogue = messages(STAFF_LANGUAGE)
    reason = f"{row.document}.reason.{row.reason}"
    key = papers_key or f"{row.document}.bring.{row.reason}"
    return {"ref": row.reference, "document": document_words(row.document),
            "nik": mask_id(row.nik),
            "reason": render(STAFF_LANGUAGE, reason) if reason in catalogue else "",
            "visit": papers_visit.words(STAFF_LANGUAGE, visit) if visit else None,
            "bring": render(STAFF_LANGUAGE, key, ref=row.reference) if key in catalogue else ""}


def _families() -> list[int]:
    return [int(family) for family in session.get(_FAMILIES, []) if isinstance(family, int)]


def _family_shown(family: str) -> dict[str, Any] | None:
    """A family this browser registered lately, as the page may show it: masked."""
    if not family:
        return None
    with connect() as connection:
        row = kept_family(connection, family, _families())
    if row is None:
        return None
    return {"id": row.id, "kk": mask_id(row.kk), "kecamatan": row.kecamatan_code,
            **_contact(row.phone)}


def _contact(phone: str) -> dict[str, Any]:
    """How a family is told, in words: its phone (masked) or its kelurahan."""
    kelurahan = kelurahan_in(phone)
    if kelurahan is None:
        return {"phoneless": False, "phone": mask_phone(phone), "contact": mask_phone(phone)}
    name = kelurahan_name(kelurahan)
    has_phone = kelurahan in runtime().settings.kelurahan.phones  # keys checked at load
    return {"phoneless": True, "phone": "", "kelurahan": name, "kelurahan_phone": has_phone,
            "contact": f"lewat {name}"}


def _page(form: AssistedForm, *, family: dict[str, Any] | None = None,
          problems: dict[str, Problem] | None = None,
          done: dict[str, Any] | None = None, already: str | None = None) -> str:
    reasons = [(choice.value, render(STAFF_LANGUAGE, choice.label))
               for choice in REGISTRATION.steps["reason"].choices]
    language_names = [(code, render(code, "lang.name")) for code in offered()]
    kelurahan = my_kelurahan()
    # The sentence a resident agrees to by SMS, read out at the counter: staff confirm for them.
    return render_template("staff/register.html", form=form, problems=problems or {},
                           reasons=reasons, languages=language_names, done=done,
                           already=already, consent=render(STAFF_LANGUAGE, "consent.purpose"),
                           family=family, document="ktp",
                           documents=[(code, document_words(code)) for code in registrable()],
                           my_kelurahan=kelurahan_name(kelurahan) if kelurahan else None)


def _outcome(stored: Any) -> dict[str, Any] | None:
    """The stored outcome with its words for the page (the next steps in Indonesian)."""
    if not isinstance(stored, dict):
        return None
    reason, language = stored.get("reason", ""), stored.get("language", "")
    phone = stored.get("phone", "")
    phoneless = is_phoneless(phone)
    shown = {**stored, "language_name": render(language, "lang.name"), "phoneless": phoneless,
             "phone_shown": "" if phoneless else _shown_phone(phone),
             **({"kelurahan": kelurahan_name(kelurahan_in(phone))} if phoneless else {})}
    document = stored.get("document", "ktp")
    if document != "ktp":
        key = f"{document}.reason.{reason}"
        return {**shown, "document_name": document_words(document),
                "reason_label": render(STAFF_LANGUAGE, key)
                if key in messages(STAFF_LANGUAGE) else ""}
    return {**shown, "reason_label": render(STAFF_LANGUAGE, f"reason.{reason}"),
            "bring": render(STAFF_LANGUAGE, f"bring.{reason}")}


def _shown_phone(e164: str) -> str:
    try:
        return phonenumbers.format_number(phonenumbers.parse(e164, None),
                                          phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return e164
