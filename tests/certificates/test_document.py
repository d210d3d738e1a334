"""The document format: schema checks, salted field hashes, redaction, RFC 8785 canonical form."""

from __future__ import annotations

import copy
import datetime as dt
import unicodedata
from typing import Any

import pytest
import rfc8785
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gateway.certificates.document import (CertificateType, IssuerRef, certificate_hash, fields_changed, new_certificate,
                                           redact, stated_hash)
from gateway.errors import InvalidDocument, SchemaViolation
from ledger_node.canonical import content_hash
from tests.conftest import MARRIAGE_SCHEMA, marriage_subject

MARRIAGE = CertificateType("MARRIAGE-CERT", 2, MARRIAGE_SCHEMA)
CIVIL = IssuerRef("CIVIL-AFFAIRS", "民政局")
NOW = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.timezone.utc)
HOLDER = "urn:certnet:holder:" + "ab" * 32

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)


def certificate(**overrides: Any) -> dict[str, Any]:
    return new_certificate({**marriage_subject(), **overrides}, HOLDER, MARRIAGE, CIVIL, valid_from=NOW,
                           valid_until=NOW + dt.timedelta(days=365))


def intact(document: dict[str, Any]) -> bool:
    return certificate_hash(document) == stated_hash(document)


DOCUMENT = certificate()
SUBJECT_FIELDS = sorted(DOCUMENT["credentialSubject"])
METADATA_PATHS = [("@context",), ("type",), ("id",), ("issuer", "id"), ("issuer", "name"), ("validFrom",),
                  ("validUntil",), ("credentialSchema", "id"), ("credentialSchema", "version"),
                  ("credentialSchema", "schemaHash")]


def test_a_new_certificate_states_the_hash_of_its_content() -> None:
    assert intact(certificate())


def test_the_certificate_names_its_type_version_and_schema_hash() -> None:
    schema = certificate()["credentialSchema"]
    assert (schema["id"], schema["version"]) == ("urn:certnet:type:MARRIAGE-CERT", 2)
    assert schema["schemaHash"] == "0x" + content_hash(MARRIAGE_SCHEMA).hex()


def test_the_holder_appears_as_the_subject_id() -> None:
    assert certificate()["credentialSubject"]["id"] == HOLDER


def test_two_certificates_with_the_same_content_have_different_hashes() -> None:
    assert stated_hash(certificate()) != stated_hash(certificate())


def test_a_subject_breaking_the_schema_is_refused_with_every_problem() -> None:
    with pytest.raises(SchemaViolation) as info:
        certificate(certificateNumber="123", registeredOn="not a date")
    assert "certificateNumber" in str(info.value) and "registeredOn" in str(info.value)


def test_a_subject_missing_a_required_field_is_refused() -> None:
    subject = marriage_subject()
    del subject["spouse"]
    with pytest.raises(SchemaViolation, match="'spouse' is a required property"):
        new_certificate(subject, HOLDER, MARRIAGE, CIVIL, valid_from=NOW)


def test_a_subject_may_not_set_its_own_id() -> None:
    with pytest.raises(InvalidDocument, match="pseudonym"):
        certificate(id="urn:someone-else")


def test_validity_must_end_after_it_starts() -> None:
    with pytest.raises(InvalidDocument, match="validUntil must be after validFrom"):
        new_certificate(marriage_subject(), HOLDER, MARRIAGE, CIVIL, valid_from=NOW, valid_until=NOW)


def test_an_unknown_top_level_field_is_refused() -> None:
    document = certificate()
    document["evidence"] = "not covered by the hash"
    with pytest.raises(InvalidDocument, match="unknown top-level fields"):
        certificate_hash(document)


def test_redacting_an_unknown_field_is_refused() -> None:
    with pytest.raises(InvalidDocument, match="no shown subject field 'age'"):
        redact(certificate(), ["age"])


def test_redaction_keeps_the_original_untouched() -> None:
    document = certificate()
    before = copy.deepcopy(document)
    redact(document, ["holderName"])
    assert document == before


def test_a_redacted_field_leaves_no_value_and_no_salt() -> None:
    redacted = redact(certificate(), ["spouseName"])
    assert "spouseName" not in redacted["credentialSubject"] and "spouseName" not in redacted["proof"]["salts"]
    assert len(redacted["proof"]["redactedFields"]) == 1


@given(st.sets(st.sampled_from(SUBJECT_FIELDS)))
def test_any_set_of_redactions_keeps_the_certificate_intact(fields: set[str]) -> None:
    assert intact(redact(DOCUMENT, sorted(fields)))


@given(st.sampled_from(SUBJECT_FIELDS), json_values)
def test_any_change_to_a_subject_field_breaks_integrity(field: str, value: Any) -> None:
    document = copy.deepcopy(DOCUMENT)
    if document["credentialSubject"][field] == value:
        value = [value]
    document["credentialSubject"][field] = value
    assert not intact(document)


@given(st.sampled_from(METADATA_PATHS), json_values)
def test_any_change_to_the_metadata_breaks_integrity(path: tuple[str, ...], value: Any) -> None:
    document = copy.deepcopy(DOCUMENT)
    *parents, name = path
    target = document
    for parent in parents:
        target = target[parent]
    if target[name] == value:
        value = [value]
    target[name] = value
    try:
        assert not intact(document)
    except InvalidDocument:
        pass  # the change also broke the format: refused before any hash is compared


