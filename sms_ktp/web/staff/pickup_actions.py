"""Moving a family visit to a slot staff choose: the next free slots of the office (a handful of
working days, never a day the family already comes on), then a confirmation with the very SMS
the family will get (its code hidden), then the move and that one SMS.

Choosing a slot is harmless, so the list and the confirmation are GET pages (Back works); only
the move itself is a POST, checked again on the server (the slot may have filled meanwhile),
audited per card, and answered with a redirect to the visit.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from gsm7.encoding import segments
from sms_ktp.applications import pickup
from sms_ktp.applications.hidden_codes import hide_codes
from sms_ktp.backoffice import counter as desk
from sms_ktp.domain.local_time import local_zone
from sms_ktp.domain.pickup_calendar import local
from sms_ktp.messaging.broadcasts import cost
from sms_ktp.web.staff.application_actions import when
from sms_ktp.web.staff.blueprint import connect, me, now, record, require, runtime, staff
from sms_ktp.web.staff.counter import ROLES, labels, missing, office_of_staff

_SLOT_FORMAT = "%Y-%m-%dT%H.%M"  # a slot in a URL: its local wall time, "2026-12-08T08.30"
_REFUSALS = {
    "pickup.none": "Kunjungan ini tidak punya KTP-el yang menunggu diambil lagi; jadwal tidak "
                   "diubah.",
    "pickup.same_slot": "Itu jadwal kunjungan ini sendiri; pilih slot lain.",
    "pickup.family_day": "Keluarga ini sudah punya jadwal ambil lain pada hari itu; pilih hari "
                         "lain.",
    "pickup.day_unavailable": "Slot itu tidak ada (kantor tutup atau di luar jam buka); pilih "
                              "dari daftar.",
    "pickup.full": "Slot itu baru saja penuh; pilih slot lain. Jadwal belum diubah.",
}


def slot_value(start: datetime) -> str:
    return local(start).strftime(_SLOT_FORMAT)


def _slot(text: str | None) -> datetime | None:
    try:
        moment = datetime.strptime((text or "")[:20], _SLOT_FORMAT)
    except ValueError:
        return None
    return moment.replace(tzinfo=local_zone()).astimezone(UTC)


def _by_day(slots: Iterable[pickup.FreeSlot]) -> list[tuple[date, list[pickup.FreeSlot]]]:
    days: dict[date, list[pickup.FreeSlot]] = {}
    for slot in slots:
        days.setdefault(local(slot.starts_at).date(), []).append(slot)
    return list(days.items())


@staff.get("/counter/visits/<int:visit_id>/move")
@require(*ROLES)
def counter_move(visit_id: int) -> Any:
    policy = runtime().pickup_policy()
    with connect() as connection:
        found = desk.visit(connection, visit_id, office_of_staff())
        slots = pickup.free_slots(connection, policy, visit_id, now()) if found else []
    if found is None:
        return missing()
    return render_template("staff/counter_move.html", visit=found, days=_by_day(slots),
                           slot_value=slot_value, **labels())


@staff.get("/counter/visits/<int:visit_id>/move/confirm")
@require(*ROLES)
def counter_move_confirm(visit_id: int) -> Any:
    """The move to confirm, with the SMS the family will get."""
    policy = runtime().pickup_policy()
    start = _slot(request.args.get("slot"))
    with connect() as connection:
        found = desk.visit(connection, visit_id, office_of_staff())
        if found is None:
            return missing()
        free = {slot.starts_at for slot in pickup.free_slots(connection, policy, visit_id,
                                                             now())}
        text = pickup.move_notice(connection, policy, visit_id, start, now()) \
            if start in free else None
    if start is None or text is None:
        flash("Pilih salah satu slot kosong dari daftar." if start is None else
              "Slot itu sudah tidak kosong; pilih slot lain.", "error")
        return redirect(url_for("staff.counter_move", visit_id=visit_id), code=303)
    price = runtime().settings.gateway.price_per_segment
    return render_template("staff/counter_move_confirm.html", visit=found, start=start,
                           sms=hide_codes(text), parts=segments(text), price=price,
                           cost=cost(text, 1, price), slot=slot_value(start), **labels())


@staff.post("/counter/visits/<int:visit_id>/move")
@require(*ROLES)
def counter_move_do(visit_id: int) -> Response:
    with connect() as connection:
        found = desk.visit(connection, visit_id, office_of_staff())
    if found is None:
        return missing()
    start = _slot(request.form.get("slot"))
    if start is None:
        flash("Pilih salah satu slot kosong dari daftar.", "error")
        return redirect(url_for("staff.counter_move", visit_id=visit_id), code=303)
    runtime_ = runtime()
    try:
        pickup.move_to(runtime_.db, runtime_.clock, runtime_.pickup_policy(), visit_id, start,
                       me().actor)
    except pickup.MoveRefused as refused:
        flash(_REFUSALS.get(refused.key, "Jadwal belum diubah."), "error")
        return redirect(url_for("staff.counter_move", visit_id=visit_id), code=303)
    shown = when(start)
    with connect() as connection:
        for card in found.cards:
            record(connection, "application.reschedule", f"application {card.reference}",
                   f"dipindah di loket ke {shown}")
    flash(f"Jadwal ambil dipindah ke {shown}. Keluarga menerima 1 SMS jadwal baru; kode ambil "
          "tetap.", "ok")
    return redirect(url_for("staff.counter_visit", visit_id=visit_id), code=303)
