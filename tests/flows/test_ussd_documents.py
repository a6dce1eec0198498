"""The other documents on the USSD menu: the main menu offers them, each starts its dialogue,
its screens fit, and the end screen sends the reference and the papers by SMS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flows.catalogue import languages
from flows.dialogue import Conversation
from flows.ussd import SCREEN_LIMIT, UssdChannel, UssdTurn
from gsm7.encoding import is_gsm7, septets
from sms_ktp.domain import documents

NOW = datetime(2024, 11, 7, 2, 0, tzinfo=UTC)
PHONE = "+6281234567890"
NIK, KK = "3271014501900001", "3271010101200003"


class Session:
    def __init__(self, services, conversation: Conversation | None = None) -> None:
        self.channel = UssdChannel(services, timedelta(minutes=30))
        self.turn = self.channel.begin(PHONE, conversation, NOW)
        self.screens = [self.turn.screen]

    def press(self, *inputs: str) -> UssdTurn:
        for text in inputs:
            self.turn = self.channel.handle(self.turn.menu, text, PHONE,
                                            self.turn.conversation, NOW)
            self.screens.append(self.turn.screen)
        return self.turn


def fits(screens: list[str]) -> None:
    for screen in screens:
        assert is_gsm7(screen) and septets(screen) <= SCREEN_LIMIT, screen
        assert not screen.endswith("..."), screen


def test_the_main_menu_offers_the_documents_and_a_kk_is_applied_for(services):
    session = Session(services)
    assert session.turn.screen.endswith("4 Bahasa/Language\n5 KK, akta, KIA")
    menu = session.press("5").screen
    assert menu.startswith("CON Pilih layanan:\n1 Kartu Keluarga (KK)")
    assert session.press("1").screen.startswith("CON Masukkan NIK pemohon (16 angka):")
    assert "NIK harus 16 angka" in session.press("123").screen
    session.press(NIK, KK)
    reason = session.turn.screen
    assert reason.startswith("CON Alasan permohonan KK:\n1 Anggota bertambah\n2 Anggota")
    summary = session.press("5").screen
    assert summary.startswith("CON Permohonan KK\nPemohon NIK ***0001\nKK ***0003\n"
                              "Alasan: KK hilang\nData hanya dipakai untuk KK.\n1 Kirim\n2 Batal")
    end = session.press("1")
    assert end.screen.startswith("END Permohonan diterima. No ref: ")
    done, bring = end.sms
    assert done.startswith("Permohonan KK diterima, ref ")
    assert bring.startswith("Berkas KK ref ") and "surat kehilangan dari polisi" in bring
    fits(session.screens)


def test_every_document_screen_fits_in_every_language(services):
    for language in languages():
        services.set_language(PHONE, language)
        session = Session(services)
        session.press("5")
        for number in range(1, len(documents.enabled())):
            session.press("00", "5", str(number), "")
        fits(session.screens)


def test_without_other_documents_the_menu_has_four_lines(services):
    documents.configure(["ktp"])
    try:
        session = Session(services)
        assert session.turn.screen.endswith("4 Bahasa/Language")
        assert "Pilihan tidak ada" in session.press("5").screen
    finally:
        documents.configure(documents.DOCUMENTS)
