"""Personal numbers must never appear in full in an SMS or a log line."""

import logging
import re
from datetime import date

import pytest

from sms_ktp.domain.identity import parse_kk, parse_nik
from sms_ktp.domain.masking import mask_id, mask_phone, redact

NIK = "3271014501900001"
KK = "3271060101230004"


@pytest.mark.parametrize(
    ("value", "masked"),
    [(NIK, "***0001"), (KK, "***0004"), ("1234", "***1234"), ("123", "***"), ("", "***")],
)
def test_mask_id(value: str, masked: str) -> None:
    assert mask_id(value) == masked


@pytest.mark.parametrize(
    ("e164", "masked"),
    [
        # the country prefix, three stars whatever the length, the last three digits
        ("+6281234567890", "+62***890"),
        ("+628111234567", "+62***567"),
        ("+447911123456", "+44***456"),
        ("+12025550123", "+1***123"),
    ],
)
def test_mask_phone(e164: str, masked: str) -> None:
    assert mask_phone(e164) == masked


@pytest.mark.parametrize(("raw", "masked"), [("081234567890", "***890"), ("", "***")])
def test_mask_phone_never_raises_on_bad_input(raw: str, masked: str) -> None:
    assert mask_phone(raw) == masked


def test_nik_and_kk_reprs_hide_the_number() -> None:
    nik = parse_nik(NIK, date(2024, 6, 1))
    kk = parse_kk(KK)
    assert repr(nik) == "Nik(***0001)"
    assert repr(kk) == "KK(***0004)"
    for shown in (repr(nik), str(nik), f"{nik}", repr([nik]), repr({"nik": nik})):
        assert NIK not in shown
    for shown in (repr(kk), str(kk), f"{kk}", repr((kk,))):
        assert KK not in shown


def test_nik_in_a_log_record_is_masked(caplog: pytest.LogCaptureFixture) -> None:
    nik = parse_nik(NIK, date(2024, 6, 1))
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("registered %s", nik)
    assert NIK not in caplog.text
    assert "***0001" in caplog.text


@pytest.mark.parametrize(
    "written",
    [
        "3271014501900001",
        "3271 0145 0190 0001",
        "3271.0145.0190.0001",
        "3271-0145-0190-0001",
        "327101 450190 0001",
    ],
)
def test_redact_identity_numbers(written: str) -> None:
    assert redact(f"NIK {written} ok") == "NIK ***0001 ok"


def test_redact_mixed_text() -> None:
    text = (
        "REG 3271014501900001#3271060101230004# from +6281234567890 "
        "(0812-3456-7890) ref 123456789 at 10:30 on 2024-06-01, 3 members, kode 4444"
    )
    assert redact(text) == (
        "REG ***0001#***0004# from +***7890 "
        "(***7890) ref 123456789 at 10:30 on 2024-06-01, 3 members, kode 4444"
    )


def test_redact_leaves_no_long_digit_run() -> None:
    text = "a 3271 0145 0190 0001 b 081234567890 c 1234567890 d"
    assert not re.search(r"\d(?:[ .\-]?\d){9,}", redact(text))


@pytest.mark.parametrize("text", ["123456789", "12:30", "2024-06-01", "count=42", "", "no digits"])
def test_redact_leaves_short_numbers(text: str) -> None:
    assert redact(text) == text


def test_redact_double_separators_split_runs() -> None:
    # only single separators join digits: two short numbers stay readable
    assert redact("12345  67890") == "12345  67890"
