"""The back office's error pages: a member of staff who follows an old link, refreshes a form's
answer or meets a fault reads what happened in Indonesian and gets a way back, never Werkzeug's
English page. Everything outside `/staff` (webhooks, the gateways, the integration endpoint,
the simulator) keeps the answers its callers parse, as it had before.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import g, render_template, request
from werkzeug.exceptions import HTTPException

from sms_ktp.web.staff.blueprint import home_url, session_staff, staff

log = logging.getLogger(__name__)

# (title, what happened, what to do), by status.
PAGES: dict[int, tuple[str, str, str]] = {
    400: ("Permintaan tidak bisa dibaca",
          "Isian yang dikirim tidak lengkap atau rusak.",
          "Muat ulang halaman, isi lagi, lalu kirim."),
    401: ("Perlu masuk dulu",
          "Halaman ini hanya untuk petugas yang sudah masuk.",
          "Masuk dengan nama pengguna dan kata sandi Anda."),
    403: ("Tidak diizinkan",
          "Anda tidak boleh membuka halaman ini atau melakukan tindakan ini.",
          "Minta admin Disdukcapil bila Anda memerlukannya."),
    404: ("Halaman tidak ditemukan",
          "Alamat ini tidak ada, atau datanya sudah tidak ada lagi.",
          "Periksa alamatnya, atau cari dari halaman utama."),
    405: ("Halaman ini tidak bisa dibuka langsung",
          "Alamat ini hanya dipakai oleh tombol pada halaman, tidak bisa dibuka dari alamat "
          "atau dengan memuat ulang.",
          "Kembali ke halaman sebelumnya lalu tekan tombolnya."),
    413: ("Kiriman terlalu besar",
          "Berkas atau isian yang dikirim melebihi batas ukuran.",
          "Perkecil atau bagi berkasnya, lalu kirim lagi."),
    500: ("Terjadi kesalahan di server",
          "Permintaan Anda tidak selesai; perubahan yang sedang disimpan mungkin belum tersimpan.",
          "Periksa lagi datanya, lalu coba sekali lagi. Bila terus terjadi, beri tahu admin "
          "Disdukcapil beserta jam kejadiannya."),
}


def for_staff() -> bool:
    return request.path == "/staff" or request.path.startswith("/staff/")


@staff.app_errorhandler(HTTPException)
def error_page(error: HTTPException) -> Any:
    """The page for a /staff address; elsewhere the error as Werkzeug answers it."""
    if not for_staff() or error.code not in PAGES:
        return error
    headers = {name: value for name, value in error.get_headers() if name == "Allow"}
    return _page(error.code, headers)


def _page(code: int, headers: dict[str, str]) -> Any:
    title, what, then = PAGES[code]
    try:
        return render_template("staff/error.html", code=code, title=title, what=what,
                               then=then, home=_home(read_session=code != 500)), code, headers
    except Exception:  # the page itself failed (the database is down, say): plain words
        log.exception("the error page for %s could not be shown", code)
        return (f"{title}. {what} {then}\n", code,
                {**headers, "Content-Type": "text/plain; charset=utf-8"})


def _home(read_session: bool) -> str:
    """The signed-in member of staff's own first page, or the sign-in page. An address the
    blueprint never matched (mistyped) has not read the session: it is read here, except after
    a fault, which may be the database's. (An unhandled exception reaches `error_page` as an
    InternalServerError, whose page names none of it; Flask has logged it.)"""
    if "staff" not in g:
        g.staff = session_staff() if read_session else None
    return home_url()
