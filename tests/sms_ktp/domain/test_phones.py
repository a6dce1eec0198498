"""Phone numbers normalised to E.164; only mobile numbers can receive our SMS."""

import pytest

from sms_ktp.domain.phones import normalise_msisdn


@pytest.mark.parametrize(
    "raw",
    [
        "081234567890",
        "+6281234567890",
        "6281234567890",
        "0812 3456 7890",
        "0812-3456-7890",
        "+62 812-3456-7890",
        " 081234567890 ",
        "０８１２３４５６７８９０",
    ],
)
def test_indonesian_mobile(raw: str) -> None:
    assert normalise_msisdn(raw) == "+6281234567890"


@pytest.mark.parametrize(
    ("raw", "e164"),
    [("08111234567", "+628111234567"), ("0895 1234 5678", "+6289512345678")],
)
def test_other_indonesian_operators(raw: str, e164: str) -> None:
    assert normalise_msisdn(raw) == e164


@pytest.mark.parametrize(
    ("raw", "e164"),
    [("+447911123456", "+447911123456"), ("+60 12-345 6789", "+60123456789")],
)
def test_foreign_mobile(raw: str, e164: str) -> None:
    assert normalise_msisdn(raw) == e164


@pytest.mark.parametrize(
    "raw",
    [
        "4444",  # short codes
        "3636",
        "TELKOMSEL",  # alphanumeric senders
        "INFO",
        "TELKOMSEL1",
        "",
        "   ",
        "0251 8321075",  # Bogor landline
        "02518321075",
        "+62 21 5551234",  # Jakarta landline
        "+6281234567",  # too short
        "0812345678901234567",
        "not a number",
        "0812abc4567",
        "+",
    ],
)
def test_refused(raw: str) -> None:
    assert normalise_msisdn(raw) is None
