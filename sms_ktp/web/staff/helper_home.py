"""Beranda: where a kelurahan helper lands after signing in. Their day starts from here: the
assisted registration, the registrations they made (to answer "how far is my card?" at the
counter), and their kelurahan's list of SMS for the families without a phone, which they pass on
and tick.

The list shows each SMS as the family would have read it, the pickup code included: for a family
without a phone, the kelurahan is the phone it chose, and the code must reach the family through
its helpers (they tell or write it for the family). So the list is shown only to the helpers of
that kelurahan, never to operators or admins, and each tick is audited.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from sms_ktp.applications.kelurahan_contact import kelurahan_name
from sms_ktp.backoffice.staff import Role
from sms_ktp.domain.masking import mask_id
from sms_ktp.domain.stages import Stage
from sms_ktp.messaging.kelurahan_mailbox import mailbox, mark_passed
from sms_ktp.models import Application, ApplicationEvent
from sms_ktp.web.staff.blueprint import (
    connect,
    me,
    my_kelurahan,
    now,
    record,
    require,
    runtime,
    staff,
)

SHOWN = 30  # the helper's latest registrations on the page

_APPLICATION = Application.__table__
_EVENT = ApplicationEvent.__table__
# Registrations are found by who submitted them (the timeline's first entry, indexed by actor):
# an operator's later decision on the same application does not make it theirs.
_MINE = (select(_APPLICATION.c.reference, _APPLICATION.c.nik, _APPLICATION.c.stage,
                _APPLICATION.c.created_at)
         .join(_EVENT, _EVENT.c.application_id == _APPLICATION.c.id)
         .where(_EVENT.c.stage == Stage.SUBMITTED.value)
         .order_by(_APPLICATION.c.created_at.desc(), _APPLICATION.c.id.desc()))


@staff.get("/home")
@require(Role.HELPER, Role.ADMIN)
def helper_home() -> Any:
    person = me()
    kelurahan = my_kelurahan()
    with connect() as connection:
        mine = connection.execute(_MINE.where(_EVENT.c.actor == person.actor[:60])
                                  .limit(SHOWN)).all()
        notices = mailbox(connection, kelurahan) if kelurahan else None
    registrations = [{"ref": row.reference, "nik": mask_id(row.nik), "stage": row.stage,
                      "at": row.created_at} for row in mine]
    return render_template(
        "staff/helper_home.html", registrations=registrations, shown=SHOWN, notices=notices,
        kelurahan=kelurahan_name(kelurahan) if kelurahan else None,
        kelurahan_phone=bool(kelurahan and kelurahan in runtime().settings.kelurahan.phones))


@staff.post("/home/notices/<int:notice_id>/passed")
@require(Role.HELPER)
def helper_notice_passed(notice_id: int) -> Response:
    """Tick one SMS of the kelurahan's list as passed on to the family."""
    kelurahan = my_kelurahan()
    if kelurahan is None:
        flash("Akun Anda belum terhubung ke satu kelurahan: tidak ada daftar kabar.", "error")
        return redirect(url_for("staff.helper_home"), code=303)
    with connect() as connection:
        ticked = mark_passed(connection, kelurahan, notice_id, me().actor, now())
        if ticked:
            record(connection, "kelurahan.notice_passed", f"sms {notice_id}",
                   f"kabar untuk keluarga tanpa HP disampaikan ({kelurahan_name(kelurahan)})")
    if ticked:
        flash("Kabar ditandai sudah disampaikan kepada keluarga.", "ok")
    else:
        flash("Kabar ini tidak ada di daftar kelurahan Anda atau sudah ditandai disampaikan.",
              "error")
    return redirect(url_for("staff.helper_home") + "#kabar", code=303)


