"""Holder identities: GB 11643 citizen ID numbers, GB 32100 credit codes, keyed pseudonyms."""

from __future__ import annotations

import pytest

from gateway.certificates.identity import PSEUDONYM_PREFIX, HolderId, IdScheme, pseudonym
from gateway.errors import InvalidHolderId

SECRET = b"consortium secret"


def test_a_valid_citizen_id_is_accepted() -> None:
    assert HolderId.parse("11010519491231002X") == HolderId(IdScheme.RIC, "11010519491231002X")


def test_a_lowercase_check_character_x_is_read_as_upper_case() -> None:
    assert HolderId.parse("11010519491231002x").number == "11010519491231002X"


def test_a_lowercase_x_gives_the_same_pseudonym_as_upper_case() -> None:
    lower, upper = HolderId.parse("11010519491231002x"), HolderId.parse("11010519491231002X")
    assert pseudonym(SECRET, lower) == pseudonym(SECRET, upper)


def test_a_wrong_check_digit_names_the_expected_one() -> None:
    with pytest.raises(InvalidHolderId, match="check character 1, expected X"):
        HolderId.parse("110105194912310021")


@pytest.mark.parametrize("number, date", [("110105194913310029", "19491331"), ("110105202302290011", "20230229")])
def test_an_impossible_birth_date_is_named(number: str, date: str) -> None:
    with pytest.raises(InvalidHolderId, match=f"impossible birth date {date}"):
        HolderId.parse(number)


def test_a_birth_date_in_the_future_is_refused() -> None:
    with pytest.raises(InvalidHolderId, match="birth date in the future"):
        HolderId.of(IdScheme.RIC, "110105209912310010")


def test_a_citizen_id_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(InvalidHolderId, match="18 characters, got 17"):
        HolderId.of(IdScheme.RIC, "11010519491231002")


def test_a_citizen_id_with_letters_is_refused() -> None:
    with pytest.raises(InvalidHolderId, match="17 digits and a check character"):
        HolderId.of(IdScheme.RIC, "1101051949123100AX")


@pytest.mark.parametrize("digits", ["١١٠١٠٥١٩٤٩١٢٣١٠٠٢X", "¹10105194912310020"], ids=["arabic-indic", "superscript"])
def test_a_citizen_id_with_other_than_ascii_digits_is_refused_as_one(digits: str) -> None:
    """Such digits pass `str.isdigit`; the number must still be refused as a citizen ID (once they
    were hashed into a pseudonym's ASCII, a server error, or blamed on the scheme)."""
    with pytest.raises(InvalidHolderId, match="17 digits and a check character"):
        HolderId.parse("RIC:" + digits)


def test_a_valid_credit_code_is_accepted() -> None:
    assert HolderId.parse("USCC:91110000600037341L") == HolderId(IdScheme.USCC, "91110000600037341L")


def test_a_bare_credit_code_is_recognised_as_one() -> None:
    assert HolderId.parse("91110000600037341L").scheme is IdScheme.USCC


def test_a_credit_code_with_a_bad_check_character_names_the_expected_one() -> None:
    with pytest.raises(InvalidHolderId, match="check character M, expected L"):
        HolderId.parse("USCC:91110000600037341M")


def test_a_credit_code_with_letters_outside_its_alphabet_is_refused() -> None:
    with pytest.raises(InvalidHolderId, match="'O'"):
        HolderId.parse("USCC:9111000060003734OL")


def test_an_unknown_scheme_is_refused() -> None:
    with pytest.raises(InvalidHolderId, match="unknown identity scheme 'PASSPORT'"):
        HolderId.parse("PASSPORT:E12345678")


def test_a_bare_number_that_is_neither_reports_the_citizen_id_problem() -> None:
    with pytest.raises(InvalidHolderId, match="citizen ID number has check character"):
        HolderId.parse("110105194912310021")


def test_a_pseudonym_depends_on_the_consortium_secret() -> None:
    holder = HolderId.parse("11010519491231002X")
    assert pseudonym(SECRET, holder) != pseudonym(b"another consortium", holder)


def test_a_pseudonym_does_not_contain_the_number() -> None:
    value = pseudonym(SECRET, HolderId.parse("11010519491231002X"))
    assert value.startswith(PSEUDONYM_PREFIX) and "11010519491231002X" not in value


def test_a_person_and_a_company_with_the_same_characters_get_different_pseudonyms() -> None:
    assert pseudonym(SECRET, HolderId(IdScheme.RIC, "X")) != pseudonym(SECRET, HolderId(IdScheme.USCC, "X"))


@pytest.mark.parametrize("number", ["١١٠١٠٥١٩٤٩١٢٣١٠٠٢X", "¹¹010519491231002X"], ids=["arabic-indic", "superscript"])
def test_a_citizen_id_with_digits_other_than_ascii_is_invalid(number: str) -> None:
    with pytest.raises(InvalidHolderId, match="in ASCII"):
        HolderId.parse("RIC:" + number)
