"""Reading keywords the way residents type them, including the SIM-registration habit
`REG NIK#KK#` (DOMAIN.md, "SMS habits in Indonesia")."""

import re
from pathlib import Path
from typing import Any

import pytest

import flows.sms as sms_module
from flows.keywords import (
    LANGUAGE_NAMES,
    Command,
    Keyword,
    clean,
    keyword_table,
    language_named,
    load_table,
    markdown_table,
    one_slip,
    parse_command,
    phrase_words,
    split_fields,
    table_source,
)
from flows.registration import NO_WORDS, REASON_WORDS, YES_WORDS

NIK = "3271014501900001"
KK = "3271010101200003"

# The single words of each action in keywords.toml (the phrases and typos are tested below).
ACTIONS = {
    "DAFTAR": "register", "REG": "register", "REGISTER": "register", "DAPTAR": "register",
    "STATUS": "status", "CEK": "status", "CHECK": "status",
    "BANTUAN": "help", "INFO": "help", "HELP": "help", "TULUNG": "help",
    "BATAL": "cancel", "CANCEL": "cancel",
    "BAHASA": "language", "LANG": "language", "BASA": "language",
    "JADWAL": "pickup", "SCHEDULE": "pickup",
    "RESCHEDULE": "reschedule",
    "SYARAT": "info_syarat", "PROSES": "info_proses",
    "BERHENTI": "broadcast_off", "STOP": "broadcast_off", "UNREG": "broadcast_off",
    "MULAI": "broadcast_on", "START": "broadcast_on",
}


def keyword(word: str) -> Keyword:
    return keyword_table().phrases[(word,)]


def full_width(ascii_text: str) -> str:
    return "".join(chr(ord(char) + 0xFEE0) for char in ascii_text)


def test_the_single_keywords_do_what_they_say() -> None:
    assert {word: keyword(word).action for word in ACTIONS} == ACTIONS


@pytest.mark.parametrize("word", sorted(ACTIONS))
@pytest.mark.parametrize(
    "shape",
    [str.upper, str.lower, str.capitalize, lambda w: w[0].lower() + w[1:].upper()],
    ids=["upper", "lower", "capitalised", "mixed"],
)
def test_every_keyword_in_any_case(word: str, shape) -> None:
    command = parse_command(shape(word))
    assert command is not None
    assert command.action == ACTIONS[word]
    assert command.args == ()


@pytest.mark.parametrize("word", sorted(ACTIONS))
@pytest.mark.parametrize("template", ["  {} ", "{}.", "{}:", " .{}, ", "*{}*", "{}\n", "{}#"])
def test_keyword_alone_with_spaces_and_punctuation(word: str, template: str) -> None:
    command = parse_command(template.format(word.lower()))
    assert command == Command(ACTIONS[word], (), keyword(word).language)


def test_daftar_with_surrounding_spaces() -> None:
    assert parse_command("  daftar ") == Command("register", (), "id")


def test_daftar_with_full_stop() -> None:
    assert parse_command("Daftar.") == Command("register", (), "id")


@pytest.mark.parametrize("text", ["Status?", "status!", "Daftar!", "CEK??"])
def test_question_or_exclamation_mark_is_not_an_argument(text: str) -> None:
    command = parse_command(text)
    assert command is not None
    assert command.args == ()


def test_status_with_reference_and_extra_spaces() -> None:
    assert parse_command("STATUS  123456789") == Command("status", ("123456789",), None)
    assert parse_command("cek: 123456789") == Command("status", ("123456789",), "id")


def test_sim_registration_habit_with_space() -> None:
    command = parse_command(f"REG {NIK}#{KK}#")
    assert command == Command("register", (NIK, KK), None)


def test_sim_registration_habit_without_space() -> None:
    command = parse_command(f"REG{NIK}#{KK}#")
    assert command == Command("register", (NIK, KK), None)


def test_daftar_hash_form_with_reason_and_suket() -> None:
    command = parse_command(f"DAFTAR#{NIK}#{KK}#1#470/12/KEC")
    assert command == Command("register", (NIK, KK, "1", "470/12/KEC"), "id")


def test_star_separates_like_hash() -> None:
    assert parse_command(f"reg*{NIK}*{KK}*").args == (NIK, KK)


def test_spaces_separate_when_no_hash_is_used() -> None:
    assert parse_command(f"daftar {NIK} {KK} 2").args == (NIK, KK, "2")


def test_spaces_inside_a_field_stay_when_hash_is_used() -> None:
    assert parse_command(f"REG 3271 0145 0190 0001#{KK}#").args == ("3271 0145 0190 0001", KK)


def test_empty_middle_field_is_kept_so_later_fields_stay_in_place() -> None:
    assert parse_command(f"DAFTAR {NIK}##2").args == (NIK, "", "2")


def test_zero_width_characters_are_ignored() -> None:
    text = f"\ufeffDA\u200bFTAR\u200c {NIK}\u200d#{KK}#\u2060"
    assert parse_command(text) == Command("register", (NIK, KK), "id")


