"""The applications list: the search box (reference, NIK or the family's phone) and the newest
applications, an operator's of their own kecamatan only."""

from __future__ import annotations

from flask import render_template, request

from sms_ktp.backoffice.search import Key, Query, SearchResult, search
from sms_ktp.backoffice.staff import Role
from sms_ktp.web.staff.application_actions import labels
from sms_ktp.web.staff.blueprint import connect, me, require, staff
from sms_ktp.web.staff.paging import requested_page


@staff.route("/applications", methods=["GET", "POST"])
@require(Role.ADMIN, Role.OPERATOR, Role.HELPER)
def applications() -> str:
    # The search form posts: a NIK typed into it never lands in a URL (browser history, a
    # proxy's access log). A reference or phone in `?q=` still works for links.
    text = (request.form if request.method == "POST" else request.args).get("q", "")[:60]
    page = requested_page()
    person = me()
    if person.role is Role.HELPER and not text.strip():
        # A kelurahan helper looks up one resident's status; browsing the city's newest
        # applications is not their job.
        result = SearchResult(Query(Key.RECENT), [])
    else:
        office = person.office if person.role is Role.OPERATOR else None
        with connect() as connection:
            result = search(connection, text, office=office, page=page)
    # A typed NIK is never shown back in full, not even in the search box.
    typed = "" if result.query.key is Key.NIK else text
    return render_template("staff/applications.html", result=result, typed=typed, page=page,
                           browse=person.role is not Role.HELPER, **labels())
