"""The applications list: the work queues (filters in the query string, the longest wait
first, paged by keyset; a document's list offers that document's stages), the search box
(reference, NIK or the family's phone, posted so that a NIK never lands in a URL), and the
export of a filtered list. An operator's list is of their own kecamatan only; a kelurahan
helper only looks one resident up."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from tempfile import SpooledTemporaryFile
from typing import Any

from flask import Response, abort, render_template, request, send_file, stream_with_context

from sms_ktp.applications import printing
from sms_ktp.applications.kelurahan_contact import kelurahan_names
from sms_ktp.backoffice import export as exporting
from sms_ktp.backoffice import worklist
from sms_ktp.backoffice.search import Key, Query, SearchResult, search
from sms_ktp.backoffice.staff import Role, Staff
from sms_ktp.backoffice.wording import document_words
from sms_ktp.backoffice.worklist import DateField, Filters, PrintWait, Sort, stages_of
from sms_ktp.domain import documents, region
from sms_ktp.domain.local_time import local_date
from sms_ktp.domain.stages import Stage
from sms_ktp.web.staff.application_actions import labels
from sms_ktp.web.staff.blueprint import connect, me, now, record, require, runtime, staff

DATE_FIELDS = {DateField.CREATED: "Tanggal daftar", DateField.READY: "Tanggal siap cetak",
               DateField.PRINTED: "Tanggal dicetak", DateField.PICKUP: "Tanggal jadwal ambil",
               DateField.COLLECTED: "Tanggal diambil"}
PRINT_WAITS = {PrintWait.BLANGKO: "menunggu blangko",
               PrintWait.BATCH: "menunggu batch cetak (blangko cukup)",
               PrintWait.RESERVED: "sudah dalam batch, belum tercetak"}
SORTS = {Sort.OLDEST: "Paling lama menunggu dulu", Sort.NEWEST: "Paling baru dulu"}
FORMATS = {"csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


staff.add_app_template_filter(document_words, "document_name")


def document_choices(chosen: str | None) -> dict[str, str]:
    """The documents a list can be narrowed to: those the regency offers (and one chosen by a
    link although no longer offered, whose applications still exist)."""
    codes = documents.enabled()
    if chosen is not None and chosen not in codes:
        codes = (*codes, chosen)
    return {code: document_words(code) for code in codes}


def stage_choices(filters: Filters) -> tuple[Stage, ...]:
    """The stages the filter offers, in the pipelines' order: the chosen document's, or those
    of every document offered (and the stage chosen, should it be another's)."""
    offered = stages_of(filters.document) if filters.document \
        else stages_of(*documents.enabled())
    if filters.stage is not None and filters.stage not in offered:
        offered = (*offered, filters.stage)
    return offered


def _cursor(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() and len(value) < 19 else None


def _scope(filters: Filters) -> Filters:
    person = me()
    return filters.scoped(person.office if person.role is Role.OPERATOR else None)


def _free() -> dict[str, int]:
    """The free blank cards of each kind (KTP-el, KIA) over every site: what tells "waiting
    for blangko" from "waiting for a print batch"."""
    with connect() as connection:
        return printing.free_by_card(connection, runtime().settings.printing.sites)


@staff.route("/applications", methods=["GET", "POST"])
@require(Role.ADMIN, Role.OPERATOR, Role.HELPER)
def applications() -> str:
    # The search form posts: a NIK typed into it never lands in a URL (browser history, a
    # proxy's access log). A reference or phone in `?q=` still works for links.
    text = (request.form if request.method == "POST" else request.args).get("q", "")[:60]
    person = me()
    if text.strip() or person.role is Role.HELPER:
        return _search_page(text)
    parsed = worklist.parse_filters(request.args)
    filters = _scope(parsed.filters)
    free = _free() if filters.print_wait is not None else 0
    with connect() as connection:
        found = worklist.page(connection, filters, after=_cursor("after"),
                              before=_cursor("before"), last=request.args.get("last") == "1",
                              free=free)
    today = local_date(now())
    return render_template(
        "staff/applications.html", result=None, typed="", browse=True, worklist=found,
        filters=filters, query=filters.as_query(), errors=parsed.errors,
        stages=stage_choices(filters), documents=document_choices(filters.document),
        # An operator's own kecamatan is where they work, not a filter they chose.
        filtering=(replace(filters, kecamatan=None) if person.role is Role.OPERATOR
                   else filters).any,
        date_fields=DATE_FIELDS, print_waits=PRINT_WAITS, sorts=SORTS,
        kecamatan=region.current().kecamatan, kelurahan=_kelurahan_choices(person),
        waited=lambda at: (today - local_date(at)).days,
        **labels())


def _kelurahan_choices(person: Staff) -> dict[str, dict[str, str]]:
    """The kelurahan a list can be narrowed to, by kecamatan code: an operator's own only."""
    served = region.current()
    grouped: dict[str, dict[str, str]] = {}
    for code, name in sorted(kelurahan_names(served.code).items()):
        if person.role is not Role.OPERATOR or code[4:6] == person.office:
            grouped.setdefault(code[4:6], {})[code] = name
    return grouped


def _search_page(text: str) -> str:
    person = me()
    if person.role is Role.HELPER and not text.strip():
        # A kelurahan helper looks up one resident's status; browsing the city's newest
        # applications is not their job.
        result = SearchResult(Query(Key.RECENT), [])
    else:
        office = person.office if person.role is Role.OPERATOR else None
        with connect() as connection:
            result = search(connection, text, office=office)
    # A typed NIK is never shown back in full, not even in the search box; nor a visit's code
    # (a pickup code is the family's proof at the counter).
    typed = "" if result.query.key in (Key.NIK, Key.CODE) else text
    return render_template("staff/applications.html", result=result, typed=typed,
                           browse=person.role is not Role.HELPER, worklist=None, **labels())


# --- export -------------------------------------------------------------------------------------

@staff.get("/applications/export.<fmt>")
@require(Role.ADMIN, Role.OPERATOR)
def applications_export(fmt: str) -> Response:
    """The filtered list with masked numbers: anybody who may browse the list may take it."""
    return _export(fmt, request.args, full=False)


@staff.post("/applications/export")
@require(Role.ADMIN)
def applications_export_full() -> Response:
    """The filtered list with full NIK and KK numbers (for Kemendagri's penunggalan): an
    admin's, posted with the CSRF token so that no link or prefetch starts it, and audited."""
    return _export(request.form.get("format", "csv"), request.form, full=True)


def _export(fmt: str, args: Any, *, full: bool) -> Response:
    if fmt not in FORMATS:
        abort(404)
    filters = _scope(worklist.parse_filters(args).filters)
    free = _free() if filters.print_wait is not None else 0
    described = _describe(filters)
    with connect() as connection:
        total = worklist.count(connection, filters, free=free)
        if full:
            record(connection, "applications.export_full", f"{total} applications",
                   f"{fmt}; {described}; full NIK and KK"[:500])
        else:
            record(connection, "applications.export", f"{total} applications",
                   f"{fmt}; {described}; masked"[:500])
    stamp = f"{now():%Y%m%d-%H%M}"
    name = f"permohonan-{stamp}{'-nik-lengkap' if full else ''}.{fmt}"
    if fmt == "csv":
        return Response(stream_with_context(_csv(filters, full=full, free=free)),
                        mimetype="text/csv", headers={
                            "Content-Disposition": f'attachment; filename="{name}"',
                            "Cache-Control": "no-store"})
    spool: Any = SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 (send_file closes)
    with connect() as connection:
        exporting.write_xlsx(worklist.export_rows(connection, filters, full=full, free=free),
                             spool, title="Permohonan")
    spool.seek(0)
    response = send_file(spool, mimetype=FORMATS["xlsx"], as_attachment=True,
                         download_name=name, max_age=0)
    response.headers["Cache-Control"] = "no-store"
    return response


def _csv(filters: Filters, *, full: bool, free: worklist.Free) -> Iterator[bytes]:
    with connect() as connection:
        for text in exporting.csv_lines(
                worklist.export_rows(connection, filters, full=full, free=free)):
            yield text.encode("utf-8")


def _describe(filters: Filters) -> str:
    """The filters of an export in the audit log's words (never a number of a resident)."""
    query = filters.as_query()
    return ", ".join(f"{key}={value}" for key, value in query.items()) or "no filter"
