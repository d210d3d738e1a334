"""JSON-LD processing of CertNet documents with jsonld.js (npm) in safe mode, which fails on any term it
would drop, with the W3C VC 2.0 and CertNet contexts loaded from the files the package ships."""

from __future__ import annotations

import json
from typing import Any, Callable

import pytest
from sqlalchemy import select

from gateway.certificates.jsonld_contexts import SUBJECT_VOCABULARY
from gateway.db import IssuedCertificate
from gateway.models import IssueRequest
from gateway.service import Gateway

from tests.conftest import department_caller, jsonld_expand, marriage_request

pytestmark = pytest.mark.slow
CERTNET_VOCABULARY = "https://certnet.example/ns/certificate/v1#"


def _property_iris(node: Any) -> set[str]:
    """Every property IRI anywhere in an expanded JSON-LD value (JSON literals, `@json`, are not entered)."""
    if isinstance(node, list):
        return set().union(*map(_property_iris, node))
    if not isinstance(node, dict) or node.get("@type") == "@json":
        return set()
    return {key for key in node if not key.startswith("@")}.union(*map(_property_iris, node.values()))


@pytest.mark.parametrize("kind", ["single", "batch member", "successor", "redacted"])
def test_safe_mode_expansion_defines_every_term_of_each_kind_of_document(
        document_kinds: dict[str, dict[str, Any]], kind: str) -> None:
    document = document_kinds[kind]
    expanded = jsonld_expand([document])
    assert expanded.returncode == 0, expanded.stderr
    in_subject_vocabulary = {iri for iri in _property_iris(json.loads(expanded.stdout))
                             if iri.startswith(SUBJECT_VOCABULARY)}
    # only the subject's own fields (named by the type's schema) fall to @vocab; every other term is defined
    assert in_subject_vocabulary == {SUBJECT_VOCABULARY + name for name in document["credentialSubject"]
                                     if name != "id"}


@pytest.mark.parametrize("kind", ["single", "batch member", "successor", "redacted"])
def test_the_certificate_identifier_expands_to_its_defined_term(document_kinds: dict[str, dict[str, Any]],
                                                                kind: str) -> None:
    document = document_kinds[kind]
    expanded = json.loads(jsonld_expand([document]).stdout)[0][0]  # one document, one node
    assert expanded[CERTNET_VOCABULARY + "certificateIdentifier"] == [{"@value": document["certificateIdentifier"]}]


def test_a_subject_field_named_certificate_identifier_still_falls_to_the_subject_vocabulary(
        document_kinds: dict[str, dict[str, Any]]) -> None:
    # the term is scoped to the CertNetCertificate node: a subject's field of that name is the schema's, not ours
    single = document_kinds["single"]
    document = {**single, "credentialSubject": {**single["credentialSubject"], "certificateIdentifier": "x"}}
    subject = json.loads(jsonld_expand([document]).stdout)[0][0][
        "https://www.w3.org/2018/credentials#credentialSubject"][0]
    assert subject[SUBJECT_VOCABULARY + "certificateIdentifier"] == [{"@value": "x"}]


def test_expansion_keeps_a_single_certificates_null_batch_root(document_kinds: dict[str, dict[str, Any]]) -> None:
    expanded = json.loads(jsonld_expand([document_kinds["single"]]).stdout)[0][0]  # one document, one node
    anchor = expanded["https://w3id.org/security#proof"][0]["@graph"][0][CERTNET_VOCABULARY + "anchor"][0]
    assert anchor[CERTNET_VOCABULARY + "batchRoot"] == [{"@type": "@json", "@value": None}]


def test_with_the_w3c_context_alone_safe_mode_expansion_fails(document_kinds: dict[str, dict[str, Any]]) -> None:
    w3c_only = {**document_kinds["single"], "@context": document_kinds["single"]["@context"][:1]}
    expanded = jsonld_expand([w3c_only])
    assert (expanded.returncode, "safe mode" in expanded.stderr.lower()) == (1, True), expanded.stderr


def test_documents_name_the_context_under_the_configured_base_url(
        gateway_on_own_devnet: Callable[..., Gateway]) -> None:
    gateway = gateway_on_own_devnet(context_base_url="https://certnet.gov.example/")
    operation = gateway.issuance.issue(department_caller("MZ"), IssueRequest.model_validate(marriage_request()), None)
    with gateway.sessions() as session:
        document = session.scalars(select(IssuedCertificate.document)
                                   .where(IssuedCertificate.operation_id == operation.id)).one()
    assert document["@context"][1] == "https://certnet.gov.example/ns/certificate/v1"


def test_a_document_naming_another_base_url_expands_with_the_shipped_context(
        document_kinds: dict[str, dict[str, Any]]) -> None:
    # the certificate hash covers @context, but expansion does not check hashes: this is about the loader
    moved = {**document_kinds["single"], "@context": ["https://www.w3.org/ns/credentials/v2",
                                                      "https://certnet.gov.example/ns/certificate/v1"]}
    assert jsonld_expand([moved]).returncode == 0
