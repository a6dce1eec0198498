"""The KIA's SMS dialogue against the in-memory and the SQL services: a parent's NIK, the KK and
the child's birth date (under 17, after the parent's own), each checked and asked again with the
reason; the one-SMS form; the summary; the reference and the papers to bring, whose photos and
their background colour follow the child's age and birth year."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sms_resident import NOW, Resident

from flows.catalogue import Msg, messages, render
from flows.documents import flows as document_flows
from flows.ports import ApplicationDraft
from flows.ussd import SCREEN_LIMIT, UssdChannel
from gsm7.encoding import GSM7_SINGLE, is_gsm7, septets

# A woman born 5 January 1990 (the parent) and a Kota Bogor KK; the services' day is 7 November
# 2024 (tests/support/sql_services.py NOW).
NIK = "3271014501900001"
PHONE = "+6281234567890"
KK = "3271010101200003"


@pytest.fixture
def drafts(services: Any) -> list[ApplicationDraft]:
    """What the dialogue hands to `submit_document`, as it hands it."""
    seen: list[ApplicationDraft] = []
    submit = services.submit_document

    def recording(phone: str, draft: ApplicationDraft, language: str) -> Any:
        seen.append(draft)
        return submit(phone, draft, language)

    services.submit_document = recording
    return seen


@pytest.fixture
def resident(services: Any) -> Resident:
    return Resident(services)


def finish(resident: Resident, text: str = "YA") -> list[str]:
    """The last answer: the reference and the papers to bring, two SMS."""
    resident.now += resident.pause
    turn = resident.channel.handle(text, resident.phone, resident.conversation, resident.now)
    resident.conversation = turn.conversation
    return turn.replies


def test_the_guided_dialogue_with_its_wrong_answers(resident: Resident,
                                                    drafts: list[ApplicationDraft]) -> None:
    assert resident.send("KIA") == ("Permohonan KIA (Kartu Identitas Anak) Kota Bogor. Kirim NIK "
                                    "ayah atau ibu si anak. Ketik BATAL untuk membatalkan.")
    assert resident.send("3271 0145 01") == ("NIK harus 16 angka, yang terbaca 10 angka. "
                                             "Kirim lagi NIK:")
    assert resident.send(NIK) == ("Kirim nomor KK (Kartu Keluarga) tempat anak terdaftar, "
                                  "16 angka.")
    assert resident.send("3276010101200003").startswith(  # a Depok KK
        "KK ini bukan KK Kota Bogor (diawali 3271).")
    assert resident.send(KK) == ("Kirim tanggal lahir anak (tanggal-bulan-tahun), misalnya "
                                 "17-08-2019.")
    assert resident.send("kemarin") == render("id", "error.date.unreadable")
    assert resident.send("31-02-2015") == render("id", "error.date.unreadable")
    assert resident.send("08-11-2024") == render("id", "error.date.future")
    assert resident.send("01-01-1990") == (
        "Tanggal lahir anak harus sesudah tanggal lahir orang tua di NIK tadi. Periksa lagi dan "
        "kirim tanggal lahir anak, misalnya 17-08-2019:")
    assert resident.send("07-11-2007") == (
        "KIA hanya untuk anak di bawah 17 tahun. Umur 17 ke atas daftar KTP-el: ketik DAFTAR. "
        "Bila tanggal salah tulis, kirim lagi tanggal lahir anak:")
    assert resident.send("12 maret 2015") == (
        "Periksa: permohonan KIA, NIK orang tua ***0001, KK ***0003, anak lahir 12-03-2015. "
        "Data hanya dipakai untuk KIA. Balas YA untuk kirim atau TIDAK untuk batal.")
    done, bring = finish(resident)
    reference = done.split("ref ")[1][:9]
    assert done.startswith(f"Permohonan KIA diterima, ref {reference}. Serahkan berkas ")
    assert bring == (f"Berkas KIA ref {reference}: fotokopi akta kelahiran anak, KK, KTP-el ayah "
                     "dan ibu, 2 pas foto anak 2x3 latar MERAH (tahun lahir ganjil). Bawa yang "
                     "asli.")
    assert resident.conversation is None
    [draft] = drafts
    assert (draft.document, draft.nik, draft.kk, draft.reason, dict(draft.details),
            draft.active_key) == ("kia", NIK, KK, "baru", {"birth_date": "2015-03-12"}, None)


@pytest.mark.parametrize(
    ("born", "papers"),
    [("08-11-2019", "Berkas KIA ref {ref}: fotokopi akta kelahiran anak, KK, KTP-el ayah dan "
                    "ibu. Bawa juga yang asli."),  # 4 years old: no photos
     ("07-11-2019", "latar MERAH (tahun lahir ganjil)"),  # 5 today, born in an odd year
     ("20/6/12", "latar BIRU (tahun lahir genap)"),
     ("08112007", "latar MERAH (tahun lahir ganjil)"),  # 16, a day before 17
     ("1-2-2020", "ayah dan ibu. Bawa juga yang asli.")],
)
def test_the_photos_from_age_5_and_their_colour_from_the_birth_year(
        resident: Resident, born: str, papers: str) -> None:
    resident.send(f"KIA {NIK}#{KK}")
    assert resident.send(born).startswith("Periksa: permohonan KIA")
    done, bring = finish(resident)
    reference = done.split("ref ")[1][:9]
    assert papers.format(ref=reference) in bring
    assert ("pas foto" in bring) is ("latar" in papers)


@pytest.mark.parametrize("form", [f"KIA {NIK}#{KK}#12-03-2015", f"kia {NIK} {KK} 12-03-2015",
                                  f"KIA#{NIK}#{KK}#12/03/2015",
                                  f"kartu anak {NIK}, {KK}, 12 maret 2015"])
def test_the_one_message_form_asks_only_the_confirmation(resident: Resident, form: str) -> None:
    assert resident.send(form) == (
        "Periksa: permohonan KIA, NIK orang tua ***0001, KK ***0003, anak lahir 12-03-2015. "
        "Data hanya dipakai untuk KIA. Balas YA untuk kirim atau TIDAK untuk batal.")


def test_a_wrong_answer_in_the_one_message_form_is_asked_again(resident: Resident) -> None:
    assert resident.send(f"KIA {NIK}#{KK}#12-03-2030") == render("id", "error.date.future")
    assert resident.step == "birth"
    assert resident.send(f"KIA 12345#{KK}#12-03-2015").startswith("NIK harus 16 angka")
    assert resident.send(NIK).startswith("Periksa: permohonan KIA")


def test_no_to_the_summary_sends_nothing(resident: Resident, services: Any) -> None:
    resident.send(f"KIA {NIK}#{KK}#12-03-2015")
    assert resident.send("TIDAK") == ("Permohonan KIA tidak dikirim. Ketik KIA untuk mengisi "
                                      "ulang.")
    assert resident.conversation is None
    assert services.submissions == 0


def test_twins_are_two_applications_and_status_names_the_kia(resident: Resident,
                                                             services: Any) -> None:
    references = []
    for _ in range(2):
        resident.send(f"KIA {NIK}#{KK}#12-03-2015")
        done, _bring = finish(resident)
        references.append(done.split("ref ")[1][:9])
    assert len(set(references)) == 2
    status = resident.send("STATUS")
    assert status.startswith("2 pendaftaran: ")
    for reference in references:
        assert f"{reference} KIA diterima" in status
    assert resident.send(f"STATUS {references[0]}") == (
        f"Ref {references[0]} KIA: permohonan diterima. Serahkan berkas sesuai jadwal di SMS; "
        "KIA dicetak setelah berkas lengkap.")


def test_another_phone_cannot_apply_with_this_familys_kk(services: Any) -> None:
    first = Resident(services)
    first.send(f"KIA {NIK}#{KK}#12-03-2015")
    finish(first)
    other = Resident(services, phone="+6285711112222")
    assert other.send(f"KIA {NIK}#{KK}").startswith(
        "KK ini sudah terdaftar dengan nomor HP lain.")


@pytest.mark.parametrize(("keyword", "language", "ask"), [
    ("KARTU IDENTITAS ANAK", "id", "Permohonan KIA (Kartu Identitas Anak)"),
    ("KRATU ANAK", "id", "Permohonan KIA (Kartu Identitas Anak)"),
    ("CHILD ID", "en", "KIA (child ID card) application, Kota Bogor."),
    ("KARTU MURANGKALIH", "su", "Panyuhunan KIA (Kartu Identitas Anak) Kota Bogor."),
])
def test_the_keywords_start_the_dialogue_in_their_language(resident: Resident, keyword: str,
                                                           language: str, ask: str) -> None:
    assert resident.send(keyword).startswith(ask)


def test_in_english_the_papers_name_the_blue_background(services: Any) -> None:
    resident = Resident(services)
    resident.send("LANG EN")
    assert resident.send(f"KIA {NIK}#{KK}#20-06-2012") == (
        "Check: KIA application, parent NIK ***0001, KK ***0003, child born 20-06-2012. Data "
        "used only for the KIA. Reply YES to send or NO to cancel.")
    done, bring = finish(resident, "YES")
    assert done.startswith("KIA application received, ref ")
    assert bring.endswith("two 2x3 photos of the child on a BLUE background (even birth year).")


def test_the_flow_is_found_by_its_folder() -> None:
    flow = document_flows()["kia"]
    assert [name for name, _ in flow.form] == ["nik", "kk", "birth"]
    assert flow.prefill(f"{NIK} {KK} 12-03-2015") == {"nik": NIK, "kk": KK,
                                                      "birth": "12-03-2015"}


@pytest.mark.parametrize("lang", ["id", "en", "su", "jv"])
def test_status_of_a_kia_in_each_stage_is_one_sms(lang: str) -> None:
    """`STATUS <ref>` puts the KIA's own stage words after its reference and name."""
    stages = [key for key in messages(lang) if key.startswith("kia.stage.")]
    assert {f"kia.stage.{stage}" for stage in ("submitted", "papers_checked", "print_queue",
                                               "printed", "pickup_scheduled", "collected",
                                               "cancelled", "rejected")} <= set(stages)
    for key in stages:
        text = render(lang, "status.doc_detail", ref="123456789", document=Msg("kia.name"),
                      explain=Msg(key))
        assert septets(text) <= GSM7_SINGLE, text
        assert "KTP-el" not in text and "DAFTAR" not in text, text


