"""Assisted registration (`/staff/register`): a kelurahan helper registers a resident who cannot
use SMS. The rules, refusals and the confirmation SMS are those of the SMS dialogue
(`sms_ktp.applications.assisted`); this page only collects the form and shows the outcome."""

from __future__ import annotations

from typing import Any

import phonenumbers
from flask import current_app, redirect, render_template, request, session, url_for

from flows.catalogue import offered, render
from flows.registration import REGISTRATION
from sms_ktp.applications.assisted import (
    STAFF_LANGUAGE,
    AssistedForm,
    Problem,
    Refused,
    register_assisted,
)
from sms_ktp.backoffice.staff import Role
from sms_ktp.web.addresses import request_address
from sms_ktp.web.staff.blueprint import me, require, runtime, staff

# The outcome shown once after the redirect (masked numbers only: the session cookie is signed,
# not encrypted), and the references this browser stored lately, to recognise a form sent twice.
_DONE = "register_done"
_RECENT = "register_recent"
KEEP_RECENT = 20


@staff.route("/register", methods=["GET", "POST"])
@require(Role.ADMIN, Role.OPERATOR, Role.HELPER)
def register() -> Any:
    if request.method == "POST":
        return _submit()
    return _page(AssistedForm(), done=_outcome(session.pop(_DONE, None)))


def _submit() -> Any:
    form = AssistedForm.from_mapping(request.form)
    recent = [str(reference) for reference in session.get(_RECENT, [])]
    app = runtime()
    try:
        registered = register_assisted(app.db, app.clock, app.pickup_policy(), form, me().actor,
                                       request_address(), recent)
    except Refused as refused:
        if refused.already:
            # Sent twice (back button, double click): the first one stands; start afresh.
            return _page(AssistedForm(language=form.language), already=refused.already), 409
        return _page(form, problems=refused.problems), 422
    session[_DONE] = {"ref": registered.reference, "nik": registered.nik_masked,
                      "reason": registered.reason, "phone": registered.phone,
                      "language": registered.language, "sms": registered.sms}
    session[_RECENT] = [registered.reference, *recent][:KEEP_RECENT]
    current_app.extensions["sms_ktp.on_reply_queued"]()
    # Post/Redirect/Get: reloading the result page cannot send the form again.
    return redirect(url_for("staff.register"), code=303)


def _page(form: AssistedForm, *, problems: dict[str, Problem] | None = None,
          done: dict[str, str] | None = None, already: str | None = None) -> str:
    reasons = [(choice.value, render(STAFF_LANGUAGE, choice.label))
               for choice in REGISTRATION.steps["reason"].choices]
    language_names = [(code, render(code, "lang.name")) for code in offered()]
    # The sentence a resident agrees to by SMS, read out at the counter: staff confirm for them.
    return render_template("staff/register.html", form=form, problems=problems or {},
                           reasons=reasons, languages=language_names, done=done,
                           already=already, consent=render(STAFF_LANGUAGE, "consent.purpose"))


def _outcome(stored: Any) -> dict[str, str] | None:
    """The stored outcome with its words for the page (the next steps in Indonesian)."""
    if not isinstance(stored, dict):
        return None
    reason, language = stored.get("reason", ""), stored.get("language", "")
    return {**stored,
            "reason_label": render(STAFF_LANGUAGE, f"reason.{reason}"),
            "bring": render(STAFF_LANGUAGE, f"bring.{reason}"),
            "language_name": render(language, "lang.name"),
            "phone_shown": _shown_phone(stored.get("phone", ""))}


def _shown_phone(e164: str) -> str:
    try:
        return phonenumbers.format_number(phonenumbers.parse(e164, None),
                                          phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return e164
