"""Every USSD screen, in every language and in the regency with the longest name, fits 182 GSM-7
characters and says what it should; the language menu offers the regency's languages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flows.catalogue import languages, render
from flows.dialogue import Conversation
from flows.ussd import SCREEN_LIMIT, Menu, UssdChannel, UssdTurn, paginate
from gsm7.encoding import is_gsm7, septets
from sms_ktp.domain.stages import Stage

NOW = datetime(2024, 11, 7, 2, 0, tzinfo=UTC)
PHONE, OTHER = "+6281234567890", "+6285711112222"
NIK, KK = "3271014501900001", "3271010101200003"


class Session:
    """One phone dialling in: the channel and the state a USSD session keeps between screens."""

    def __init__(self, services, language: str | None = None,
                 conversation: Conversation | None = None) -> None:
        if language:
            services.set_language(PHONE, language)
        self.channel = UssdChannel(services, timedelta(minutes=30))
        self.screens: list[str] = []
        self.turn = self._keep(self.channel.begin(PHONE, conversation, NOW))

    def _keep(self, turn: UssdTurn) -> UssdTurn:
        self.screens.append(turn.screen)
        return turn

    def press(self, *inputs: str) -> str:
        for text in inputs:
            self.turn = self._keep(self.channel.handle(self.turn.menu, text, PHONE,
                                                       self.turn.conversation, NOW))
        return self.turn.screen


def check(screens: list[str]) -> None:
    for screen in screens:
        assert screen.startswith(("CON ", "END ")), screen
        assert is_gsm7(screen), screen
        assert septets(screen) <= SCREEN_LIMIT, (septets(screen), screen)
        assert not screen.endswith("..."), f"cut short: {screen}"


# Where the screens are checked: Kota Bogor, and the regency with the longest name of all
# (Kabupaten Administrasi Kepulauan Seribu, WIB) offering every language; with the family's KK
# and the KK of another family there.
REGIONS = {"3271": (KK, "3271060202190004"), "3101": ("3101010101200003", "3101020202190004")}


@pytest.mark.parametrize("code", REGIONS)
@pytest.mark.parametrize("language", languages())
def test_every_screen_fits_in_every_language(services, serve, language, code):
    serve(code, languages())
    kk, other_kk = REGIONS[code]
    for serial in range(1, 10):  # a big family: the list needs a second page
        services.add_application(PHONE, services.nik_for(serial), kk, stage=list(Stage)[serial])
    services.add_application(OTHER, "3271024107850002", other_kk)
    session = Session(services, language)
    # menus, with a wrong choice on each
    for path in (["7"], ["3", "7"], ["3", "1", "1", "1", "7"], ["3", "2", "1", "7"],
                 ["3", "3", "1", "1"], ["4", "9"], ["2", "8"], ["2", "9", "7"], ["2", "1", "1"]):
        session.press("00", *path, "")
    # every stage explained, every page of it
    for stage_number in range(1, 10):
        session.press("00", "2", "9" if stage_number > 4 else "",
                      str((stage_number - 1) % 4 + 1), "1", "1", "8")
    # every question and every refusal, with the longest values
    session.press("00", "1", "", "32710145019000011", "9999014501900001", "3271013202900001",
                  "3271014501900000", services.nik_for(3), "3271014501900001",
                  "32710101012000031", "3201010101200003", other_kk, kk,
                  "5", "1", "??", "470/1/KEC", "3", "0", "0", "4", "3")
    session.press("00", "1", "2", NIK, kk, "1", "470/1/KEC", "1")  # done
    check(session.screens)
    assert len(session.screens) > 60
    assert session.screens[-1].startswith("END ")  # the registration went through


def test_a_long_text_is_paged_and_every_page_is_reachable(services):
    session = Session(services, "id")
    first = session.press("3", "2")  # Informasi, Syarat dan yang dibawa
    assert first.endswith("\n1 Lanjut\n0 Kembali 00 Menu")
    second = session.press("1")
    assert "1 Lanjut" not in second and second.endswith("0 Kembali 00 Menu")
    words = " ".join(s.removeprefix("CON ").split("\n")[0] for s in (first, second))
    assert words.startswith("Bisa daftar: sudah rekam") and words.endswith("KTP-el rusak.")
    assert session.press("1") == second  # past the last page it stays there
    assert session.press("0").startswith("CON Informasi:")


def test_paginate_keeps_words_whole():
    text = "satu dua tiga empat lima enam tujuh delapan sembilan sepuluh"
    pages = paginate(text, 20)
    assert " ".join(pages) == text and all(len(p) <= 20 for p in pages)
    assert paginate("x" * 45, 20) == ["x" * 20, "x" * 20, "x" * 5]


def test_menu_round_trips_through_its_stored_form():
    menu = Menu("status_detail", 2, "123456789", "1")
    assert Menu.from_dict(menu.to_dict()) == menu
    assert Menu.from_dict(None) == Menu()


def test_a_dialogue_that_expires_on_the_resume_screen_leads_to_the_main_menu(services):
    conversation = Conversation(PHONE, "register", "kk", "id", NOW + timedelta(minutes=1),
                                answers={"nik": NIK})
    session = Session(services, conversation=conversation)
    assert session.turn.screen.startswith("CON Pendaftaran Bapak/Ibu belum selesai.")
    later = session.channel.handle(session.turn.menu, "1", PHONE, conversation,
                                   NOW + timedelta(minutes=2))
    assert later.screen.startswith("CON KTP-el Kota Bogor") and later.conversation is None


# --- the languages the regency offers ---------------------------------------------------------
@pytest.mark.parametrize(("code", "offered"), [
    # English keeps its place (2) everywhere; the home language comes after it.
    ("3271", ["Bahasa Indonesia", "English", "Basa Sunda"]),  # Kota Bogor
    ("3471", ["Bahasa Indonesia", "English", "Basa Jawa"]),  # Kota Yogyakarta
    ("7371", ["Bahasa Indonesia", "English"]),  # Kota Makassar
])
def test_the_language_menu_offers_the_regencys_languages(services, serve, code, offered):
    serve(code)
    session = Session(services)
    menu = ["Pilih bahasa:", *[f"{n} {name}" for n, name in enumerate(offered, 1)],
            "0 Kembali 00 Menu"]
    assert session.press("4") == "CON " + "\n".join(menu)
    beyond = session.press(str(len(offered) + 1))  # no such language here
    assert beyond.startswith("CON Pilihan tidak ada") and services.language_of(PHONE) is None
    chosen = session.press(str(len(offered)))  # the home language, or English
    home = ("id", "su", "jv", "en")[["Bahasa Indonesia", "Basa Sunda", "Basa Jawa",
                                    "English"].index(offered[-1])]
    assert services.language_of(PHONE) == home
    assert chosen.startswith(f"CON {render(home, 'ussd.language_set')}\nKTP-el ")


def test_a_language_stored_before_the_regency_changed_falls_back_to_indonesian(services, serve):
    services.set_language(PHONE, "su")
    serve("7371")  # Kota Makassar offers no Sundanese
    session = Session(services)
    assert session.turn.screen.startswith("CON KTP-el Kota Makassar\n1 Daftar cetak KTP-el")