def test_full_width_letters_and_digits_become_ascii() -> None:
    text = f"{full_width('DAFTAR')}\u3000{full_width(NIK)}"  # also an ideographic space
    assert text[0] == "Ｄ"
    assert parse_command(text) == Command("register", (NIK,), "id")


def test_non_breaking_space_and_newline_separate_like_a_space() -> None:
    assert parse_command("STATUS\u00a0123456789").args == ("123456789",)
    assert parse_command("status\n123456789").args == ("123456789",)


@pytest.mark.parametrize(
    "text",
    ["YA", "ya", "TIDAK", "statusnya", "halo", "Halo, DAFTAR", "", "   ", "\u200b", NIK,
     "1", "#"],
)
def test_non_keywords_are_not_commands(text: str) -> None:
    assert parse_command(text) is None


@pytest.mark.parametrize(
    ("word", "language"),
    [("REGISTER", "en"), ("HELP", "en"), ("CANCEL", "en"), ("LANG", "en"),
     ("DAFTAR", "id"), ("BANTUAN", "id"), ("BATAL", "id"), ("CEK", "id"), ("BAHASA", "id"),
     ("REG", None), ("STATUS", None), ("INFO", None)],
)
def test_language_hint(word: str, language: str | None) -> None:
    assert parse_command(word.lower()).language == language


def test_language_command_argument() -> None:
    assert parse_command("LANG EN") == Command("language", ("EN",), "en")
    assert parse_command("bahasa id") == Command("language", ("id",), "id")


def test_clean_normalises_spacing_and_invisible_characters() -> None:
    assert clean("  a\u200b b\t\tc\r\n ") == "a b c"
    assert clean("１２３") == "123"


def test_split_fields_drops_only_trailing_empty_fields() -> None:
    assert split_fields(f" #{NIK}#{KK}##") == (NIK, KK)
    assert split_fields("") == ()
    assert split_fields(" : ") == ()


# --- the alias table (flows/messages/keywords.toml) ---------------------------------------------
def every_alias() -> list[Any]:
    return [pytest.param(text, action, language, id=f"{action}:{text}")
            for action, by_language in table_source().items() if action != LANGUAGE_NAMES
            for language, words in by_language.items() for text in words]


@pytest.mark.parametrize(("text", "action", "language"), every_alias())
def test_every_alias_starts_its_action_in_its_language(text: str, action: str,
                                                       language: str) -> None:
    expected_language = None if language == "any" else language
    for typed in (text, text.lower(), f" {text.title()}. ", text.replace(" ", "  ")):
        assert parse_command(typed) == Command(action, (), expected_language), typed


@pytest.mark.parametrize(
    ("text", "action", "language"),
    [("DAFTR", "register", "id"), ("DAFAR", "register", "id"), ("DFTAR", "register", "id"),
     ("REGISTRASI", "register", "id"), ("CEK STATUS", "status", "id"),
     ("STATUS KTP", "status", "id"), ("INFO KTP", "help", "id"), ("TULUNG", "help", "su"),
     ("HELP", "help", "en"), ("INFO SYARAT", "info_syarat", "id"),
     ("INFO PROSES", "info_proses", "id"), ("INFO AMBIL", "info_ambil", "id"),
     ("BASA", "language", "su"), ("UBAH JADWAL", "reschedule", "id")],
)
def test_the_aliases_residents_are_known_to_type(text: str, action: str, language: str) -> None:
    assert parse_command(text) == Command(action, (), language)


def test_every_action_of_the_table_is_answered_by_the_sms_channel() -> None:
    source = Path(sms_module.__file__).read_text("utf-8")
    from flows.documents import flows as document_flows

    for action in table_source():
        if action in (LANGUAGE_NAMES, "help"):  # help is what any other keyword falls back to
            continue
        if action in document_flows():  # a document's keyword starts its dialogue
            continue
        assert f'"{action}"' in source, f"{action} has keywords but no answer in flows/sms.py"


def test_a_phrase_listed_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="listed twice"):
        load_table({"status": {"id": ["CEK STATUS"]}, "pickup": {"id": ["cek-status"]}})


def test_no_keyword_is_an_answer_the_registration_dialogue_expects() -> None:
    answers = {phrase_words(word) for word in (*REASON_WORDS, *YES_WORDS, *NO_WORDS)}
    assert not answers & set(keyword_table().phrases)


def test_the_longest_phrase_wins() -> None:
    assert parse_command("CEK JADWAL") == Command("pickup", (), "id")
    assert parse_command("CEK 123456789") == Command("status", ("123456789",), "id")
    assert parse_command("Cek-Status: 123456789") == Command("status", ("123456789",), "id")
    assert parse_command("status ktp-el 123 456 789") == Command("status", ("123456789",), "id")
    assert parse_command("REG KTP") == Command("register", (), None)


