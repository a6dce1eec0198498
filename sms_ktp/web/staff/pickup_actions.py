"""The pickup decisions on an application's page: moving the family's visit to another slot and
handing its cards over with the code the resident shows (staff type it; they never read it)."""

from __future__ import annotations

from flask import request
from werkzeug.wrappers import Response

from sms_ktp.applications import pickup
from sms_ktp.backoffice.search import ApplicationDetail
from sms_ktp.domain.identity import digits_only
from sms_ktp.web.staff.application_actions import (
    ACTORS,
    Refused,
    audit_decision,
    decide,
    stage_allows,
    when,
)
from sms_ktp.web.staff.blueprint import me, require, runtime, staff


@staff.post("/applications/<reference>/reschedule")
@require(*ACTORS)
def application_reschedule(reference: str) -> Response:
    def act(found: ApplicationDetail) -> str:
        stage_allows(found, "reschedule", "Tidak ada jadwal ambil yang bisa dipindah.")
        runtime_ = runtime()
        try:
            start = pickup.reschedule_by_staff(runtime_.db, runtime_.clock,
                                               runtime_.pickup_policy(), reference, me().actor)
        except pickup.MoveRefused as refused:
            raise Refused("Belum ada slot kosong di kantor ini; jadwal tetap." if refused.key
                           == "pickup.full" else "Tidak ada jadwal ambil yang bisa dipindah."
                           ) from None
        shown = when(start)
        audit_decision("application.reschedule", reference, f"jadwal baru {shown}")
        return f"Jadwal ambil dipindah ke {shown}. Warga diberi tahu lewat SMS."

    return decide(reference, act)


@staff.post("/applications/<reference>/collect")
@require(*ACTORS)
def application_collect(reference: str) -> Response:
    def act(found: ApplicationDetail) -> str:
        stage_allows(found, "collect", "KTP-el ini tidak sedang menunggu diambil.")
        code = digits_only(request.form.get("code", "")).upper()[:20]
        if not code:
            raise Refused("Tulis kode ambil yang ada di SMS warga.")
        # `verify` finds a card by its code alone: the code must be this application's, or
        # another resident's card would be marked collected.
        if not found.accepts(code):
            raise Refused(f"Kode ambil {code} tidak cocok dengan permohonan ini. Minta warga "
                           "menunjukkan SMS jadwal ambil; KTP-el belum diserahkan.")
        # A family visit hands over the cards ticked (all of them unless staff untick a member
        # who did not come: that card gets a visit of its own, with an SMS).
        chosen = set(request.form.getlist("cards"))
        if len(found.visit_cards) <= 1:
            chosen = {reference}  # one card: no list to tick
        elif not chosen:
            raise Refused("Centang KTP-el yang diserahkan; belum ada yang diserahkan.")
        if not chosen <= {card for card, _ in found.visit_cards}:
            raise Refused("Pilih KTP-el dari kunjungan ini saja.")
        runtime_ = runtime()
        try:
            handover = pickup.verify(runtime_.db, runtime_.clock, code, me().actor,
                                     only=None if chosen >= {c for c, _ in found.visit_cards}
                                     else chosen)
        except pickup.VerifyError:
            raise Refused("Kode ambil ini sudah dipakai atau tidak berlaku lagi.") from None
        for handed in handover.handed:
            audit_decision("application.collect", handed, "kode ambil cocok")
        if handover.kept:
            return (f"{len(handover.handed)} KTP-el tercatat sudah diambil; "
                    f"{len(handover.kept)} lainnya dijadwalkan lagi (warga menerima SMS).")
        if len(handover.handed) > 1:
            return f"{len(handover.handed)} KTP-el keluarga ini tercatat sudah diambil."
        return "KTP-el tercatat sudah diambil."

    return decide(reference, act)
