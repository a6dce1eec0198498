"""Pickup offices: opening hours, slot length, capacity and extra closed days, changed by staff
over the configuration file (`sms_ktp.applications.office_settings`). Admins manage every office, an
operator only their own. The next pickup allocation uses a change; the worker, in another
process, within `runtime.OFFICE_CHECK_SECONDS`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from sqlalchemy import Connection, func, select
from werkzeug.datastructures import MultiDict

from flows.dates import say_day
from sms_ktp.applications import office_settings, pickup, sms_budget
from sms_ktp.backoffice.staff import Role
from sms_ktp.domain.local_time import local_date
from sms_ktp.domain.pickup_calendar import (
    CAPACITY_RANGE,
    SLOT_MINUTES_RANGE,
    WEEKDAYS,
    Office,
    WorkingCalendar,
    local,
)
from sms_ktp.domain.stages import Stage
from sms_ktp.models import Application, in_stage
from sms_ktp.web.staff.blueprint import (
    allows_office,
    connect,
    me,
    now,
    record,
    require,
    runtime,
    staff,
)

DAY_NAMES = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
FIELD_LABELS = {"name": "Nama kantor", "address": "Alamat", "hours": "Jam buka",
                "slot_minutes": "Lama slot", "capacity": "Kapasitas",
                "add_dates": "Tanggal tutup tambahan",
                **{f"hours_{day}": f"Jam {DAY_NAMES[index]}" for index, day in enumerate(WEEKDAYS)}}
HOLIDAYS_AHEAD = timedelta(days=90)  # upcoming holidays listed on the page
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_APPLICATION = Application.__table__


@staff.get("/offices")
@require(Role.ADMIN, Role.OPERATOR)
def offices() -> str:
    with connect() as connection:
        overrides = office_settings.stored(connection)
        changed = office_settings.changed_by(connection)
        current = office_settings.effective_offices(_config(), overrides)
        shown = [office for code, office in sorted(current.items()) if allows_office(code)]
        stranded = {office.code: sum(_closed_slots(connection, office).values())
                    for office in shown}
    return render_template("staff/offices.html", offices=shown, overrides=overrides,
                           changed=changed, hours={o.code: hours_summary(o) for o in shown},
                           holidays=_holidays(), delay=_delay_seconds(), stranded=stranded)


@staff.route("/offices/<code>", methods=["GET", "POST"])
@require(Role.ADMIN, Role.OPERATOR)
def offices_edit(code: str) -> Any:
    office = _office_or_refuse(code)
    if request.method == "GET":
        return _form(office, office_settings.as_entry(office), {})
    values, errors = read_form(request.form, code, office, local_date(now()))
    if errors:
        return _form(office, _shown(values, request.form), errors), 400
    affected = 0
    with connect() as connection:
        before = _current(connection)[code]
        try:
            after = office_settings.save(connection, code, values, _config(), me().actor, now())
        except ValueError as error:  # a rule the form did not see coming: the file's words
            return _form(office, _shown(values, request.form),
                         {"": f"Pengaturan ditolak: {error}"}), 400
        changed = office_settings.as_entry(after) != office_settings.as_entry(before)
        if changed:
            record(connection, "office.update", f"office {code}",
                   office_settings.describe_changes(before, after))
            affected = sum(_closed_slots(connection, after).values())
    if not changed:
        flash("Tidak ada perubahan.", "info")
        return redirect(url_for("staff.offices"), code=303)
    runtime().refresh_pickup_policy()  # this process uses it at once, the others within delay
    flash(f"Pengaturan {after.name} disimpan. Dipakai pada penjadwalan ambil berikutnya.", "ok")
    if affected:
        flash(f"Perhatian: {affected} jadwal ambil yang sudah dikirim jatuh pada hari atau jam "
              "yang kini tutup. Pindahkan dengan tombol di baris kantor ini (warga diberi tahu "
              "lewat SMS), atau layani mereka pada jadwal itu.", "error")
    return redirect(url_for("staff.offices"), code=303)


@staff.post("/offices/<code>/move-closed")
@require(Role.ADMIN, Role.OPERATOR)
def offices_move_closed(code: str) -> Any:
    """The family visits announced for a day or time the office no longer opens, each moved
    with all its cards to the next slot with room after it; the family gets the new day by
    one SMS (as a move at the counter)."""
    office = _office_or_refuse(code)
    runtime_ = runtime()
    runtime_.refresh_pickup_policy()
    with connect() as connection:
        references = _pickups_now_closed(connection, office)
    moved = full = 0
    for reference in references:
        try:
            pickup.reschedule_by_staff(runtime_.db, runtime_.clock, runtime_.pickup_policy(),
                                       reference, me().actor)
        except pickup.MoveRefused as refused:
            full += refused.key == "pickup.full"
            continue
        moved += 1
    if references:
        with connect() as connection:
            record(connection, "office.pickups_moved", f"office {code}",
                   f"{moved} moved to the next free slot, {full} without a free slot")
    if moved:
        flash(f"{moved} jadwal ambil {office.name} dipindah ke slot kosong berikutnya. Warga "
              "diberi tahu lewat SMS.", "ok")
    if full:
        flash(f"{full} jadwal belum bisa dipindah: belum ada slot kosong. Tambah kapasitas atau "
              "jam buka, lalu coba lagi.", "error")
    if not references:
        flash("Tidak ada jadwal ambil pada hari atau jam tutup.", "info")
    return redirect(url_for("staff.offices"), code=303)


@staff.post("/offices/<code>/reset")
@require(Role.ADMIN, Role.OPERATOR)
def offices_reset(code: str) -> Any:
    office = _office_or_refuse(code)
    with connect() as connection:
        if office_settings.reset(connection, code):
            after = office_settings.configured(_config())[code]
            record(connection, "office.update", f"office {code}",
                   "reset to the configuration file: "
                   + office_settings.describe_changes(office, after))
            affected = sum(_closed_slots(connection, after).values())
        else:
            affected = None
    if affected is None:
        flash("Kantor ini sudah mengikuti file konfigurasi.", "info")
    else:
        runtime().refresh_pickup_policy()
        flash("Pengaturan kantor dikembalikan ke file konfigurasi.", "ok")
        if affected:
            flash(f"Perhatian: {affected} jadwal ambil yang sudah dikirim jatuh pada hari atau "
                  "jam yang kini tutup.", "error")
    return redirect(url_for("staff.offices"), code=303)


def read_form(form: MultiDict[str, str], code: str, office: Office, today: date
              ) -> tuple[dict[str, Any], dict[str, str]]:
    """The office's values from the form, in the shape of a `[[pickup.offices]]` entry, and a
    message in Indonesian per field that breaks a rule. The rules are the configuration's
    (`offices_from_config` and its bounds); only the wording is the form's."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key in ("name", "address"):
        text = str(form.get(key, "")).strip()
        if not text:
            errors[key] = "Wajib diisi."
        values[key] = text
    errors.update(_too_long_for_sms(values["name"], values["address"], errors))
    for key, (low, high) in (("slot_minutes", SLOT_MINUTES_RANGE),
                             ("capacity", CAPACITY_RANGE)):
        text = str(form.get(key, "")).strip()
        if text.isdigit() and low <= int(text) <= high:
            values[key] = int(text)
        else:
            errors[key] = f"Isi bilangan bulat {low} sampai {high}."
    values["hours"] = _read_hours(form, code, values.get("slot_minutes"), errors)
    values["closed_dates"] = _read_closed_dates(form, office, today, errors)
    return values, errors


