"""Blangko (blank cards) per printing site and kind of card (KTP-el, KIA): the stock, its
history, and adding a delivery, with the same function and rules as `sms-ktp blangko add
[--card kia]`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import Connection, func, select

from sms_ktp.applications import printing
from sms_ktp.backoffice.staff import Role
from sms_ktp.backoffice.wording import document_words
from sms_ktp.domain.documents import CARDS
from sms_ktp.domain.stages import Stage
from sms_ktp.models import Application, BlangkoMovement, in_stage
from sms_ktp.platform.db import Database
from sms_ktp.web.staff.blueprint import connect, me, record, require, runtime, staff
from sms_ktp.web.staff.paging import requested_page

_MOVEMENT = BlangkoMovement.__table__
_APPLICATION = Application.__table__
PAGE = 50
# A delivery is hundreds or thousands of cards; a number beyond this is a typing mistake (and
# would overflow the column).
MAX_ADD = 1_000_000


class _Within:
    """A `Database` whose transaction is the caller's: the shared `printing.add_blangko` runs in
    the transaction that writes the audit entry, so neither happens without the other."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        yield self._connection


@staff.get("/blangko")
@require(Role.ADMIN, Role.OPERATOR)
def blangko() -> str:
    return _page()


@staff.post("/blangko")
@require(Role.ADMIN, Role.OPERATOR)
def blangko_add() -> Any:
    sites = runtime().settings.printing.sites
    site = request.form.get("site", "").strip() or sites[0]
    card = request.form.get("card", "").strip() or printing.KTP
    text = request.form.get("count", "").strip()
    error = None
    if site not in sites:
        error = f"Lokasi cetak tidak dikenal: pilih salah satu dari {', '.join(sites)}."
    elif card not in CARDS:
        error = ("Jenis kartu tidak dikenal: pilih salah satu dari "
                 f"{', '.join(map(document_words, CARDS))}.")
    elif not text.isdigit() or int(text) <= 0:
        error = "Jumlah blangko harus bilangan bulat positif (misalnya 500)."
    elif int(text) > MAX_ADD:
        error = f"Jumlah blangko paling banyak {MAX_ADD:_} sekali tambah.".replace("_", ".")
    if error:
        return _page(error=error, count=text), 400
    count = int(text)
    with connect() as connection:
        stock = printing.add_blangko(cast(Database, _Within(connection)), runtime().clock, site,
                                     count, me().actor, card)
        kind = "" if card == printing.KTP else f" {card}"  # as the command line words it
        record(connection, "blangko.add", f"site {site}",
               f"+{count} blangko{kind}; stock {stock.total}, reserved {stock.reserved}, "
               f"free {stock.free}")
    flash(f"{count} blangko {document_words(card)} ditambahkan ke {site}: stok {stock.total}, "
          f"dipesan {stock.reserved}, bebas {stock.free}.", "ok")
    return redirect(url_for("staff.blangko", site=site, card=card), code=303)


def _page(error: str | None = None, count: str = "") -> str:
    sites = runtime().settings.printing.sites
    site = request.values.get("site", "")
    site = site if site in sites else ""
    page = requested_page()
    history = select(_MOVEMENT)
    if site and request.method == "GET":
        history = history.where(_MOVEMENT.c.site == site)
    card = request.values.get("card", "")
    with connect() as connection:
        stocks = [printing.stock(connection, name, kind) for name in sites for kind in CARDS]
        waiting = {kind: connection.execute(
            select(func.count()).select_from(_APPLICATION)
            .where(in_stage(Stage.PRINT_QUEUE), _APPLICATION.c.print_batch_id.is_(None),
                   printing.printed_on(kind))
        ).scalar_one() for kind in CARDS}
        total = connection.execute(select(func.count()).select_from(history.subquery())
                                   ).scalar_one()
        movements = connection.execute(
            history.order_by(_MOVEMENT.c.id.desc()).offset((page - 1) * PAGE).limit(PAGE)).all()
    return render_template("staff/blangko.html", stocks=stocks, sites=sites, site=site,
                           waiting=waiting, movements=movements, page=page, total=total,
                           pages=max(1, -(-total // PAGE)), error=error, count=count,
                           cards=CARDS, card=card if card in CARDS else printing.KTP,
                           card_words=document_words)
