"""The audit log for admins: who did what, when and from where, in words (the codes stay in the
rows and in the search); and the filters every page uses to name actors, actions and timeline
notes (`sms_ktp.backoffice.wording`)."""

from __future__ import annotations

from flask import g, render_template, request
from sqlalchemy import func, or_, select

from sms_ktp.backoffice import wording
from sms_ktp.backoffice.staff import Role
from sms_ktp.models import AuditEntry
from sms_ktp.web.staff.blueprint import connect, require, staff
from sms_ktp.web.staff.paging import requested_page

_AUDIT = AuditEntry.__table__
PAGE = 100


@staff.get("/audit")
@require(Role.ADMIN)
def audit_log() -> str:
    q = request.args.get("q", "").strip()[:80]
    page = requested_page()
    query = select(_AUDIT)
    if q:
        like = f"%{q}%"
        # "tolak" finds application.reject: the page shows words, so the box takes them too.
        named = wording.actions_matching(q)
        query = query.where(or_(_AUDIT.c.actor.like(like), _AUDIT.c.action.like(like),
                                _AUDIT.c.action.in_(named), _AUDIT.c.target.like(like),
                                _AUDIT.c.address.like(like)))
    with connect() as connection:
        total = connection.execute(select(func.count()).select_from(query.subquery())
                                   ).scalar_one()
        entries = connection.execute(query.order_by(_AUDIT.c.id.desc())
                                     .offset((page - 1) * PAGE).limit(PAGE)).all()
    return render_template("staff/audit.html", entries=entries, q=q, page=page, total=total,
                           pages=max(1, -(-total // PAGE)))


def _roles() -> dict[str, Role]:
    """The accounts' roles, read once a request (a page names many actors)."""
    if "staff_roles" not in g:
        with connect() as connection:
            g.staff_roles = wording.staff_roles(connection)
    return dict(g.staff_roles)


@staff.app_template_filter("actor")
def _actor(actor: str | None) -> str:
    if not actor:
        return "-"
    if actor.startswith("staff:"):
        return wording.actor_words(actor, _roles())
    return wording.actor_words(actor)


@staff.app_template_filter("detail_words")
def _detail(detail: str | None) -> str:
    return wording.detail_words(detail) if detail else ""


@staff.app_template_filter("action_words")
def _action(action: str) -> str:
    return wording.action_words(action)


@staff.app_template_filter("target_words")
def _target(target: str) -> str:
    return wording.target_words(target)


@staff.app_template_filter("note_words")
def _note(note: str | None) -> str:
    return wording.note_words(note) if note else ""
