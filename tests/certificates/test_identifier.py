"""The national e-certificate identifier (证照标识): its layout, the ISO 7064 MOD 37,36 check character, its bounds,
and its place in a document (covered by the certificate hash, checked with the document's format, optional)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.certificates.document import IDENTIFIER, CertificateType, IssuerRef, certificate_hash, new_certificate
from gateway.certificates.identifier import (ALPHABET, MAX_LENGTH, MAX_SERIAL, MAX_TYPE_SEGMENT, CertificateIdentifier,
                                             new_identifier, type_segment)
from gateway.certificates.signing import SigningDomain, sign, signing_digest
from gateway.certificates.verification import Outcome, Verifier
from gateway.errors import InvalidIdentifier
from ledger_node.accounts import dev_account
from ledger_node.demo import department_code
from tests.conftest import MARRIAGE_SCHEMA, marriage_subject

#: Identifiers the national platform's documentation gives as the format's reference (one certificate, versions 1
#: and 2): their check characters are what MOD 37,36 over type + issuer + serial + version gives.
PUBLISHED = ["1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U",
             "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.002.S"]
CIVIL_AFFAIRS = department_code(2)  # a well-formed unified social credit code
MARRIAGE = CertificateType("320100-MZ-001", 1, MARRIAGE_SCHEMA)
NOW = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.timezone.utc)
HOLDER = "urn:certnet:holder:" + "ab" * 32
DOMAIN = SigningDomain(131277322940537, "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0")
PRE_IDENTIFIER_DOCUMENT = Path(__file__).parent / "pre_identifier_certificate.json"

type_codes = st.text(st.sampled_from(ALPHABET + ALPHABET.lower() + "-_"), min_size=1, max_size=32).filter(
    lambda code: any(character.isalnum() for character in code))
identifiers = st.builds(new_identifier, type_codes, st.sampled_from([department_code(i) for i in range(1, 51)]),
                        st.integers(1, MAX_SERIAL))


def signed_certificate(identifier: CertificateIdentifier | None) -> dict[str, Any]:
    document = new_certificate(marriage_subject(), HOLDER, MARRIAGE, IssuerRef(CIVIL_AFFAIRS, "市民政局"),
                               valid_from=NOW, identifier=identifier)
    return sign(document, dev_account(2), DOMAIN)


def signed_with_identifier(text: str) -> dict[str, Any]:
    """A certificate of civil affairs carrying `text` as its identifier, hashed and signed by civil affairs' key as
    if its issuer had made it (`sign` itself refuses such a document): only the format check can refuse it."""
    document = copy.deepcopy(signed_certificate(None))
    document = {**document, IDENTIFIER: text}
    document["proof"]["certificateHash"] = "0x" + certificate_hash(document, shape_checked=True).hex()
    signature = dev_account(2).unsafe_sign_hash(signing_digest(document, DOMAIN)).signature
    document["proof"]["signature"]["value"] = "0x" + bytes(signature).hex()
    return document


# ----- the identifier -----

@pytest.mark.parametrize("published", PUBLISHED)
def test_a_published_identifier_checks_and_reads_back_unchanged(published: str) -> None:
    assert str(CertificateIdentifier.parse(published)) == published


@given(identifiers)
def test_a_generated_identifier_parses_back_to_itself(identifier: CertificateIdentifier) -> None:
    assert CertificateIdentifier.parse(str(identifier)) == identifier


@given(identifiers)
def test_a_successors_identifier_parses_back_and_differs_only_in_version_and_check(
        identifier: CertificateIdentifier) -> None:
    successor = identifier.next_version()
    assert successor is not None
    assert (CertificateIdentifier.parse(str(successor)), str(successor)[:-2]) == (successor,
                                                                                  identifier.versions_prefix + "002")


@settings(max_examples=20, deadline=None)
@given(identifiers)
def test_every_single_character_change_is_detected(identifier: CertificateIdentifier) -> None:
    text = str(identifier)
    accepted = []
    for position, original in enumerate(text):
        for replacement in ALPHABET + ".-a":
            if replacement != original:
                changed = text[:position] + replacement + text[position + 1:]
                try:
                    CertificateIdentifier.parse(changed)
                    accepted.append(changed)
                except InvalidIdentifier:
                    pass
    assert accepted == []


@given(identifiers, st.sampled_from(ALPHABET))
def test_an_identifier_with_another_check_character_is_refused_naming_the_right_one(
        identifier: CertificateIdentifier, check: str) -> None:
    text = str(identifier)
    if check == text[-1]:
        return
    with pytest.raises(InvalidIdentifier, match=f"wrong check character .* gives '{text[-1]}'"):
        CertificateIdentifier.parse(text[:-1] + check)


def test_the_type_segment_is_the_type_codes_letters_and_digits_upper_cased() -> None:
    assert type_segment("320100-mz-001") == "320100MZ001"


def test_a_type_code_without_letters_or_digits_cannot_name_a_type() -> None:
    with pytest.raises(InvalidIdentifier):
        type_segment("--")


@pytest.mark.parametrize("serial", [0, MAX_SERIAL + 1])
def test_a_serial_outside_its_bounds_is_refused(serial: int) -> None:
    with pytest.raises(InvalidIdentifier, match="a serial is 1 to"):
        new_identifier("JHZ", CIVIL_AFFAIRS, serial)


def test_the_largest_serial_is_written_in_twelve_digits() -> None:
    assert new_identifier("JHZ", CIVIL_AFFAIRS, MAX_SERIAL).serial == "999999999999"


def test_a_department_code_that_is_no_unified_social_credit_code_cannot_issue_identifiers() -> None:
    with pytest.raises(InvalidIdentifier, match="unified social credit code"):
        new_identifier("JHZ", "MZ", 1)


def test_an_issuer_segment_with_a_wrong_gb_32100_check_character_is_refused() -> None:
    wrong_uscc = CIVIL_AFFAIRS[:-1] + ("0" if CIVIL_AFFAIRS[-1] != "0" else "1")
    with pytest.raises(InvalidIdentifier, match="unified social credit code"):
        CertificateIdentifier.parse(str(CertificateIdentifier("JHZ", wrong_uscc, "1", 1)))


def test_version_000_is_refused() -> None:
    with pytest.raises(InvalidIdentifier, match="versions start at 001"):
        CertificateIdentifier.parse(str(CertificateIdentifier("JHZ", CIVIL_AFFAIRS, "1", 0)))


def test_the_version_after_999_is_none() -> None:
    assert CertificateIdentifier("JHZ", CIVIL_AFFAIRS, "1", 999).next_version() is None


def test_a_type_segment_longer_than_its_bound_is_refused() -> None:
    with pytest.raises(InvalidIdentifier, match="not a certificate identifier"):
        CertificateIdentifier.parse(str(CertificateIdentifier("T" * (MAX_TYPE_SEGMENT + 1), CIVIL_AFFAIRS, "1", 1)))


@pytest.mark.parametrize("text", ["x" * (MAX_LENGTH + 1), 12, None])
def test_a_value_too_long_or_not_a_string_is_refused(text: object) -> None:
    with pytest.raises(InvalidIdentifier, match=f"at most {MAX_LENGTH} characters"):
        CertificateIdentifier.parse(text)


def test_lower_case_letters_are_refused() -> None:
    with pytest.raises(InvalidIdentifier, match="not a certificate identifier"):
        CertificateIdentifier.parse(PUBLISHED[0].lower())


# ----- in a document -----

def test_a_document_with_an_identifier_passes_integrity_and_its_report_carries_it() -> None:
    identifier = new_identifier(MARRIAGE.code, CIVIL_AFFAIRS, 7)
    report = Verifier().verify(signed_certificate(identifier))
    assert (report.check("integrity").outcome, report.as_dict()["certificateIdentifier"]) == (Outcome.VALID,
                                                                                            str(identifier))


def test_the_certificate_hash_covers_the_identifier() -> None:
    document = signed_certificate(new_identifier(MARRIAGE.code, CIVIL_AFFAIRS, 7))
    document[IDENTIFIER] = str(new_identifier(MARRIAGE.code, CIVIL_AFFAIRS, 8))  # well-formed, another serial
    assert Verifier().verify(document).check("integrity").outcome is Outcome.INVALID


def test_a_document_issued_before_identifiers_existed_still_verifies_offline() -> None:
    # the full example of docs/certificate-format.md as it was before the field was added
    report = Verifier().verify(json.loads(PRE_IDENTIFIER_DOCUMENT.read_text()))
    assert [(check.name, check.outcome) for check in report.checks[:2]] == [("integrity", Outcome.VALID),
                                                                          ("signature", Outcome.VALID)]


def test_a_report_on_a_document_without_an_identifier_has_none() -> None:
    assert "certificateIdentifier" not in Verifier().verify(signed_certificate(None)).as_dict()


def test_the_signing_helper_makes_documents_that_verify() -> None:
    # the tests below depend on it: with a good identifier, its documents pass every offline check
    report = Verifier().verify(signed_with_identifier(str(new_identifier(MARRIAGE.code, CIVIL_AFFAIRS, 7))))
    assert {check.outcome for check in report.checks} == {Outcome.VALID, Outcome.SKIPPED}


def test_a_signed_identifier_with_a_wrong_check_character_fails_integrity_naming_the_field() -> None:
    text = str(new_identifier(MARRIAGE.code, CIVIL_AFFAIRS, 7))
    integrity = Verifier().verify(signed_with_identifier(text[:-1] + ("0" if text[-1] != "0" else "1"))
                                  ).check("integrity")
    assert (integrity.outcome, integrity.reason.startswith(f"{IDENTIFIER}: wrong check character")) == (
        Outcome.INVALID, True)


def test_a_signed_identifier_of_another_department_fails_integrity_naming_the_field() -> None:
    integrity = Verifier().verify(signed_with_identifier(str(new_identifier(MARRIAGE.code, department_code(3), 7)))
                                  ).check("integrity")
    assert (integrity.outcome, integrity.reason) == (
        Outcome.INVALID, f"{IDENTIFIER} names the department {department_code(3)}, the document's issuer is "
                         f"{CIVIL_AFFAIRS}")


def test_a_signed_identifier_of_another_type_fails_integrity_naming_the_field() -> None:
    integrity = Verifier().verify(signed_with_identifier(str(new_identifier("320100-GA-001", CIVIL_AFFAIRS, 7)))
                                  ).check("integrity")
    assert (integrity.outcome, integrity.reason) == (
        Outcome.INVALID, f"{IDENTIFIER} names the type 320100GA001, the document's type is 320100-MZ-001")
