"""Delivery by post through the real webhook and the `sms-ktp post` commands, where the regency
offers it ([delivery] post = true): the pickup SMS offers it, KIRIM asks for it, staff record
the tracking number (the family gets it by SMS) and the delivery, and STATUS follows."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cli_runner import run
from live_service import DATA_KEY, KK, LOOKUP_KEY, NIK, PHONE, LiveService, start_service

from sms_ktp.applications import pickup

REF = re.compile(r"ref (\d{9})")
CODE = re.compile(r"Kode ([A-Z0-9]{6})")
MONDAY_0900 = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


@pytest.fixture
def posting(database, clock, tmp_path) -> Iterator[LiveService]:
    def configure(settings) -> None:
        settings.delivery.post = True

    yield from start_service(database, clock, tmp_path, configure=configure)


def staff_shell(tmp_path: Path, service: LiveService) -> Path:
    """The server's shell: `sms-ktp` configured on the service's database, with its keys."""
    folder = tmp_path / "shell"
    folder.mkdir()
    lines = [f"data_dir = {json.dumps(str(folder / 'var'))}",
             "[database]", f"url = {json.dumps(service.runtime.db.url)}",
             "[notifications]", 'quiet_hours = ""',
             "[delivery]", "post = true",
             "[privacy]", f'data_key = "{DATA_KEY}"', f'lookup_key = "{LOOKUP_KEY}"']
    (folder / "sms-ktp.toml").write_text("\n".join(lines) + "\n", "utf-8")
    return folder


def test_from_the_pickup_sms_to_the_parcel_delivered(posting, clock, tmp_path):
    service = posting
    clock.set(MONDAY_0900)
    service.sms(PHONE, f"DAFTAR {NIK}#{KK}#2")
    reference = REF.search(service.sms(PHONE, "YA")[0]).group(1)
    service.print_cards(NIK)
    service.worker.run_once()  # allocation, then the outbox
    [ticket] = service.received(PHONE)
    assert ticket.startswith("KTP-el NIK ***0001 siap diambil Selasa, 1 Desember 2026, 08.00 WIB")
    assert ticket.endswith("Bawa SMS ini. Dikirim pos? Balas KIRIM")
    code = CODE.search(ticket).group(1)
    assert service.sms(PHONE, "INFO AMBIL") == [
        "Ambil KTP-el di kantor kecamatan sesuai SMS jadwal, atau balas KIRIM sebelum harinya: "
        "dikirim Pos Indonesia ke alamat KK. Bayar Rp 9.000 ke kurir."]

    assert service.sms(PHONE, "Kirim") == [  # asked first: posting cancels the pickup
        "KTP-el NIK ***0001 dikirim Pos Indonesia ke alamat KK, jadwal ambil batal. Bayar Rp "
        "9.000 ke kurir. Balas YA untuk kirim pos, TIDAK untuk tetap ambil."]
    assert service.sms(PHONE, "ya") == [
        "KTP-el NIK ***0001 akan dikirim Pos Indonesia ke alamat di KK, tidak perlu ke kantor. "
        "Bayar Rp 9.000 ke kurir. Nomor kiriman menyusul lewat SMS."]
    with pytest.raises(pickup.VerifyError):  # the code no longer opens anything at the counter
        pickup.verify(service.runtime.db, clock, code, "counter")

    shell = staff_shell(tmp_path, service)
    listed = run(shell, "post", "list")
    assert listed.returncode == 0, listed.stderr
    assert "to post: 1 parcel(s)" in listed.stdout
    assert f"ref {reference}  NIK ***0001" in listed.stdout and "Kec. Bogor Selatan (01)" in (
        listed.stdout)
    assert NIK not in listed.stdout + listed.stderr and KK not in listed.stdout + listed.stderr

    refused = run(shell, "post", "sent", reference, NIK)  # a NIK in the wrong field
    assert refused.returncode == 2 and "not a tracking number" in refused.stderr
    sent = run(shell, "post", "sent", reference, "p2212-0100 123")
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout == f"posted: ref {reference}\n"
    # The SMS was queued by the command at the server's time: the service's worker sends it.
    clock.set(max(clock.now(), datetime.now(UTC)) + timedelta(minutes=1))
    service.worker.run_once()
    assert service.received(PHONE) == [
        "KTP-el NIK ***0001 sudah diserahkan ke Pos Indonesia untuk dikirim ke alamat di KK. "
        "Nomor kiriman: P2212-0100123. Bayar Rp 9.000 ke kurir."]
    assert service.sms(PHONE, "STATUS") == [
        f"Ref {reference} NIK ***0001: sudah dikirim Pos Indonesia ke alamat di KK, nomor "
        "kiriman P2212-0100123."]
    again = run(shell, "post", "sent", reference, "P9999999")
    assert again.returncode == 1 and "already" in again.stderr
    listed = run(shell, "post", "list")
    assert "to post: 0 parcel(s)" in listed.stdout and "tracking P2212-0100123" in listed.stdout

    delivered = run(shell, "post", "delivered", reference)
    assert delivered.returncode == 0, delivered.stderr
    assert delivered.stdout == f"delivered: ref {reference}\n"
    service.worker.run_once()
    assert service.received(PHONE) == []  # the family holds the card: no SMS
    assert service.sms(PHONE, f"STATUS {reference}") == [
        f"Ref {reference} NIK ***0001: KTP-el sudah diantar ke alamat di KK. Terima kasih."]
    assert run(shell, "post", "delivered", reference).returncode == 1  # once
    assert service.sms(PHONE, "KIRIM")[0].startswith("Belum ada KTP-el yang bisa dikirim")


def test_off_by_default(service, clock):
    clock.set(MONDAY_0900)
    service.sms(PHONE, f"DAFTAR {NIK}#{KK}#2")
    service.sms(PHONE, "YA")
    service.print_cards(NIK)
    service.worker.run_once()
    [ticket] = service.received(PHONE)
    assert ticket.endswith("Bawa SMS ini.")
    assert service.sms(PHONE, "KIRIM") == [
        "Maaf, KTP-el belum bisa dikirim lewat pos di daerah ini. Ambil di kantor kecamatan; "
        "ketik JADWAL untuk hari, jam dan kode ambil."]
    assert service.sms(PHONE, "JADWAL") == [ticket]  # the visit stands
