"""SMS length and encoding (DOMAIN.md, "SMS encoding"): 160 GSM-7 septets or 70 UCS-2 units in one
SMS, 153 / 67 per part when split; one stray character turns the whole SMS into UCS-2."""

import pytest

from gsm7.encoding import is_gsm7, segments, septets, to_gsm7

EXTENSION_CHARACTERS = "{}[]~^|€\\"
INDONESIAN = (
    "Pendaftaran diterima, no ref 123456789. Tunggu verifikasi dan penunggalan Kemendagri; "
    "jadwal ambil dikirim lewat SMS. Saat ambil bawa Suket asli."
)


def test_plain_text_counts_one_septet_per_character() -> None:
    assert septets("DAFTAR 3271014501900001#3271010101200003#") == 41
    assert septets("") == 0


@pytest.mark.parametrize("char", list(EXTENSION_CHARACTERS))
def test_extension_characters_count_two_septets(char: str) -> None:
    assert septets(char) == 2
    assert septets(f"a{char}b") == 4
    assert is_gsm7(char)


def test_all_extension_characters_together() -> None:
    assert septets(EXTENSION_CHARACTERS) == 2 * len(EXTENSION_CHARACTERS)


def test_non_gsm_text_has_no_septet_length() -> None:
    assert septets("a\u2013b") is None  # en dash
    assert septets("Terima kasih 🙏") is None
    assert not is_gsm7("\u201cya\u201d")


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),  # 2 x 153
        ("a" * 307, 3),
        ("€" * 80, 1),  # 160 septets
        ("€" + "a" * 159, 2),  # 161 septets although only 160 characters
        ("[" * 81, 2),
    ],
)
def test_gsm7_segments(text: str, parts: int) -> None:
    assert segments(text) == parts


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("\u2013" + "a" * 69, 1),  # 70 UCS-2 units
        ("\u2013" + "a" * 70, 2),  # 71
        ("\u2013" + "a" * 133, 2),  # 134 = 2 x 67
        ("\u2013" + "a" * 134, 3),  # 135
    ],
)
def test_ucs2_segments(text: str, parts: int) -> None:
    assert segments(text) == parts


def test_one_curly_quote_makes_a_short_text_two_parts() -> None:
    text = "a" * 100
    assert segments(text) == 1
    assert segments(text + "\u2019") == 2


@pytest.mark.parametrize(
    ("raw", "plain"),
    [
        ("\u201cYA\u201d", '"YA"'),
        ("\u2018ok\u2019", "'ok'"),
        ("\u201eJa\u201d", '"Ja"'),
        ("08.00\u201316.00", "08.00-16.00"),
        ("KTP-el \u2014 gratis", "KTP-el - gratis"),
        ("tunggu\u2026", "tunggu..."),
        ("Kota\u00a0Bogor", "Kota Bogor"),
        ("Kota\u202fBogor", "Kota Bogor"),
    ],
)
def test_to_gsm7_replaces_lookalikes(raw: str, plain: str) -> None:
    converted = to_gsm7(raw)
    assert converted == plain
    assert is_gsm7(converted)


def test_to_gsm7_keeps_a_long_reply_in_one_part() -> None:
    raw = "\u201c" + "a" * 150 + "\u201d\u2026"
    assert segments(raw) == 3
    assert segments(to_gsm7(raw)) == 1


@pytest.mark.parametrize(
    "text",
    [
        INDONESIAN,
        "Kirim NIK Anda (16 angka, ada di KK atau Suket). Ketik BATAL untuk berhenti.",
        "NIK salah: tanggal lahir di dalamnya (angka ke-7 s/d 12) tidak mungkin.",
        "Ref 123456789 NIK ***0001: antre cetak, menunggu blangko; +2 lagi. STATUS <ref>",
    ],
)
def test_to_gsm7_keeps_indonesian_text_unchanged(text: str) -> None:
    assert to_gsm7(text) == text


def test_to_gsm7_keeps_gsm_accents_and_drops_others() -> None:
    assert to_gsm7("café") == "café"  # é is in the GSM-7 alphabet
    assert to_gsm7("naïve") == "naive"
    assert is_gsm7(to_gsm7("🙏 terima kasih"))


def test_septets_agree_with_the_gsm0338_codec_for_every_character():
    import random

    def codec(text: str) -> int | None:
        try:
            return len(text.encode("gsm03.38"))
        except UnicodeEncodeError:
            return None

    for code_point in range(0x3000):
        assert septets(chr(code_point)) == codec(chr(code_point)), hex(code_point)
    rng = random.Random(7)
    for _ in range(500):
        text = "".join(chr(rng.choice([rng.randrange(128), rng.randrange(0x2100)]))
                       for _ in range(30))
        assert septets(text) == codec(text), text


def test_every_look_alike_is_outside_gsm7_so_gsm7_text_is_left_alone():
    from gsm7.encoding import _EXPANSIONS, _LOOKALIKES

    assert not [chr(k) for k in _LOOKALIKES if is_gsm7(chr(k))]
    assert not [k for k in _EXPANSIONS if is_gsm7(k)]
