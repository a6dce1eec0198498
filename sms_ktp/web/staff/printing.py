"""Printing in the browser: what `sms-ktp print next` and `print done` do, for the staff at the
printer. Make a batch from the print queue within the free blangko, print its list of cards,
and mark it printed, whole or in part: the cards that failed go back to the front of the queue
and their blangko is accounted for (released, or written off when the failed print spoiled
it). Marking printed asks for confirmation first, saying what follows (the families' pickup
SMS). Every step is audited in the transaction that makes it.

An admin works on any printing site; an operator on the site named after their office when
there is one, else on the first configured, as the command line does without `--site`. Each kind
of card (KTP-el, KIA) has its own blangko, queue and batches: the page shows one kind at a time
(`?card=kia`; the KTP-el's by default), as the command line's `--card` does.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select

from sms_ktp.applications import printing
from sms_ktp.backoffice.staff import Role
from sms_ktp.backoffice.wording import document_words
from sms_ktp.domain.documents import CARDS
from sms_ktp.domain.stages import Stage
from sms_ktp.models import Application, PrintBatch, in_stage
from sms_ktp.web.staff.blueprint import connect, me, now, record, require, runtime, staff

_APPLICATION = Application.__table__
_BATCH = PrintBatch.__table__
MAX_BATCH = 100_000  # a limit beyond this is a typing slip
NOTE_LIMIT = 80  # written into the blangko history's reason (100 characters with the batch)
SPOILED, KEPT = "rusak", "utuh"  # what the confirmation asks of each failed card's blangko
RECENT_DONE = 10


def _sites() -> list[str]:
    return list(runtime().settings.printing.sites)


def _site(asked: str | None = None) -> str:
    """The site the signed-in member of staff works on."""
    sites = _sites()
    person = me()
    if person.role is Role.OPERATOR:
        return person.office if person.office in sites else sites[0]
    return asked if asked in sites else sites[0]


def _may_work_on(site: str) -> bool:
    return me().role is Role.ADMIN or site == _site()


def _card(asked: str | None) -> str:
    """The kind of card asked for (`card`), else the KTP-el."""
    return asked if asked in CARDS else printing.KTP


def card_words(card: str) -> str:
    """"KTP-el", "KIA": a kind of card as staff call it (the document printed on it)."""
    return document_words(card)


def _at(site: str, card: str) -> str:
    """A site's stock of one kind of card in an audit entry, as the command line names it."""
    return site if card == printing.KTP else f"{site} ({card})"


@staff.get("/printing", endpoint="printing")
@require(Role.ADMIN, Role.OPERATOR)
def printing_page() -> str:
    return _page(_site(request.args.get("site")), _card(request.args.get("card")))


def _page(site: str, card: str, *, error: str | None = None, limit: str = "") -> str:
    with connect() as connection:
        stock = printing.stock(connection, site, card)
        city_free = printing.free_blangko(connection, _sites(), card)
        # The cards of this kind no batch has taken yet, and since when the oldest waits: one
        # read of the print queue's partial index.
        waiting, oldest = connection.execute(
            select(func.count(), func.min(_APPLICATION.c.ready_at))
            .where(in_stage(Stage.PRINT_QUEUE), _APPLICATION.c.print_batch_id.is_(None),
                   printing.printed_on(card))
        ).one()
        # Every kind's cards beyond its free blangko, for the choice of kind.
        short = {kind: _beyond(connection, kind) for kind in CARDS}
        covered = min(waiting, city_free)
        batches = printing.open_batches(connection, site, card)
        done = connection.execute(
            select(_BATCH).where(_BATCH.c.site == site, _BATCH.c.card == card,
                                 _BATCH.c.done_at.is_not(None))
            .order_by(_BATCH.c.done_at.desc(), _BATCH.c.id.desc()).limit(RECENT_DONE)).all()
    return render_template(
        "staff/printing.html", site=site, sites=_sites(), stock=stock, waiting=waiting,
        covered=covered, beyond=max(0, waiting - city_free), oldest=oldest, batches=batches,
        done=done, error=error, limit=limit or str(min(stock.free, waiting) or ""),
        can_choose=me().role is Role.ADMIN, card=card, cards=CARDS, short=short,
        card_name=card_words(card), card_words=card_words)


def _beyond(connection: Any, card: str) -> int:
    """The cards of this kind waiting beyond the free blangko of every site."""
    waiting = connection.execute(
        select(func.count()).select_from(_APPLICATION)
        .where(in_stage(Stage.PRINT_QUEUE), _APPLICATION.c.print_batch_id.is_(None),
               printing.printed_on(card))).scalar_one()
    return max(0, int(waiting) - printing.free_blangko(connection, _sites(), card))


