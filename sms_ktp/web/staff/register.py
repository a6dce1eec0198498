"""Assisted registration (`/staff/register`): a kelurahan helper registers a resident who cannot
use SMS. The rules, refusals and the confirmation SMS are those of the SMS dialogue
(`sms_ktp.applications.assisted`); this page only collects the form and shows the outcome.

A family's members come one after another: after a registration the page offers the next
member of the same family, and the form then carries only the family's id, which this
browser's session must have been handed by an earlier registration; the server reads the KK and
the phone from the family's row and the page shows them masked, so the KK is never typed twice
nor carried in a URL or a cookie. The receipt (`/staff/register/receipt`) prints what the family
takes home: the references, the papers to bring, the office, and how they will be told.
"""

from __future__ import annotations

from typing import Any

import phonenumbers
from flask import abort, current_app, redirect, render_template, request, session, url_for
from sqlalchemy import select

from flows.catalogue import offered, render
from flows.registration import REGISTRATION
from sms_ktp.applications.assisted import (
    STAFF_LANGUAGE,
    AssistedForm,
    Problem,
    Refused,
    kept_family,
    register_assisted,
)
from sms_ktp.applications.kelurahan_contact import is_phoneless, kelurahan_name
from sms_ktp.backoffice.staff import Role
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
KEEP_RECENT = 20
KEEP_FAMILIES = 10

_APPLICATION = Application.__table__
_FAMILY = Family.__table__


@staff.route("/register", methods=["GET", "POST"])
@require(Role.ADMIN, Role.OPERATOR, Role.HELPER)
def register() -> Any:
    if request.method == "POST":
        return _submit()
    family = _family_shown(request.args.get("family", ""))
    return _page(AssistedForm(family=str(family["id"]) if family else ""), family=family,
                 done=_outcome(session.pop(_DONE, None)))


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
    with connect() as connection:
        rows = connection.execute(
            select(_APPLICATION.c.reference, _APPLICATION.c.nik, _APPLICATION.c.reason,
                   _APPLICATION.c.created_at)
            .where(_APPLICATION.c.family_id == family["id"],
                   _APPLICATION.c.reference.in_(recent))
            .order_by(_APPLICATION.c.created_at, _APPLICATION.c.id)).all()
    if not rows:
        abort(404)
    members = [{"ref": row.reference, "nik": mask_id(row.nik),
                "reason": render(STAFF_LANGUAGE, f"reason.{row.reason}"),
                "bring": render(STAFF_LANGUAGE, f"bring.{row.reason}"),
                "at": row.created_at} for row in rows]
    office = runtime().pickup_policy().offices.get(family["kecamatan"])
    return render_template("staff/receipt.html", family=family, members=members, office=office)


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
                           family=family,
                           my_kelurahan=kelurahan_name(kelurahan) if kelurahan else None)


def _outcome(stored: Any) -> dict[str, Any] | None:
    """The stored outcome with its words for the page (the next steps in Indonesian)."""
    if not isinstance(stored, dict):
        return None
    reason, language = stored.get("reason", ""), stored.get("language", "")
    phone = stored.get("phone", "")
    return {**stored,
            "reason_label": render(STAFF_LANGUAGE, f"reason.{reason}"),
            "bring": render(STAFF_LANGUAGE, f"bring.{reason}"),
            "language_name": render(language, "lang.name"),
            "phoneless": is_phoneless(phone),
            "phone_shown": _shown_phone(phone) if not is_phoneless(phone) else "",
            **({"kelurahan": kelurahan_name(kelurahan_in(phone))} if is_phoneless(phone)
               else {})}


def _shown_phone(e164: str) -> str:
    try:
        return phonenumbers.format_number(phonenumbers.parse(e164, None),
                                          phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return e164
