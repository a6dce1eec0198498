"""Privasi: a resident's request, handled by an admin at the office after checking who the
resident is: a copy of everything held about them (a JSON download) or the erasure of their
personal data (after a confirmation step). Both are `sms_ktp.privacy.requests`, audited with the NIK
masked.

The NIK travels only in POST bodies, never in a URL (URLs end up in logs and browser history),
and a page that carries it is not cached."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for

from sms_ktp.backoffice.staff import Role
from sms_ktp.privacy import requests
from sms_ktp.web.addresses import request_address
from sms_ktp.web.staff.blueprint import me, require, runtime, staff

NIK_PROBLEM = "Tulis NIK warga: 16 angka (spasi atau titik boleh)."


@staff.get("/privacy", endpoint="privacy")
@require(Role.ADMIN)
def privacy_page() -> Any:
    return _page()


@staff.post("/privacy/export")
@require(Role.ADMIN)
def privacy_export() -> Any:
    nik = requests.parse_nik(request.form.get("nik", "")[:60])
    if nik is None:
        return _page(problem=NIK_PROBLEM, status=422)
    app = runtime()
    document = requests.export(app.db, app.clock, nik, me().actor, request_address())
    if not document["applications"]:
        return _page(nothing=requests.target(nik), status=404)
    day = app.clock.now().strftime("%Y%m%d")
    response = Response(json.dumps(document, ensure_ascii=False, indent=2),
                        mimetype="application/json")
    # The last four digits only: a file name shows up in download lists.
    response.headers["Content-Disposition"] = (
        f'attachment; filename="data-warga-{nik[-4:]}-{day}.json"')
    response.headers["Cache-Control"] = "no-store"
    return response


@staff.post("/privacy/erase")
@require(Role.ADMIN)
def privacy_erase() -> Any:
    nik = requests.parse_nik(request.form.get("nik", "")[:60])
    if nik is None:
        return _page(problem=NIK_PROBLEM, status=422)
    app = runtime()
    if request.form.get("confirm") != "1":
        plan = requests.plan(app.db, nik)
        if not plan.applications:
            return _page(nothing=requests.target(nik), status=404)
        return _page(plan=plan, nik=nik, status=409 if plan.blocked else 200)
    try:
        done = requests.erase(app.db, app.clock, app.quiet_hours, nik, me().actor,
                             request_address())
    except requests.ErasureRefused as refused:
        if not refused.references:
            return _page(nothing=requests.target(nik), status=404)
        return _page(plan=requests.plan(app.db, nik), nik=nik, status=409)
    cancelled = f" ({done.cancelled} dibatalkan lebih dulu)" if done.cancelled else ""
    family = (" Nomor KK dan HP keluarga juga dihapus: tidak ada anggota keluarga lain yang "
              "datanya masih disimpan." if done.families else
              " Nomor KK dan HP keluarga tetap disimpan untuk anggota keluarga lainnya.")
    flash(f"Data pribadi {requests.target(nik)} dihapus: {done.applications} permohonan"
          f"{cancelled}, {done.sms} SMS tentang permohonan itu dikosongkan.{family}", "ok")
    return redirect(url_for("staff.privacy"), code=303)


def _page(*, problem: str | None = None, nothing: str | None = None,
          plan: requests.Plan | None = None, nik: str = "", status: int = 200) -> Any:
    html = render_template("staff/privacy.html", problem=problem, nothing=nothing, plan=plan,
                           nik=nik)
    response = Response(html, status=status, mimetype="text/html")
    if nik:
        response.headers["Cache-Control"] = "no-store"
    return response
