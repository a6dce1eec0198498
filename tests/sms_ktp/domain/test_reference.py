"""References: 9 digits with a Damm check digit."""

import random

import pytest

from sms_ktp.domain.reference import new_reference, normalise_reference

SAMPLES = 300


@pytest.fixture(scope="module")
def references() -> list[str]:
    rng = random.Random(20181107)
    return [new_reference(rng) for _ in range(SAMPLES)]


def test_shape(references: list[str]) -> None:
    for reference in references:
        assert len(reference) == 9
        assert reference.isdigit()
        assert reference[0] != "0"


def test_generated_references_validate(references: list[str]) -> None:
    for reference in references:
        assert normalise_reference(reference) == reference


def test_seeded_generation_is_reproducible() -> None:
    assert new_reference(random.Random(1)) == new_reference(random.Random(1))


def test_secure_generation_validates() -> None:
    drawn = {new_reference() for _ in range(50)}
    assert len(drawn) > 1
    for reference in drawn:
        assert normalise_reference(reference) == reference


def test_every_single_digit_change_is_caught(references: list[str]) -> None:
    for reference in references:
        for position in range(9):
            for digit in "0123456789":
                if digit == reference[position]:
                    continue
                typo = reference[:position] + digit + reference[position + 1 :]
                assert normalise_reference(typo) is None, (reference, typo)


def test_every_adjacent_swap_is_caught(references: list[str]) -> None:
    for reference in references:
        for position in range(8):
            first, second = reference[position], reference[position + 1]
            if first == second:
                continue
            swapped = reference[:position] + second + first + reference[position + 2 :]
            assert normalise_reference(swapped) is None, (reference, swapped)


def test_separators_are_ignored(references: list[str]) -> None:
    reference = references[0]
    spaced = f" {reference[:3]} {reference[3:6]} {reference[6:]} "
    dotted = f"{reference[:3]}.{reference[3:6]}.{reference[6:]}"
    dashed = f"{reference[:3]}-{reference[3:6]}-{reference[6:]}"
    for text in (spaced, dotted, dashed):
        assert normalise_reference(text) == reference


@pytest.mark.parametrize("text", ["", "12345678", "1234567890", "12345678a", "REF", "   "])
def test_malformed(text: str) -> None:
    assert normalise_reference(text) is None


def test_leading_zero_is_refused() -> None:
    # "000000000" passes the Damm check but no reference starts with 0
    assert normalise_reference("000000000") is None