@given(st.sampled_from(SUBJECT_FIELDS))
def test_a_changed_salt_breaks_integrity(field: str) -> None:
    document = copy.deepcopy(DOCUMENT)
    document["proof"]["salts"][field] = "00" * 16
    assert not intact(document)


@given(st.sampled_from(SUBJECT_FIELDS), st.sampled_from(SUBJECT_FIELDS))
def test_a_redacted_field_cannot_be_restored_with_another_value(redacted: str, restored_value_of: str) -> None:
    assume(DOCUMENT["credentialSubject"][restored_value_of] != DOCUMENT["credentialSubject"][redacted])
    document = redact(DOCUMENT, [redacted])
    document["credentialSubject"][redacted] = DOCUMENT["credentialSubject"][restored_value_of]
    document["proof"]["salts"][redacted] = DOCUMENT["proof"]["salts"][redacted]
    document["proof"]["redactedFields"] = []
    assert not intact(document)


# ----- RFC 8785 canonical form -----

@settings(max_examples=50)
@given(st.dictionaries(st.text(max_size=6), json_values, max_size=6), st.randoms())
def test_the_content_hash_does_not_depend_on_key_order(mapping: dict[str, Any], rng: Any) -> None:
    items = list(mapping.items())
    rng.shuffle(items)
    assert content_hash(dict(items)) == content_hash(mapping)


def test_keys_are_sorted_by_utf16_code_units_as_rfc_8785_section_3_2_3_shows() -> None:
    keys = ["\u20ac", "\r", "\ufb33", "1", "\U0001f600", "\u0080", "\u00f6"]
    canonical = rfc8785.dumps({k: k for k in keys}).decode()
    positions = [canonical.index(rfc8785.dumps(k).decode() + ":") for k in ["\r", "1", "\u0080", "\u00f6", "\u20ac",
                                                                          "\U0001f600", "\ufb33"]]
    assert positions == sorted(positions)


def test_strings_are_not_unicode_normalised_so_nfc_and_nfd_spellings_differ() -> None:
    composed = "Zo\u00eb 张三"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    assert content_hash({"name": composed}) != content_hash({"name": decomposed})


def test_numbers_are_serialised_as_ecmascript_does() -> None:
    assert rfc8785.dumps({"a": 1.0, "b": 1e21, "c": 0.000001}) == b'{"a":1,"b":1e+21,"c":0.000001}'


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(("path", "value", "problem"), [
    (("credentialSubject", "holderName"), "张" * 4097, "a string of 4097 characters"),
    (("credentialSubject", "spouseName"), _nested(500), "nested deeper than 20 levels"),
    (("credentialSubject", "spouseName"), 2**64, "an integer beyond"),
    (("credentialSubject", "spouseName"), float("nan"), "not finite"),
    (("credentialSchema", "version"), 2**32, "integer version"),
    (("validFrom",), "0001-01-01T00:00:00Z", "outside 1970-01-01 to 9999-12-31"),
], ids=["long-string", "deep", "big-integer", "nan", "version-beyond-uint32", "before-1970"])
def test_a_document_beyond_the_bounds_is_invalid_with_the_reason(path: tuple[str, ...], value: Any,
                                                                 problem: str) -> None:
    document = copy.deepcopy(DOCUMENT)
    *parents, name = path
    target = document
    for parent in parents:
        target = target[parent]
    target[name] = value
    with pytest.raises(InvalidDocument, match=problem):
        certificate_hash(document)


def test_a_document_nested_deeper_than_the_interpreter_recurses_is_invalid_not_a_crash() -> None:
    document = copy.deepcopy(DOCUMENT)
    document["credentialSubject"]["spouseName"] = _nested(100_000)
    with pytest.raises(InvalidDocument, match="nested deeper"):
        certificate_hash(document)


@given(st.sampled_from(SUBJECT_FIELDS), st.text(min_size=1, max_size=8))
def test_a_changed_subject_value_is_named_as_the_one_changed_field(field: str, value: str) -> None:
    assume(DOCUMENT["credentialSubject"][field] != value)
    document = copy.deepcopy(DOCUMENT)
    document["credentialSubject"][field] = value
    assert fields_changed(document, DOCUMENT) == [f"credentialSubject.{field}"]


def test_a_changed_metadata_field_is_named() -> None:
    document = copy.deepcopy(DOCUMENT)
    document["validFrom"] = "2020-01-01T00:00:00Z"
    assert fields_changed(document, DOCUMENT) == ["validFrom"]


@given(st.sampled_from(SUBJECT_FIELDS))
def test_a_field_removed_without_redaction_is_named(field: str) -> None:
    document = copy.deepcopy(DOCUMENT)
    del document["credentialSubject"][field]
    assert fields_changed(document, DOCUMENT) == [f"credentialSubject.{field}"]


def test_a_field_added_after_signing_is_named() -> None:
    document = copy.deepcopy(DOCUMENT)
    document["credentialSubject"]["note"] = "added"
    document["proof"]["salts"]["note"] = "00" * 16
    assert fields_changed(document, DOCUMENT) == ["credentialSubject.note"]


@given(st.lists(st.sampled_from(SUBJECT_FIELDS), unique=True))
def test_a_redacted_copy_names_no_changed_field(fields: list[str]) -> None:
    assert fields_changed(redact(DOCUMENT, fields), DOCUMENT) == []
