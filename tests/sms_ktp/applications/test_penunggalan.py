"""Penunggalan rows as Kemendagri's files really come: a number typed into the wrong column is
refused without being echoed in full."""

from __future__ import annotations

from sms_ktp.applications.penunggalan import Summary, read_csv

NIK = "3271014501900001"


def test_a_nik_in_the_result_column_is_not_echoed():
    summary = Summary()
    rows = list(read_csv(f"nik,result,note\n{NIK},{NIK},\n{NIK[:15]},PRR,\n", summary))
    assert rows == []
    assert summary.invalid == [(2, "result harus PRR atau DUPLICATE (tertulis '***0001')"),
                               (3, "NIK harus 16 angka (tertulis '***0000')")]
    assert NIK not in repr(summary.invalid)
