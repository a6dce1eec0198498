"""Broadcasts for admins: compose an announcement, confirm it knowing what will happen, follow
its progress, cancel it.

A broadcast is the most expensive thing one click can do, so nothing is chosen for the admin
and nothing is sent unseen: the audience starts empty; "Periksa" shows the SMS exactly as the
families will read it (after the GSM-7 look-alike replacements, which are listed), how many
families, how many parts, the cost and when; only that page sends, and it sends what it showed.
With the WhatsApp channel on, the families and the cost are split by the channel each family
would get it on (`broadcasts.channel_split`): a WhatsApp text in the 24-hour window is free, a
template outside it costs `[whatsapp] cost_per_message`, an SMS every part.
A text is never cut: over `MAX_SEGMENTS` parts (or the column) it is refused with its length.
An announcement may need more than one part (a date, a place and the opt-out line rarely fit in
160 characters), so two or three parts are allowed, but only with the admin ticking that they
know the number of parts and the cost; and if the audience grew after the admin looked, the
confirmation is asked again with the new figures rather than spending more than was seen."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy import Connection, func, select
from werkzeug.wrappers import Response

from flows.catalogue import render
from gsm7.encoding import (
    GSM7_PART,
    GSM7_SINGLE,
    UCS2_PART,
    UCS2_SINGLE,
    segments,
    septets,
    to_gsm7,
)
from sms_ktp.backoffice.staff import Role
from sms_ktp.domain import region
from sms_ktp.domain.local_time import local_zone, zone_label
from sms_ktp.domain.stages import Stage
from sms_ktp.messaging import broadcasts
from sms_ktp.messaging.broadcasts import Audience, BroadcastError, ChannelSplit
from sms_ktp.models import Broadcast
from sms_ktp.platform.config import Settings
from sms_ktp.web.staff.blueprint import connect, me, now, record, require, runtime, staff
from sms_ktp.web.staff.paging import requested_page

_BROADCAST = Broadcast.__table__
PAGE = 50
MAX_TYPED = 2000  # characters read from the form; a longer text is refused, never cut
STATUS_LABELS = {broadcasts.SCHEDULED: "terjadwal", broadcasts.SENDING: "sedang dikirim",
                 broadcasts.DONE: "selesai", broadcasts.CANCELLED: "dibatalkan"}


def status_label(status: str, progress: broadcasts.Progress) -> str:
    """A broadcast fully queued is still "being sent" while SMS of it wait in the outbox."""
    if status == broadcasts.DONE and progress.waiting:
        return STATUS_LABELS[broadcasts.SENDING]
    return STATUS_LABELS[status]


def audience_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """The audience selector's groups of (value, label)."""
    return [
        ("", [("", "Pilih penerima\u2026")]),
        ("Semua", [(broadcasts.ALL, f"Semua keluarga di {region.current().name}")]),
        ("Kecamatan", [(f"{broadcasts.KECAMATAN}:{code}", f"{code} {name}")
                       for code, name in sorted(region.current().kecamatan.items())]),
        ("Keluarga dengan permohonan pada tahap",
         [(f"{broadcasts.STAGE}:{stage.value}", render("id", f"stage_short.{stage.value}"))
          for stage in Stage]),
    ]


def audience_label(kind: str, value: str | None) -> str:
    if kind == broadcasts.KECAMATAN and value is not None:
        return f"Kecamatan {region.current().kecamatan.get(value, value)}"
    if kind == broadcasts.STAGE and value is not None:
        return f"Tahap: {render('id', f'stage_short.{value}')}"
    return "Semua keluarga"


def rupiah(amount: int) -> str:
    return "Rp " + f"{amount:,}".replace(",", ".")


@dataclass(frozen=True)
class Measure:
    """A text as the operator bills it (the same figures broadcast.js shows while typing)."""

    characters: int
    encoding: str
    units: int  # septets (GSM-7) or UTF-16 units (UCS-2)
    segments: int
    per_part: int


