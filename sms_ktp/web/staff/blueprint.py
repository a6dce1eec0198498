"""The staff blueprint and what every staff page relies on: the signed-in member of staff, role
checks on the server, the audit log, and the navigation. The CSRF token of every form is
checked for the whole application (`sms_ktp.web.csrf`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, NamedTuple, TypeVar, cast

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import Connection

from sms_ktp.applications.kelurahan_contact import kelurahan_name
from sms_ktp.backoffice import sessions
from sms_ktp.backoffice.roles import ROLE_NAMES
from sms_ktp.backoffice.search import kecamatan_name
from sms_ktp.backoffice.staff import Role, Staff
from sms_ktp.backoffice.wording import stage_words
from sms_ktp.domain import region
from sms_ktp.domain.contact_address import is_kelurahan_code
from sms_ktp.domain.masking import mask_id
from sms_ktp.domain.pickup_calendar import local
from sms_ktp.platform import audit
from sms_ktp.runtime import Runtime
from sms_ktp.web.addresses import request_address

staff = Blueprint("staff", __name__, url_prefix="/staff")
F = TypeVar("F", bound=Callable[..., Any])
ALL_ROLES = frozenset(Role)
SESSION_TOKEN = "session"  # the cookie's key for the token of the server-side session


class NavItem(NamedTuple):
    endpoint: str
    label: str
    roles: frozenset[Role]


# Every page of the back office and who may open it; a page appears in the menu once its module
# exists. The server checks the same roles on every request (`require`).
NAV = (
    NavItem("staff.dashboard", "Ringkasan", frozenset({Role.ADMIN, Role.OPERATOR, Role.VIEWER})),
    NavItem("staff.helper_home", "Beranda", frozenset({Role.HELPER})),
    NavItem("staff.applications", "Permohonan",
            frozenset({Role.ADMIN, Role.OPERATOR, Role.HELPER})),
    NavItem("staff.verification", "Verifikasi", frozenset({Role.ADMIN, Role.OPERATOR})),
    NavItem("staff.counter", "Loket", frozenset({Role.ADMIN, Role.OPERATOR, Role.HELPER})),
    NavItem("staff.papers", "Serah berkas", frozenset({Role.ADMIN, Role.OPERATOR})),
    NavItem("staff.printing", "Cetak", frozenset({Role.ADMIN, Role.OPERATOR})),
    NavItem("staff.register", "Daftarkan warga",
            frozenset({Role.ADMIN, Role.OPERATOR, Role.HELPER})),
    NavItem("staff.phone_change", "Ganti nomor HP",
            frozenset({Role.ADMIN, Role.OPERATOR, Role.HELPER})),
    NavItem("staff.penunggalan", "Penunggalan", frozenset({Role.ADMIN})),
    NavItem("staff.blangko", "Blangko", frozenset({Role.ADMIN, Role.OPERATOR})),
    NavItem("staff.offices", "Kantor & kuota", frozenset({Role.ADMIN, Role.OPERATOR})),
    NavItem("staff.broadcasts", "Siaran SMS", frozenset({Role.ADMIN})),
    NavItem("staff.messages", "Pesan", frozenset({Role.ADMIN})),
    NavItem("staff.privacy", "Privasi", frozenset({Role.ADMIN})),
    NavItem("staff.audit_log", "Audit", frozenset({Role.ADMIN})),
)
HOME = {Role.ADMIN: "staff.dashboard", Role.OPERATOR: "staff.dashboard",
        Role.VIEWER: "staff.dashboard", Role.HELPER: "staff.helper_home"}


def runtime() -> Runtime:
    return cast(Runtime, current_app.extensions["sms_ktp"])


def now() -> datetime:
    return runtime().clock.now()


def current_staff() -> Staff | None:
    return cast(Staff | None, g.get("staff"))


def me() -> Staff:
    """The signed-in member of staff (the page's `require` has made sure there is one)."""
    person = current_staff()
    if person is None:
        abort(401)
    return person


@contextmanager
def connect() -> Iterator[Connection]:
    with runtime().db.connect() as connection:
        yield connection


def record(connection: Connection, action: str, target: str = "", detail: str = "") -> None:
    """An audit entry for the signed-in member of staff, in the caller's transaction."""
    audit.record(connection, now(), me().actor, action, target, detail,
                 request_address())


def require(*roles: Role) -> Callable[[F], F]:
    """Only these roles may open the page (a stranger is sent to the login page)."""
    allowed = frozenset(roles) or ALL_ROLES

    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            person = current_staff()
            if person is None:
                expired = {"expired": 1} if g.get("timed_out") else {}
                return redirect(url_for("staff.login", next=request.full_path.rstrip("?"),
                                        **expired))
            if person.role not in allowed:
                return render_template("staff/refused.html"), 403
            return view(*args, **kwargs)

        guarded.allowed_roles = allowed  # type: ignore[attr-defined]
        return cast(F, guarded)

    return decorate


def my_kelurahan() -> str | None:
    """The kelurahan a helper works in (their account's office), which may be the contact of
    a family without a phone; None for anybody else."""
    person = me()
    return person.office if person.role is Role.HELPER and is_kelurahan_code(
        person.office) else None


def allows_office(office: str | None) -> bool:
    """Whether the signed-in member of staff may act on something of this pickup office: an
    operator only on their own."""
    person = me()
    return person.role is not Role.OPERATOR or office == person.office


def home_url() -> str:
    """The signed-in member of staff's own first page (`HOME`, else the first page of their
    menu), or the sign-in page."""
    person = current_staff()
    if person is None:
        return url_for("staff.login")
    endpoint = HOME[person.role]
    items = nav()
    if items and endpoint not in {item.endpoint for item in items}:
        endpoint = items[0].endpoint
    return url_for(endpoint)


def nav() -> list[NavItem]:
    person = current_staff()
    if person is None:
        return []
    views = current_app.view_functions
    return [item for item in NAV if person.role in item.roles and item.endpoint in views]


@staff.before_request
def _load() -> None:
    """The session's member of staff (signed out after `idle_minutes` without a request)."""
    g.staff = session_staff()


def session_staff() -> Staff | None:
    """The member of staff signed in with this browser's session, if it is still open on the
    server (`sms_ktp.backoffice.sessions`): it ends after `idle_minutes` without a request, at
    sign-out, when the account is disabled, and when its password changes."""
    token = session.get(SESSION_TOKEN)
    if not isinstance(token, str) or not token:
        return None
    idle = timedelta(minutes=runtime().settings.staff.idle_minutes)
    with connect() as connection:
        resumed = sessions.resume(connection, token, now(), idle)
    if resumed.person is None:
        session.pop(SESSION_TOKEN, None)
        g.timed_out = resumed.timed_out
    return resumed.person


def begin_session(person: Staff) -> None:
    """A new server-side session for a member of staff who just signed in; nothing the
    browser held before carries over, its CSRF token neither."""
    with connect() as connection:
        token = sessions.start(connection, person.id, now())
    session.clear()
    session[SESSION_TOKEN] = token


def end_session() -> None:
    """Sign this browser out, on the server: a copy of its cookie opens nothing afterwards, and
    a form of the session it ended is refused."""
    token = session.get(SESSION_TOKEN)
    if isinstance(token, str) and token:
        with connect() as connection:
            sessions.end(connection, token, now())
    session.clear()


@staff.record_once
def _jinja_globals(state: Any) -> None:
    """Globals, not context: imported macros see them too (as Flask-WTF's `csrf_token`, which
    the `csrf` macro uses)."""
    state.app.jinja_env.globals.update(nav=nav)


@staff.app_context_processor
def _template_context() -> dict[str, Any]:
    """`zone`: the label every time on the pages carries (WIB, WITA or WIT); `regency` and
    `regency_code`: whose Disdukcapil the pages are, and how its KKs start."""
    served = region.current()
    return {"me": current_staff(), "zone": served.zone_label, "regency": served.name,
            "regency_code": served.code}


@staff.app_template_filter("local")
def _local(moment: datetime | None, style: str = "full") -> str:
    """A UTC instant as the regency's wall clock: "30 Nov 2026 09.30" (or only the date /
    time); the templates add the zone."""
    if moment is None:
        return "-"
    shown = local(moment)
    if style == "date":
        return f"{shown.day} {_MONTHS[shown.month - 1]} {shown.year}"
    if style == "time":
        return f"{shown:%H.%M}"
    return f"{shown.day} {_MONTHS[shown.month - 1]} {shown.year} {shown:%H.%M}"


@staff.app_template_filter("role_name")
def _role_name(role: Role) -> str:
    """A role as the office calls it ("Pendamping kelurahan"), never its identifier."""
    return ROLE_NAMES[role]


staff.add_app_template_filter(kecamatan_name, "kecamatan_name")


@staff.app_template_filter("office_name")
def _office_name(person: Staff) -> str:
    """Where a member of staff works, by its name: "Kec. Bogor Selatan" for an operator,
    "Kelurahan Babakan" for a helper; nothing for the others."""
    if not person.office:
        return ""
    if person.role is Role.OPERATOR:
        return f"Kec. {kecamatan_name(person.office)}"
    return kelurahan_name(person.office)


@staff.app_template_filter("masked")
def _masked(number: str | None) -> str:
    return mask_id(number) if number else "-"


# A stage in the office's words (`wording.stage_words`).
staff.add_app_template_filter(stage_words, "stage_label")


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des")
