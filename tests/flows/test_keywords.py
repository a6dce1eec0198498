"""Reading keywords the way residents type them, including the SIM-registration habit
`REG NIK#KK#` (DOMAIN.md, "SMS habits in Indonesia")."""

import pytest

from flows.keywords import KEYWORDS, Command, clean, parse_command, split_fields

NIK = "3271014501900001"
KK = "3271010101200003"

ACTIONS = {
    "DAFTAR": "register", "REG": "register", "REGISTER": "register",
    "STATUS": "status", "CEK": "status",
    "BANTUAN": "help", "INFO": "help", "HELP": "help",
    "BATAL": "cancel", "CANCEL": "cancel",
    "BAHASA": "language", "LANG": "language",
    "JADWAL": "pickup", "SCHEDULE": "pickup",
    "UBAH": "change", "CHANGE": "change", "RESCHEDULE": "reschedule",
    "BERHENTI": "broadcast_off", "STOP": "broadcast_off",
    "MULAI": "broadcast_on", "START": "broadcast_on",
}


def full_width(ascii_text: str) -> str:
    return "".join(chr(ord(char) + 0xFEE0) for char in ascii_text)


def test_the_keyword_table_is_the_expected_one() -> None:
    assert {word: kw.action for word, kw in KEYWORDS.items()} == ACTIONS


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
    assert command == Command(ACTIONS[word], (), KEYWORDS[word].language)


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