def measure(text: str) -> Measure:
    length = septets(text)
    parts = segments(text)
    if length is not None:
        return Measure(len(text), "GSM-7", length, parts, GSM7_SINGLE if parts == 1 else GSM7_PART)
    units = len(text.encode("utf-16-le")) // 2
    return Measure(len(text), "UCS-2", units, parts, UCS2_SINGLE if parts == 1 else UCS2_PART)


def _split(connection: Connection, audience: Audience, at: datetime) -> ChannelSplit:
    """The audience by the channel each family would get the broadcast on at `at`, under
    this service's WhatsApp settings."""
    whatsapp = runtime().settings.gateway.whatsapp
    return broadcasts.channel_split(connection, audience, at, whatsapp=whatsapp.enabled,
                                    template=broadcasts.KIND in whatsapp.templates)


@staff.app_template_filter("rupiah")
def _rupiah(amount: int) -> str:
    return rupiah(amount)


# --- the list -------------------------------------------------------------------------------
@staff.get("/broadcasts", endpoint="broadcasts")
@require(Role.ADMIN)
def broadcasts_list() -> str:
    page = requested_page()
    with connect() as connection:
        total = connection.execute(select(func.count()).select_from(_BROADCAST)).scalar_one()
        rows = connection.execute(select(_BROADCAST).order_by(_BROADCAST.c.id.desc())
                                  .offset((page - 1) * PAGE).limit(PAGE)).all()
        progress = broadcasts.progress(connection, [row.id for row in rows])
    return render_template("staff/broadcasts/list.html", rows=rows, progress=progress,
                           page=page, pages=max(1, -(-total // PAGE)),
                           status_label=status_label, audience_label=audience_label)


# --- composing ------------------------------------------------------------------------------
@staff.get("/broadcasts/recipients")
@require(Role.ADMIN)
def broadcasts_recipients() -> Any:
    """`{"recipients": N, "sms": ..., "whatsapp_template": ..., "whatsapp_free": ...}` for
    `?audience=...`: the compose page's live preview, by the channel each family would get it
    on if it were sent now (the confirmation counts again, at the time it is to be sent)."""
    try:
        audience = Audience.parse(request.args.get("audience", ""))
    except BroadcastError as error:
        return jsonify({"error": str(error)}), 400
    with connect() as connection:
        split = _split(connection, audience, now())
    return jsonify({"recipients": split.recipients, "sms": split.sms,
                    "whatsapp_template": split.whatsapp_template,
                    "whatsapp_free": split.whatsapp_free})


@staff.get("/broadcasts/new")
@require(Role.ADMIN)
def broadcasts_new() -> str:
    return _compose({"audience": "", "when": "now"})  # no audience chosen for the admin


@staff.post("/broadcasts/new")
@require(Role.ADMIN)
def broadcasts_create() -> Any:
    """"preview": the confirmation page; "edit": back to the form; "send": from the confirmation
    page only (its figures come back with it), else the confirmation page again."""
    form = {name: request.form.get(name, "") for name in ("text", "audience", "when", "send_at")}
    action = request.form.get("action")
    if action == "edit":
        return _compose(form)
    try:
        plan = _plan(form)
    except BroadcastError as error:
        return _compose(form, error=str(error)), 422
    if action != "send":
        return _confirm(form, plan)
    seen = (request.form.get("confirmed_recipients", ""), request.form.get("confirmed_segments"))
    if not seen[0].isdigit() or seen[1] != str(plan.measure.segments):
        return _confirm(form, plan)  # not from the confirmation page: show it first
    if plan.recipients > int(seen[0]):
        return _confirm(form, plan, warning=(
            f"Jumlah penerima berubah dari {seen[0]} menjadi {plan.recipients} sejak Anda "
            "memeriksa. Periksa lagi biayanya, lalu kirim.")), 409
    if plan.measure.segments > 1 and request.form.get("accept_parts") != "1":
        return _confirm(form, plan, error=(
            f"Centang pernyataan bahwa pesan ini {plan.measure.segments} SMS per keluarga, atau "
            "ubah pesan agar cukup 1 SMS.")), 422
    with connect() as connection:
        try:
            broadcast_id = broadcasts.create(connection, plan.text, plan.audience,
                                             plan.send_at or now(), me().actor, now())
        except BroadcastError as error:
            return _compose(form, error=str(error)), 422
        phones = connection.execute(select(_BROADCAST.c.recipients)
                                    .where(_BROADCAST.c.id == broadcast_id)).scalar_one()
        record(connection, "broadcast.create", f"broadcast {broadcast_id}",
               f"{audience_label(plan.audience.kind, plan.audience.value)}; {phones} penerima; "
               f"{plan.measure.segments} SMS per keluarga; "
               + (f"{plan.split.sms} SMS, {plan.split.whatsapp_template} WhatsApp template, "
                  f"{plan.split.whatsapp_free} WhatsApp gratis; " if plan.whatsapp else "")
               + f"perkiraan biaya {rupiah(plan.cost)}; kirim "
               + ("sekarang" if plan.send_at is None
                  else f"{_local(plan.send_at)} {zone_label()}"))
    flash("Siaran dijadwalkan. SMS dikirim bertahap sesuai kecepatan gateway, tidak pada jam "
          "tenang.", "ok")
    return redirect(url_for("staff.broadcasts_detail", broadcast_id=broadcast_id), code=303)


@dataclass(frozen=True)
class Plan:
    """What sending would do now: the text as the families will read it, the characters it
    replaced, who and on which channel, how many parts, the cost and when."""

    text: str
    replaced: list[tuple[str, str]]
    audience: Audience
    recipients: int
    measure: Measure
    cost: int
    split: ChannelSplit
    whatsapp: bool  # the WhatsApp channel is on: `split` may hold more than SMS
    send_at: datetime | None
    minutes: int  # how long the gateway's pace takes to queue them all


def _plan(form: dict[str, str]) -> Plan:
    if len(form["text"]) > MAX_TYPED:
        raise BroadcastError(f"Pesan terlalu panjang: {len(form['text'])} karakter. Paling "
                             f"banyak {broadcasts.MAX_SEGMENTS} SMS per keluarga.")
    audience = Audience.parse(form["audience"])
    text = broadcasts.check_text(form["text"])
    send_at = _send_at(form["when"], form["send_at"])
    with connect() as connection:
        # The channels as they will be when sending starts (a window open now may be closed
        # by then).
        split = _split(connection, audience, send_at or now())
    phones = split.recipients
    if phones == 0:
        raise BroadcastError("Tidak ada penerima untuk pilihan ini (atau semuanya sudah "
                             "berhenti berlangganan siaran).")
    settings = runtime().settings
    rate = settings.broadcasts.rate_per_second
    return Plan(text=text, replaced=_replaced(form["text"]), audience=audience,
                recipients=phones, measure=measure(text),
                cost=split.cost(text, settings.gateway.price_per_segment,
                                settings.whatsapp.cost_per_message),
                split=split, whatsapp=settings.gateway.whatsapp.enabled,
                send_at=send_at, minutes=max(1, -(-int(phones / rate) // 60)) if rate > 0 else 0)


def _replaced(typed: str) -> list[tuple[str, str]]:
    """The characters outside GSM-7 and what the families will see instead."""
    seen: dict[str, str] = {}
    for char in typed:
        if char not in seen and char not in "\r" and septets(char) is None:
            seen[char] = to_gsm7(char)
    return list(seen.items())


def _confirm(form: dict[str, str], plan: Plan, *, error: str | None = None,
             warning: str | None = None) -> str:
    settings = runtime().settings
    return render_template(
        "staff/broadcasts/confirm.html", form=form, plan=plan, error=error, warning=warning,
        audience=audience_label(plan.audience.kind, plan.audience.value),
        price=settings.gateway.price_per_segment,
        template_price=settings.whatsapp.cost_per_message,
        template=broadcasts.KIND in settings.gateway.whatsapp.templates,
        rate=_rate_words(settings), quiet=settings.notifications.quiet_hours)


def _compose(form: dict[str, str], *, error: str | None = None) -> str:
    settings = runtime().settings
    return render_template(
        "staff/broadcasts/new.html", form=form, error=error,
        choices=audience_choices(), price=settings.gateway.price_per_segment,
        template_price=settings.whatsapp.cost_per_message, max_segments=broadcasts.MAX_SEGMENTS,
        rate=_rate_words(settings), quiet=settings.notifications.quiet_hours,
        earliest=f"{now().astimezone(local_zone()):%Y-%m-%dT%H:%M}")


def _rate_words(settings: Settings) -> str:
    """SMS a second, as Indonesians write a decimal ("2,5")."""
    return f"{settings.broadcasts.rate_per_second:g}".replace(".", ",")


def _send_at(when: str, text: str) -> datetime | None:
    """None: at once; else the local time given (the regency's zone), as UTC."""
    if when != "later":
        return None
    try:
        moment = datetime.fromisoformat(text.strip()).replace(tzinfo=local_zone()).astimezone(UTC)
    except ValueError:
        raise BroadcastError(
            f"Waktu kirim tidak terbaca: isi tanggal dan jam ({zone_label()}).") from None
    if moment < now() - timedelta(minutes=1):
        raise BroadcastError("Waktu kirim sudah lewat: pilih waktu yang akan datang, atau "
                             "kirim sekarang.")
    return moment


def _local(moment: datetime) -> str:
    return f"{moment.astimezone(local_zone()):%Y-%m-%d %H.%M}"


# --- one broadcast --------------------------------------------------------------------------
@staff.get("/broadcasts/<int:broadcast_id>")
@require(Role.ADMIN)
def broadcasts_detail(broadcast_id: int) -> Any:
    with connect() as connection:
        row = connection.execute(select(_BROADCAST).where(_BROADCAST.c.id == broadcast_id)
                                 ).first()
        if row is None:
            abort(404)
        progress = broadcasts.progress(connection, [broadcast_id])[broadcast_id]
        moment = now()
        settings = runtime().settings
        # With the WhatsApp channel on, what is still to send is estimated by channel, from
        # each family's channel now (or when it starts); what went is counted by the channel
        # it went on.
        split = None
        if settings.gateway.whatsapp.enabled and (row.status in broadcasts.OPEN
                                                  or progress.waiting > 0):
            split = _split(connection, Audience.of(row.audience, row.audience_value),
                           max(moment, row.send_at))
    price = settings.gateway.price_per_segment
    template_price = settings.whatsapp.cost_per_message
    # While it is being sent the page offers to fetch the new figures; it never reloads itself
    # (a page that changes under staff, unasked, is a barrier: WCAG 2.2.1).
    refresh = progress.waiting > 0 or row.status == broadcasts.SENDING or (
        row.status == broadcasts.SCHEDULED and row.send_at <= moment)
    body = render_template(
        "staff/broadcasts/detail.html", row=row, progress=progress,
        status=status_label(row.status, progress),
        cancellable=broadcasts.cancellable(row.status, progress),
        audience=audience_label(row.audience, row.audience_value), measure=measure(row.text),
        split=split, price=price, template_price=template_price,
        template=broadcasts.KIND in settings.gateway.whatsapp.templates,
        estimate=(split.cost(row.text, price, template_price) if split is not None
                  else None if settings.gateway.whatsapp.enabled
                  else broadcasts.cost(row.text, progress.total, price)),
        spent_sms=broadcasts.cost(row.text, progress.sent - progress.sent_whatsapp, price),
        spent_whatsapp=progress.sent_template * template_price, refresh=refresh,
        due=row.send_at <= moment,
        quiet=runtime().quiet_hours.is_quiet(moment))
    return body, 200, {"Cache-Control": "no-store"}


@staff.post("/broadcasts/<int:broadcast_id>/cancel")
@require(Role.ADMIN)
def broadcasts_cancel(broadcast_id: int) -> Response:
    with connect() as connection:
        try:
            removed = broadcasts.cancel(connection, broadcast_id, now())
        except BroadcastError as error:
            flash(str(error), "error")
        else:
            record(connection, "broadcast.cancel", f"broadcast {broadcast_id}",
                   f"{removed} SMS belum terkirim dihapus dari antrean")
            flash(f"Siaran dibatalkan. {removed} SMS yang belum terkirim tidak akan dikirim.",
                  "ok")
    return redirect(url_for("staff.broadcasts_detail", broadcast_id=broadcast_id), code=303)