def _too_long_for_sms(name: str, address: str, errors: Mapping[str, str]) -> dict[str, str]:
    """The name and address go into the pickup SMS (the address with the name into some): each
    message must stay one SMS in every language (`sms_budget`), counted in GSM-7 septets."""
    found: dict[str, str] = {}
    for problem in sms_budget.too_long({"office": name, "address": address}):
        field = "name" if problem.typed == {"office"} else "address"
        if field in errors or field in found:
            continue
        what = "Nama kantor" if field == "name" else "Nama dan alamat kantor bersama"
        found[field] = (f"{what} {problem.used} karakter GSM-7; paling banyak {problem.budget} "
                        f"agar SMS jadwal ambil tetap satu SMS ({sms_budget.DOUBLED} dihitung "
                        "dua).")
    return found


def _read_hours(form: MultiDict[str, str], code: str, slot: int | None,
                errors: dict[str, str]) -> dict[str, str]:
    hours: dict[str, str] = {}
    for weekday, day in enumerate(WEEKDAYS):
        text = str(form.get(f"hours_{day}", "")).strip()
        if not text:
            continue
        hours[day] = text
        try:  # the configuration's own parser, with the shortest slot: only the range itself
            entry = {"code": code, "hours": {day: text}, "slot_minutes": SLOT_MINUTES_RANGE[0]}
            opening, closing = office_settings.configured([entry])[code].hours[weekday]
        except ValueError:
            errors[f"hours_{day}"] = ("Tulis jam buka-tutup seperti 08:00-15:00 (tutup setelah "
                                      "buka), atau kosongkan bila tutup.")
            continue
        length = (closing.hour * 60 + closing.minute) - (opening.hour * 60 + opening.minute)
        if slot is not None and length < slot:
            errors[f"hours_{day}"] = f"Lebih pendek dari satu slot ({slot} menit)."
    if not hours:
        errors["hours"] = "Kantor harus buka paling sedikit satu hari dalam seminggu."
    return hours


def _read_closed_dates(form: MultiDict[str, str], office: Office, today: date,
                       errors: dict[str, str]) -> list[str]:
    removed = set(form.getlist("remove_date"))
    days = {day for day in office.closed_dates if day.isoformat() not in removed}
    problems: list[str] = []
    for token in re.split(r"[\s,;]+", str(form.get("add_dates", "")).strip()):
        if not token:
            continue
        try:
            day = date.fromisoformat(token) if _ISO_DATE.match(token) else None
        except ValueError:
            day = None
        if day is None:
            problems.append(f"{token[:20]} bukan tanggal TTTT-BB-HH (contoh 2026-12-24)")
        elif day < today:
            problems.append(f"{token} sudah lewat")
        else:
            days.add(day)
    if problems:
        errors["add_dates"] = "; ".join(problems) + "."
    return [day.isoformat() for day in sorted(days)]


