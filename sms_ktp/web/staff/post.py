"""Kiriman pos: the family visits to post instead of hand over (`[delivery] post`, asked by SMS
with KIRIM), each with a form for the courier's tracking number (the family gets it by SMS),
and those on their way, each with a button for its delivery. The same functions and rules as
`sms-ktp post`.

For the roles that hand cards over at the counter: an operator sees and acts on the parcels of
their own office only (another office's parcel is "not found"). Every action is a POST with the
CSRF token, audited per card like a hand-over, and answered with a redirect back (303) and a
flash message. Only masked NIKs are shown; the address is the one on the KK (the application's
page reveals it, audited).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from sms_ktp.applications import delivery
from sms_ktp.backoffice.search import kecamatan_name
from sms_ktp.backoffice.staff import Role
from sms_ktp.web.staff.blueprint import (
    allows_office,
    connect,
    current_staff,
    me,
    record,
    require,
    runtime,
    staff,
)

ROLES = (Role.ADMIN, Role.OPERATOR)  # who hands cards over at the counter


@staff.get("/post")
@require(*ROLES)
def post_parcels() -> str:
    person = me()
    office = person.office if person.role is Role.OPERATOR else None
    with connect() as connection:
        to_post, on_its_way = delivery.parcels(connection, office=office)
    settings = runtime().settings.delivery
    return render_template("staff/post.html", to_post=to_post, on_its_way=on_its_way,
                           offered=settings.post, courier=settings.courier.strip(),
                           kecamatan=kecamatan_name, tracking_limit=delivery.TRACKING_LIMIT)


@staff.post("/post/<reference>/sent")
@require(*ROLES)
def post_sent(reference: str) -> Response:
    def act() -> str:
        runtime_ = runtime()
        tracking = request.form.get("tracking", "")[:60]
        posted = delivery.sent(runtime_.db, runtime_.clock, runtime_.pickup_policy(),
                               reference, tracking, me().actor)
        shown = delivery.tracking_number(tracking)
        _audit("application.post_sent", posted, f"diserahkan ke kurir, nomor kiriman {shown}")
        return (f"{len(posted)} KTP-el tercatat dikirim, nomor kiriman {shown}. Warga menerima "
                "SMS nomor kirimannya.")

    return _act(reference, act)


@staff.post("/post/<reference>/delivered")
@require(*ROLES)
def post_delivered(reference: str) -> Response:
    def act() -> str:
        runtime_ = runtime()
        done = delivery.delivered(runtime_.db, runtime_.clock, runtime_.pickup_policy(),
                                  reference, me().actor)
        _audit("application.post_delivered", done, "kiriman sampai di alamat KK")
        return f"{len(done)} KTP-el tercatat sudah sampai di alamat KK."

    return _act(reference, act)


_REFUSALS = {
    "unknown": "Kiriman ini tidak (lagi) menunggu langkah ini. Muat ulang halaman.",
    "posted": "Kiriman ini sudah diserahkan ke kurir; nomor kirimannya sudah tercatat.",
    "tracking": (f"Nomor kiriman tidak sah: 6 sampai {delivery.TRACKING_LIMIT} huruf, angka atau "
                 "tanda minus, dan bukan NIK atau KK."),
}


def _act(reference: str, act: Callable[[], str]) -> Response:
    """One step on a parcel the signed-in member of staff may see, then back to the list."""
    with connect() as connection:
        parcel = delivery.parcel_of(connection, reference[:20])
    if parcel is None or not allows_office(parcel.office):
        flash(_REFUSALS["unknown"], "error")
        return redirect(url_for("staff.post_parcels"), code=303)
    try:
        flash(act(), "ok")
    except delivery.DeliveryError as refused:
        flash(_REFUSALS.get(refused.why, str(refused)), "error")
    return redirect(url_for("staff.post_parcels"), code=303)


def _audit(action: str, references: tuple[str, ...], detail: str) -> None:
    """One entry per card, after the step committed in its own transaction (as a hand-over)."""
    with connect() as connection:
        for reference in references:
            record(connection, action, f"application {reference}", detail)


@staff.record_once
def _post_link(state: Any) -> None:
    """The navigation shows "Kiriman pos" where cards are posted, to whom the page is for."""

    def post_link() -> bool:
        person = current_staff()
        return (person is not None and person.role in ROLES
                and runtime().settings.delivery.post)

    state.app.jinja_env.globals.update(post_link=post_link)