def test_the_kia_on_the_ussd_menu(services: Any) -> None:
    channel = UssdChannel(services, timedelta(minutes=30))
    turn = channel.begin(PHONE, None, NOW)
    screens = []

    def press(text: str) -> str:
        nonlocal turn
        turn = channel.handle(turn.menu, text, PHONE, turn.conversation, NOW)
        screens.append(turn.screen)
        return turn.screen

    [line] = [line for line in press("5").splitlines() if line.endswith("Kartu Identitas Anak "
                                                                       "(KIA)")]
    assert press(line.split()[0]).startswith("CON Masukkan NIK ayah atau ibu anak (16 angka):")
    press(NIK)
    assert press(KK).startswith("CON Masukkan tanggal lahir anak (tgl-bln-thn, misalnya "
                                "17-08-2019):")
    assert press("07-11-2007").startswith(
        "CON KIA untuk anak di bawah 17 tahun; umur 17 ke atas daftar KTP-el (DAFTAR).\n"
        "Masukkan tanggal lahir anak")
    assert press("12-03-2015").startswith(
        "CON Permohonan KIA\nNIK orang tua ***0001\nKK ***0003\nAnak lahir 12-03-2015\nData "
        "hanya dipakai untuk KIA.\n1 Kirim\n2 Batal")
    assert press("1").startswith("END Permohonan diterima. No ref: ")
    done, bring = turn.sms
    assert done.startswith("Permohonan KIA diterima, ref ")
    assert "latar MERAH (tahun lahir ganjil)" in bring
    for screen in screens:
        assert is_gsm7(screen) and septets(screen) <= SCREEN_LIMIT, screen