def _office_or_refuse(code: str) -> Office:
    """The office as it is now; an unknown code is 404, another operator's office 403."""
    with connect() as connection:
        current = _current(connection)
    if code not in current:
        abort(404)
    if not allows_office(code):
        abort(make_response(render_template("staff/refused.html"), 403))
    return current[code]


def _current(connection: Connection) -> dict[str, Office]:
    return office_settings.effective_offices(_config(), office_settings.stored(connection))


def _config() -> list[Any]:
    return runtime().settings.pickup.offices


def _form(office: Office, entry: Mapping[str, Any], errors: dict[str, str]) -> str:
    with connect() as connection:
        overrides = office_settings.stored(connection).get(office.code, {})
    configured = office_settings.as_entry(office_settings.configured(_config())[office.code])
    return render_template("staff/offices.html", edit=office, entry=entry, errors=errors,
                           labels=FIELD_LABELS, name_budget=sms_budget.budget("office"),
                           both_budget=sms_budget.budget("office", "address"),
                           overrides=overrides, configured=configured, weekdays=_weekdays(),
                           holidays=_holidays(), delay=_delay_seconds(),
                           today=local_date(now()))


def _shown(values: Mapping[str, Any], form: MultiDict[str, str]) -> dict[str, Any]:
    """What the member of staff typed, shown again with the errors."""
    return {**values, "add_dates": str(form.get("add_dates", "")),
            "hours": {day: str(form.get(f"hours_{day}", "")).strip() for day in WEEKDAYS},
            "slot_minutes": str(form.get("slot_minutes", "")),
            "capacity": str(form.get("capacity", ""))}


def _closed_slots(connection: Connection, office: Office) -> dict[datetime, int]:
    """The slots with pickups already announced that this office no longer opens, and how many
    pickups each: one row per slot (read from the pickup index), not one per card, so the
    offices page stays cheap with thousands of cards booked."""
    rows = connection.execute(
        select(_APPLICATION.c.pickup_at, func.count())
        .where(in_stage(Stage.PICKUP_SCHEDULED), _APPLICATION.c.pickup_office == office.code,
               _APPLICATION.c.pickup_at >= now())
        .group_by(_APPLICATION.c.pickup_at)
    ).all()
    calendar = _calendar()
    return {start: count for start, count in rows if not _open_at(office, calendar, start)}


def _pickups_now_closed(connection: Connection, office: Office) -> list[str]:
    """One reference per family visit in those slots (its first card's: moving it moves the
    whole visit), earliest first."""
    closed = list(_closed_slots(connection, office))
    if not closed:
        return []
    rows = connection.execute(
        select(_APPLICATION.c.visit_id, _APPLICATION.c.reference)
        .where(in_stage(Stage.PICKUP_SCHEDULED), _APPLICATION.c.pickup_office == office.code,
               _APPLICATION.c.pickup_at.in_(closed))
        .order_by(_APPLICATION.c.pickup_at, _APPLICATION.c.id)).all()
    first: dict[int, str] = {}
    for row in rows:
        first.setdefault(row.visit_id, row.reference)
    return list(first.values())


def _open_at(office: Office, calendar: WorkingCalendar, start: datetime) -> bool:
    moment = local(start)
    span = office.hours.get(moment.weekday())
    return (span is not None and calendar.is_open(office, moment.date())
            and span[0] <= moment.time().replace(tzinfo=None) < span[1])


def hours_summary(office: Office) -> list[str]:
    """The week in a few lines: "Senin-Kamis 08:00-15:00", "Jumat 08:00-11:00"; consecutive
    days with the same hours share a line, closed days are left out."""
    lines: list[str] = []
    weekday = 0
    while weekday < 7:
        span = office.hours.get(weekday)
        last = weekday
        while last + 1 < 7 and office.hours.get(last + 1) == span:
            last += 1
        if span is not None:
            days = DAY_NAMES[weekday] + (f"–{DAY_NAMES[last]}" if last > weekday else "")
            lines.append(f"{days} {span[0]:%H:%M}–{span[1]:%H:%M}")
        weekday = last + 1
    return lines


def _weekdays() -> list[tuple[int, str, str]]:
    return [(index, day, DAY_NAMES[index]) for index, day in enumerate(WEEKDAYS)]


def _holidays() -> list[tuple[str, str]]:
    """Public holidays and cuti bersama of the coming months: always closed."""
    calendar = _calendar()
    today = local_date(now())
    days = (today + timedelta(days=offset) for offset in range(HOLIDAYS_AHEAD.days + 1))
    return [(say_day("id", day), calendar.holiday_name(day) or "")
            for day in days if calendar.is_holiday(day)]


@cache
def _calendar() -> WorkingCalendar:
    """One calendar for the pages (thread-safe; it loads a year's holidays once). Not the
    policy's: reading the policy may query the database, which these pages do inside a
    transaction."""
    return WorkingCalendar()


def _delay_seconds() -> int:
    return round(runtime().office_check_seconds)