@staff.post("/printing/batches")
@require(Role.ADMIN, Role.OPERATOR)
def printing_reserve() -> Any:
    site = _site(request.form.get("site"))
    card = _card(request.form.get("card"))
    text = request.form.get("limit", "").strip()
    if text and (not text.isdigit() or not 0 < int(text) <= MAX_BATCH):
        return _page(site, card, error="Jumlah kartu harus bilangan bulat positif (misalnya "
                                       "200), atau kosongkan untuk memakai semua blangko bebas.",
                     limit=text[:10]), 400
    limit = int(text) if text else None
    with connect() as connection:
        reserved = printing.reserve(connection, now(), site, limit, card)
        if reserved.batch_id is not None:
            record(connection, "print.reserve", f"print batch {reserved.batch_id}",
                   f"site {_at(site, card)}; {len(reserved.cards)} cards; free blangko left "
                   f"{reserved.stock.free}")
    if reserved.batch_id is None:
        why = (f"tidak ada blangko {card_words(card)} bebas: tambahkan kiriman blangko dulu"
               if reserved.stock.free <= 0
               else f"tidak ada {card_words(card)} siap cetak yang menunggu")
        flash(f"Batch tidak dibuat: {why}.", "error")
        return redirect(_page_url(site, card), code=303)
    flash(f"Batch {reserved.batch_id} dibuat: {len(reserved.cards)} {card_words(card)}, "
          f"blangko disisihkan. Cetak daftarnya, lalu tandai tercetak.", "ok")
    return redirect(url_for("staff.printing_batch", batch_id=reserved.batch_id), code=303)


def _batch_or_404(batch_id: int) -> printing.Batch:
    with connect() as connection:
        found = printing.batch(connection, batch_id)
    # Another site's batch is not the operator's: not found, as if it did not exist.
    if found is None or not _may_work_on(found.site):
        abort(404)
    return found


@staff.get("/printing/batches/<int:batch_id>")
@require(Role.ADMIN, Role.OPERATOR)
def printing_batch(batch_id: int) -> str:
    found = _batch_or_404(batch_id)
    with connect() as connection:
        cards = printing.batch_cards(connection, batch_id)
    # A done batch lists the cards it printed; an open one, those still in the print queue.
    waiting = [card for card in cards if card.stage == Stage.PRINT_QUEUE.value]
    return render_template("staff/printing_batch.html", batch=found,
                           cards=cards if found.done_at else waiting,
                           card_name=card_words(found.card),
                           back=_page_url(found.site, found.card))


def _page_url(site: str, card: str) -> str:
    """The printing page of this site and kind of card (the KTP-el's without `card`)."""
    if card == printing.KTP:
        return url_for("staff.printing", site=site)
    return url_for("staff.printing", site=site, card=card)


@staff.post("/printing/batches/<int:batch_id>/done")
@require(Role.ADMIN, Role.OPERATOR)
def printing_done(batch_id: int) -> Any:
    found = _batch_or_404(batch_id)
    if found.done_at is not None:
        flash(f"Batch {batch_id} sudah ditandai tercetak sebelumnya; tidak ada yang diubah.",
              "error")
        return redirect(url_for("staff.printing_batch", batch_id=batch_id), code=303)
    with connect() as connection:
        cards = [card for card in printing.batch_cards(connection, batch_id)
                 if card.stage == Stage.PRINT_QUEUE.value]
    known = {card.reference for card in cards}
    failed = [reference for reference in request.form.getlist("failed") if reference in known]
    blangko = {reference: request.form.get(f"blangko-{reference}", "") for reference in failed}
    note = " ".join(request.form.get("note", "").split())[:NOTE_LIMIT]
    if request.form.get("confirmed") != "1":
        return _confirm(found, cards, failed, blangko, note)
    unanswered = [reference for reference, answer in blangko.items()
                  if answer not in (SPOILED, KEPT)]
    if unanswered:
        return _confirm(found, cards, failed, blangko, note,
                        error="Jawab untuk setiap kartu yang gagal: apakah blangkonya rusak?",
                        unanswered=unanswered), 400
    outcome = {reference: blangko[reference] == SPOILED for reference in failed}
    runtime_ = runtime()
    with connect() as connection:
        finished = printing.finish_batch(connection, now(), runtime_.quiet_hours, batch_id,
                                         me().actor, outcome, note)
        if finished is not None:
            record(connection, "print.done", f"print batch {batch_id}",
                   f"site {_at(found.site, found.card)}; printed {finished.printed}; back in "
                   f"the print queue "
                   f"{finished.returned}"
                   + (f" ({', '.join(sorted(outcome))})" if outcome else "")
                   + f"; spoiled blangko {finished.spoiled}"
                   + (f"; note: {note}" if note else ""))
    if finished is None:
        flash(f"Batch {batch_id} sudah ditandai tercetak sebelumnya; tidak ada yang diubah.",
              "error")
        return redirect(url_for("staff.printing_batch", batch_id=batch_id), code=303)
    parts = [f"Batch {batch_id}: {finished.printed} {card_words(found.card)} ditandai tercetak"]
    if finished.printed:
        parts.append(f"{finished.families} keluarga akan menerima SMS jadwal ambil")
    if finished.returned:
        parts.append(f"{finished.returned} kartu kembali ke depan antrean cetak")
    if finished.spoiled:
        parts.append(f"{finished.spoiled} blangko rusak dicatat terpakai")
    flash("; ".join(parts) + ".", "ok")
    return redirect(_page_url(found.site, found.card), code=303)


def _confirm(found: printing.Batch, cards: list[printing.BatchCard], failed: list[str],
             blangko: dict[str, str], note: str, *, error: str | None = None,
             unanswered: list[str] | None = None) -> str:
    printed = [card for card in cards if card.reference not in failed]
    return render_template(
        "staff/printing_confirm.html", batch=found, printed=printed,
        families=len({card.family_id for card in printed}),
        failed=[card for card in cards if card.reference in failed], blangko=blangko,
        note=note, error=error, unanswered=set(unanswered or ()), note_limit=NOTE_LIMIT,
        spoiled=SPOILED, kept=KEPT, card_name=card_words(found.card))
