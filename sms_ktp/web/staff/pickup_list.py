"""Daftar ambil: per office and slot, the cards to take out of the drawer before the doors open,
grouped by family visit, with a column to tick on paper. Printable; by default the office's
next working day (the list is made the day before), an operator's own office only.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import render_template, request

from flows.dates import say_day
from sms_ktp.backoffice import counter as desk
from sms_ktp.domain.local_time import local_date
from sms_ktp.web.staff.blueprint import connect, now, require, runtime, staff
from sms_ktp.web.staff.counter import ROLES, chosen_office, labels, missing


@staff.get("/counter/day")
@require(*ROLES)
def pickup_list() -> Any:
    policy = runtime().pickup_policy()
    chosen = chosen_office(policy)
    if chosen is None:
        return missing()
    office, choice = chosen
    today = local_date(now())
    typed = request.args.get("date", "")[:10]
    error = None
    try:
        day = date.fromisoformat(typed) if typed else None
    except ValueError:
        day, error = None, "Tanggal tidak terbaca; ditampilkan hari kerja berikutnya."
    if day is None:
        day = policy.calendar.next_open_day(office, today)
    with connect() as connection:
        listed = desk.day_list(connection, office.code, day)
    closed = not policy.calendar.is_open(office, day)
    return render_template("staff/pickup_list.html", listed=listed, error=error, closed=closed,
                           holiday=policy.calendar.holiday_name(day), today=today,
                           next_day=policy.calendar.next_open_day(office, today),
                           day_words=say_day("id", day), **choice, **labels())
