"""STATUS of a card to collect: a KTP-el named by its holder's NIK, a child's KIA by its
document (its application's NIK is the parent's)."""

from __future__ import annotations

from datetime import datetime

from flows.ports import ApplicationView
from flows.status import detail

AT = datetime(2026, 12, 1, 8, 30)
WHERE = {"at": AT, "office": "Kantor Kec. Bogor Selatan"}


def test_a_ktp_el_to_collect_is_named_by_its_nik() -> None:
    view = ApplicationView("123456789", "***0001", "pickup_scheduled", WHERE)
    assert detail("id", view) == ("Ref 123456789 NIK ***0001: siap diambil Selasa, 1 Desember "
                                  "2026, 08.30 WIB di Kantor Kec. Bogor Selatan. Kode ambil: "
                                  "ketik JADWAL.")


def test_a_kia_to_collect_is_named_as_a_kia_not_by_the_parents_nik() -> None:
    view = ApplicationView("123456789", "***0001", "pickup_scheduled", WHERE, "kia")
    assert detail("id", view) == ("Ref 123456789 KIA: siap diambil Selasa, 1 Desember 2026, "
                                  "08.30 WIB di Kantor Kec. Bogor Selatan. Kode ambil: ketik "
                                  "JADWAL.")
    assert "***0001" not in detail("en", view) and "KIA" in detail("jv", view)
