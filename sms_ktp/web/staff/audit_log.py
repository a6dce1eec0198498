"""The audit log for admins: who did what, when and from where."""

from __future__ import annotations

from flask import render_template, request
from sqlalchemy import func, or_, select

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
        query = query.where(or_(_AUDIT.c.actor.like(like), _AUDIT.c.action.like(like),
                                _AUDIT.c.target.like(like), _AUDIT.c.address.like(like)))
    with connect() as connection:
        total = connection.execute(select(func.count()).select_from(query.subquery())
                                   ).scalar_one()
        entries = connection.execute(query.order_by(_AUDIT.c.id.desc())
                                     .offset((page - 1) * PAGE).limit(PAGE)).all()
    return render_template("staff/audit.html", entries=entries, q=q, page=page, total=total,
                           pages=max(1, -(-total // PAGE)))
