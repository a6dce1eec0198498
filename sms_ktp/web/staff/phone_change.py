"""Ganti nomor HP keluarga: staff with the family's original KK in hand find the family (by KK
or its phone, in a POST: neither lands in a URL), type the KK from the card and the new phone,
and a code goes to the new phone; the family's phone changes once staff type the code back
from there (`applications.phone_change`). The family is named by its id in the URLs.

Admins act on any family; an operator on families of their kecamatan; a kelurahan helper on
families of the kecamatan of their kelurahan (the KK says where a family lives). A family out
of reach is "not found". Every step is a POST with the CSRF token, audited, answered with a
redirect (303) and a flash message.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from sms_ktp.applications import phone_change
from sms_ktp.backoffice.search import kecamatan_name
from sms_ktp.backoffice.staff import Role
from sms_ktp.domain import region
from sms_ktp.web.staff.blueprint import connect, me, now, record, require, runtime, staff

ROLES = (Role.ADMIN, Role.OPERATOR, Role.HELPER)
MAX_QUERY = 60


def scope() -> str | None:
    """The kecamatan whose families the signed-in member of staff may change (None: all)."""
    person = me()
    if person.role is Role.OPERATOR:
        return person.office or "-"
    if person.role is Role.HELPER:
        office = person.office or ""
        served = region.current()
        # A kelurahan code: regency (4 digits), kecamatan (2), village (4).
        if len(office) == 10 and office.startswith(served.code):
            return office[4:6]
        return "-"  # a helper without a kelurahan of this regency reaches no family
    return None


@staff.get("/phone", endpoint="phone_change")  # the menu's name (`blueprint.NAV`)
@require(*ROLES)
def phone_change_search() -> str:
    return render_template("staff/phone_change.html", searched=False, families=[],
                           kecamatan=kecamatan_name)


@staff.post("/phone")
@require(*ROLES)
def phone_change_find() -> str:
    query = request.form.get("q", "")[:MAX_QUERY]
    with connect() as connection:
        families = phone_change.find(connection, query, scope()) if query.strip() else []
    return render_template("staff/phone_change.html", searched=bool(query.strip()),
                           families=families, kecamatan=kecamatan_name)


def _visible(family_id: int) -> phone_change.FamilyView | None:
    with connect() as connection:
        found = phone_change.family(connection, family_id)
    office = scope()
    if found is None or (office is not None and found.kecamatan_code != office):
        return None
    return found


def _not_found() -> Any:
    return render_template("staff/phone_change_family.html", family=None), 404


@staff.get("/families/<int:family_id>/phone")
@require(*ROLES)
def phone_change_family(family_id: int) -> Any:
    found = _visible(family_id)
    if found is None:
        return _not_found()
    with connect() as connection:
        waiting = phone_change.pending(connection, family_id, now())
    return render_template("staff/phone_change_family.html", family=found, pending=waiting,
                           minutes=phone_change.CODE_MINUTES, kecamatan=kecamatan_name)


@staff.post("/families/<int:family_id>/phone")
@require(*ROLES)
def phone_change_send(family_id: int) -> Any:
    found = _visible(family_id)
    if found is None:
        return _not_found()
    runtime_ = runtime()
    try:
        started = phone_change.start(runtime_.db, runtime_.clock, family_id,
                                     request.form.get("kk", ""), request.form.get("phone", ""),
                                     me().actor)
    except phone_change.Refused as refused:
        flash(str(refused), "error")
    else:
        with connect() as connection:
            record(connection, "family.phone_code", f"family {family_id}",
                   f"KK {found.kk}: kode dikirim ke HP baru {started.pending.new_phone}")
        flash(f"Kode dikirim lewat SMS ke {started.pending.new_phone}. Minta warga membacakan "
              "kode dari HP barunya.", "ok")
    return redirect(url_for("staff.phone_change_family", family_id=family_id), code=303)


@staff.post("/families/<int:family_id>/phone/confirm")
@require(*ROLES)
def phone_change_confirm(family_id: int) -> Any:
    found = _visible(family_id)
    if found is None:
        return _not_found()
    runtime_ = runtime()
    try:
        changed = phone_change.confirm(runtime_.db, runtime_.clock, family_id,
                                       request.form.get("code", ""), me().actor)
    except phone_change.Refused as refused:
        flash(str(refused), "error")
    else:
        with connect() as connection:
            record(connection, phone_change.ACTION, f"family {family_id}",
                   f"KK {found.kk}: HP {changed.old_phone} diganti ke {changed.new_phone}")
        flash(f"Nomor HP keluarga diganti ke {changed.new_phone}. Semua SMS keluarga kini ke "
              f"nomor itu; nomor lama {changed.old_phone} diberi tahu lewat SMS.", "ok")
    return redirect(url_for("staff.phone_change_family", family_id=family_id), code=303)


@staff.post("/families/<int:family_id>/phone/cancel")
@require(*ROLES)
def phone_change_cancel(family_id: int) -> Any:
    found = _visible(family_id)
    if found is None:
        return _not_found()
    runtime_ = runtime()
    if phone_change.give_up(runtime_.db, runtime_.clock, family_id):
        with connect() as connection:
            record(connection, "family.phone_cancel", f"family {family_id}",
                   f"KK {found.kk}: penggantian nomor HP dibatalkan")
        flash("Penggantian nomor HP dibatalkan; nomor keluarga tetap.", "ok")
    return redirect(url_for("staff.phone_change_family", family_id=family_id), code=303)