def test_ubah_alone_is_no_keyword_so_that_the_reason_answer_ubah_data_stays_an_answer() -> None:
    assert parse_command("UBAH DATA") is None
    assert parse_command("ubah jadwal 123456789") == Command("reschedule", ("123456789",), "id")


@pytest.mark.parametrize(
    ("typed", "action"),
    [("STATUZ", "status"), ("BANTUN", "help"), ("DAFATR", "register"), ("BTAAL", "cancel"),
     ("REGISTR", "register"), ("TULUNK", "help"), ("JADWALL", "pickup")],
)
def test_one_slip_in_a_long_keyword_is_forgiven_and_marked_as_a_guess(typed: str,
                                                                      action: str) -> None:
    command = parse_command(f"{typed} 123456789")
    assert command is not None and command.guessed
    assert (command.action, command.args) == (action, ("123456789",))


@pytest.mark.parametrize(
    "text",
    ["SAYA", "TERIMA KASIH", "HALO", "SELAMAT PAGI", "KAPAN", "SUDAH", "BELUM", "MAAF",
     "HILANG", "RUSAK", "SUKET", "BENAR", "SALAH", "STATUSNYA", "INFORMASI", "DATANG", "KTP",
     "MALAM", "TERLAMBAT"],
)
def test_ordinary_words_are_not_guessed_as_keywords(text: str) -> None:
    assert parse_command(text) is None


@pytest.mark.parametrize(
    ("typed", "known", "slip"),
    [("DAFTR", "DAFTAR", True), ("DAFTARR", "DAFTAR", True), ("DAFTAT", "DAFTAR", True),
     ("DAFTRA", "DAFTAR", True), ("DAFTAR", "DAFTAR", False), ("DFATRA", "DAFTAR", False),
     ("DAF", "DAFTAR", False), ("ADFTRA", "DAFTAR", False)],
)
def test_one_slip(typed: str, known: str, slip: bool) -> None:
    assert one_slip(typed, known) is slip


@pytest.mark.parametrize(
    ("text", "language"),
    [("BAHASA ID", "id"), ("BAHASA SU", "su"), ("BAHASA EN", "en"), ("BASA SUNDA", "su"),
     ("LANG EN", "en"), ("lang english", "en"), ("Bahasa Indonesia", "id"),
     ("bahasa sunda", "su"), ("LANG SU", "su"), ("BASA INDONESIA", "id")],
)
def test_language_names(text: str, language: str) -> None:
    command = parse_command(text)
    assert command is not None and command.action == "language"
    assert language_named(command.args[0]) == language


def test_the_readme_lists_every_keyword_as_the_table_says() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text("utf-8")
    assert markdown_table() in readme, (
        "README.md's keyword table is out of date: paste `python -m flows.keywords --table`")


# --- separators and characters ------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [f"REG {NIK}/{KK}", f"REG {NIK}.{KK}", f"REG {NIK}-{KK}", f"REG {NIK} {KK}",
     f"REG {NIK}, {KK}", "REG 3271.0145.0190.0001 3271.0101.2000.03".replace(
         "3271.0101.2000.03", "3271.0101.0120.0003"),
     "REG 3271-0145-0190-0001/3271-0101-0120-0003", f"REG \u201c{NIK}\u201d \u2018{KK}\u2019",
     f"REG {NIK}\u00a0{KK}", f"REG*{NIK}*{KK}*", f"REG#{NIK}#{KK}#"],
)
def test_numbers_separated_and_grouped_every_way(text: str) -> None:
    assert parse_command(text).args == (NIK, KK)


def test_reason_and_suket_after_the_numbers_keep_the_suket_whole() -> None:
    assert parse_command(f"DAFTAR {NIK}/{KK}/1/474.11/123/KEC-BGR").args == (
        NIK, KK, "1", "474.11/123/KEC-BGR")
    assert parse_command(f"daftar {NIK} {KK} hilang").args == (NIK, KK, "hilang")


def test_a_kk_of_the_wrong_length_keeps_its_place_and_its_digits() -> None:
    args = parse_command(f"REG {NIK} 3271 0101 0120 003").args
    assert args[0] == NIK and re.sub(r"\D", "", args[1]) == "327101010120003"


def test_arabic_indic_and_other_digits_become_ascii() -> None:
    arabic = NIK.translate(str.maketrans("0123456789", "\u0660\u0661\u0662\u0663\u0664"
                                                       "\u0665\u0666\u0667\u0668\u0669"))
    persian = KK.translate(str.maketrans("0123456789", "\u06f0\u06f1\u06f2\u06f3\u06f4"
                                                       "\u06f5\u06f6\u06f7\u06f8\u06f9"))
    assert clean(arabic) == NIK
    assert parse_command(f"DAFTAR {arabic}#{persian}") == Command("register", (NIK, KK), "id")


def test_control_characters_and_curly_quotes_are_blanks() -> None:
    assert clean("STATUS\x07\u201c123456789\u201d\x1b") == "STATUS 123456789"
