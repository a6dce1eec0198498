"""Messages in and out for admins, SMS and WhatsApp: what a resident sent and what the service
answered, each with its channel, by phone number, status and channel, and a failed message sent
again; above them, the phones flooding the service (`sms_ktp.messaging.floods`). Numbers are
masked and texts redacted. A notification shows its application's reference; one superseded
before it left shows the change that superseded it."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from sms_ktp.backoffice import messages as staff_messages
from sms_ktp.backoffice.staff import Role
from sms_ktp.domain.masking import mask_phone
from sms_ktp.domain.phones import normalise_msisdn
from sms_ktp.messaging import floods
from sms_ktp.messaging.outbox import requeue_failed, requeue_one
from sms_ktp.web.staff.blueprint import connect, now, record, require, runtime, staff
from sms_ktp.web.staff.paging import requested_page

PAGE = 50
STATUS_LABELS = {"queued": "antre", "sending": "sedang dikirim", "sent": "terkirim ke operator",
                 "buffered": "tertahan di operator", "delivered": "diterima",
                 "read": "dibaca",
                 "undelivered": "tidak sampai", "failed": "gagal",
                 "superseded": "diganti, tidak dikirim"}
DIRECTIONS = {"": "Semua", "out": "Keluar", "in": "Masuk"}
CHANNELS = {"": "Semua", "sms": "SMS", "whatsapp": "WhatsApp"}


@staff.get("/messages")
@require(Role.ADMIN)
def messages() -> tuple[str, int]:
    typed = request.args.get("phone", "").strip()[:40]
    status = request.args.get("status", "")
    status = status if status in STATUS_LABELS else ""
    direction = request.args.get("direction", "")
    direction = direction if direction in DIRECTIONS else ""
    channel = request.args.get("channel", "")
    channel = channel if channel in CHANNELS else ""
    page = requested_page()
    phone = normalise_msisdn(typed) if typed else None
    error = None
    if typed and phone is None:
        error = f"{typed} bukan nomor HP Indonesia (contoh 0812 3456 7890 atau +62812...)."
    total, found, failed = 0, [], 0
    if error is None:
        query = staff_messages.Search(phone, status or None, direction or None,
                                      channel or None)
        with connect() as connection:
            total, found = staff_messages.search(connection, query, page, PAGE)
            failed = staff_messages.failed_count(connection, phone) if phone else 0
    limits = runtime().settings.limits
    with connect() as connection:
        flooding = floods.flooding(connection, now(), limits.flood_inbound_per_hour,
                                   limits.flood_inbound_per_day)
    return render_template(
        "staff/messages.html", messages=found, total=total, page=page,
        pages=max(1, -(-total // PAGE)), typed=typed, phone=phone, status=status,
        direction=direction, statuses=STATUS_LABELS, directions=DIRECTIONS, failed=failed,
        channel=channel, channels=CHANNELS,
        error=error, masked_phone=mask_phone(phone) if phone else "", floods=flooding,
        limits=limits), 400 if error else 200


@staff.post("/messages/retry")
@require(Role.ADMIN)
def messages_retry() -> Response:
    """A failed SMS, or every failed SMS to one phone, gets a fresh set of attempts."""
    message_id = request.form.get("id", type=int)
    phone = normalise_msisdn(request.form.get("phone", "").strip()[:40] or "-")
    back = url_for("staff.messages", phone=request.form.get("back_phone") or None,
                   status=request.form.get("back_status") or None)
    moment = now()
    if message_id is not None:
        with connect() as connection:
            found = requeue_one(connection, message_id, moment)
            if found is not None:
                record(connection, "message.retry", f"outbox {message_id}",
                       f"to {mask_phone(found)}: fresh attempts")
        if found is None:
            flash(f"SMS {message_id} tidak berstatus gagal: tidak ada yang dikirim ulang.",
                  "error")
        else:
            flash(f"SMS {message_id} ke {mask_phone(found)} masuk antrean kirim lagi.", "ok")
        return redirect(back, code=303)
    if phone is None:
        flash("Pilih SMS yang gagal atau nomor HP yang SMS gagalnya dikirim ulang.", "error")
        return redirect(back, code=303)
    with runtime().db.transaction() as session:
        count = requeue_failed(session, moment, phone)
        if count:
            record(session.connection(), "message.retry", f"phone {mask_phone(phone)}",
                   f"{count} failed SMS: fresh attempts")
    flash(f"{count} SMS gagal ke {mask_phone(phone)} masuk antrean kirim lagi." if count
          else f"Tidak ada SMS gagal ke {mask_phone(phone)}.", "ok" if count else "error")
    return redirect(back, code=303)
