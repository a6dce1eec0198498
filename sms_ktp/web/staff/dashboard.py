"""The dashboard (Ringkasan): the state of the service at a glance, for admins and viewers over
the whole city and for an operator over their own office, every document or one chosen
(`?document=kk`: its stages per kecamatan and its charts). Rendered on the server, charts
included, so that it opens quickly on a slow office connection."""

from __future__ import annotations

from flask import render_template, request
from markupsafe import Markup

from sms_ktp.backoffice.dashboard import dashboard as read_dashboard
from sms_ktp.backoffice.staff import Role
from sms_ktp.backoffice.wording import document_words
from sms_ktp.domain import documents, region
from sms_ktp.web.staff.blueprint import connect, me, now, require, runtime, staff
from sms_ktp.web.staff.worklist import document_choices
from sms_ktp.web.svg_chart import bar_chart, day_label

# The charts of the last 30 days: key, title, what is counted.
CHARTS = (
    ("registrations", "Pendaftaran per hari", "Permohonan baru"),
    ("printed", "Kartu dicetak per hari", "Kartu dicetak"),
    # Cards taken at the counter and signed PDFs handed over alike (`collected`).
    ("collected", "Diambil per hari", "Diambil"),
)
# A document ending as a PDF is not printed, and it is handed over rather than a card taken.
PDF_CHARTS = (
    ("registrations", "Pendaftaran per hari", "Permohonan baru"),
    ("collected", "Dokumen diserahkan per hari", "Diserahkan"),
)


@staff.get("/")
@require(Role.ADMIN, Role.OPERATOR, Role.VIEWER)
def dashboard() -> str:
    person = me()
    office = person.office if person.role is Role.OPERATOR else None
    settings = runtime().settings
    offices = runtime().pickup_policy().offices  # reads the database: before the transaction
    # A document no longer offered may still be looked at through a link; an unknown one is
    # no filter.
    document = request.args.get("document", "").strip() or None
    if document not in documents.DOCUMENTS:
        document = None
    with connect() as connection:
        figures = read_dashboard(
            connection, now(), office, sites=settings.printing.sites,
            slot_minutes={code: each.slot_minutes for code, each in offices.items()},
            document=document)
    activity = figures.activity
    shown = PDF_CHARTS if document and documents.document(document).card is None else CHARTS
    named = f" ({document_words(document)})" if document else ""
    # bar_chart escapes every text it writes, so its SVG may go into the page as it is.
    charts = [(title + named, Markup(bar_chart(getattr(activity, key), title=title + named,
                                               chart_id=f"chart-{key}", css_class=key)))
              for key, title, _ in shown]
    # Registrations per document beside the total, when the page is of every document.
    split = tuple(activity.by_document) if document is None and len(activity.by_document) > 1 \
        else ()
    daily = [(day_label(day, year=True), day.isoformat(),
              [(key, getattr(activity, key)[index][1]) for key, _, _ in shown],
              [(code, activity.by_document[code][index][1]) for code in split])
             for index, (day, _) in enumerate(activity.registrations)]
    kecamatan = region.current().kecamatan
    office_names = {code: each.name for code, each in offices.items()}
    return render_template(
        "staff/dashboard.html", figures=figures, charts=charts, daily=daily,
        columns=[counted for _, _, counted in shown], split=split, kecamatan=kecamatan,
        document=document, documents=document_choices(document),
        # What a count of the chosen document adds to its list's link.
        of_document={"document": document} if document else {},
        office_names=office_names, price=settings.gateway.price_per_segment,
        whatsapp_price=settings.whatsapp.cost_per_message,
        today=day_label(figures.pickups.day, year=True), scope=_scope(office, kecamatan),
        # Every count links to the applications it counts, for whoever may open that list.
        can_list=person.role in (Role.ADMIN, Role.OPERATOR),
        can_print=person.role in (Role.ADMIN, Role.OPERATOR))


def _scope(office: str | None, kecamatan: dict[str, str]) -> str:
    """Which figures the page shows, in words."""
    if office is None:
        return f"seluruh {region.current().name}"
    name = kecamatan.get(office)
    return f"Kecamatan {office} {name}" if name else f"kantor {office}"


@staff.app_template_filter("thousands")
def _thousands(value: int | None) -> str:
    """12345 -> "12.345", as Indonesians write numbers."""
    return f"{int(value or 0):,}".replace(",", ".")


@staff.app_template_filter("rupiah")
def _rupiah(value: int | None) -> str:
    return f"Rp {_thousands(value)}"
