"""End to end on the embedded chain: documents made, signed, anchored, then verified."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from typing import Any

from web3 import Web3

from gateway.certificates.anchoring import Issuing, anchor_certificate, revoke, supersede
from gateway.certificates.document import redact
from gateway.certificates.identity import HolderId
from gateway.certificates.signing import sign
from gateway.certificates.verification import CHAIN_CHECKS, PARALLEL_FROM, Outcome, Verdict, Verifier
from ledger_node.sender import Sender
from tests.conftest import CIVIL, CertificateDesk


def outcomes(report: Any) -> dict[str, Outcome]:
    return {check.name: check.outcome for check in report.checks}


def test_an_anchored_certificate_verifies(desk: CertificateDesk) -> None:
    report = desk.verifier.verify(desk.anchored())
    assert report.verdict is Verdict.VALID, report.as_dict()


def test_every_member_of_an_anchored_batch_verifies(desk: CertificateDesk) -> None:
    documents = desk.batch(5)
    assert [desk.verifier.verify(d).verdict for d in documents] == [Verdict.VALID] * 5


def test_a_tampered_subject_fails_integrity(desk: CertificateDesk) -> None:
    document = desk.anchored()
    document["credentialSubject"]["spouseName"] = "王五"
    report = desk.verifier.verify(document)
    assert report.verdict is Verdict.INVALID
    assert report.check("integrity").outcome is Outcome.INVALID


def test_a_tampered_subject_is_named_by_a_verifier_that_knows_the_signed_document(desk: CertificateDesk) -> None:
    signed = desk.anchored()
    document = copy.deepcopy(signed)
    document["credentialSubject"]["holderName"] = "张四"
    verifier = desk.verifier
    verifier.signed_documents = {bytes.fromhex(signed["proof"]["certificateHash"][2:]): signed}.get
    check = verifier.verify(document).check("integrity")
    assert check.outcome is Outcome.INVALID
    assert check.details["changedFields"] == ["credentialSubject.holderName"]


def test_a_tampered_subject_is_not_named_without_the_signed_document(desk: CertificateDesk) -> None:
    document = desk.anchored()
    document["credentialSubject"]["holderName"] = "张四"
    assert "changedFields" not in desk.verifier.verify(document).check("integrity").details


def test_a_redacted_certificate_still_verifies(desk: CertificateDesk) -> None:
    document = redact(desk.anchored(), ["holderName", "spouseName"])
    report = desk.verifier.verify(document)
    assert report.verdict is Verdict.VALID
    assert "2 field(s) redacted" in report.check("integrity").reason


def test_a_revoked_certificate_reports_when_it_was_revoked(desk: CertificateDesk) -> None:
    document = desk.anchored()
    receipt = revoke(desk.issuing, document, reason=1)
    revoked_at = desk.network.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    check = desk.verifier.verify(document).check("not_revoked")
    assert check.outcome is Outcome.INVALID
    assert check.details["revokedAt"] == _rfc3339(revoked_at)
    assert "issued in error" in check.reason


def test_a_revoked_batch_member_is_invalid_while_its_batch_mates_stay_valid(desk: CertificateDesk) -> None:
    first, second = desk.batch(2)
    revoke(desk.issuing, first, reason=2)
    assert desk.verifier.verify(first).verdict is Verdict.INVALID
    assert desk.verifier.verify(second).verdict is Verdict.VALID


def test_a_superseded_certificate_names_its_successor(desk: CertificateDesk) -> None:
    old = desk.anchored()
    successor = supersede(desk.issuing, old, desk.signed())
    check = desk.verifier.verify(old).check("not_superseded")
    assert check.outcome is Outcome.INVALID
    assert check.details["supersededBy"] == successor["proof"]["certificateHash"]
    assert desk.verifier.verify(successor).verdict is Verdict.VALID


def test_an_expired_certificate_fails_validity(desk: CertificateDesk) -> None:
    document = desk.anchored(valid_for=3600)
    desk.network.advance_time(7200)
    report = desk.verifier.verify(document)
    assert report.check("validity").outcome is Outcome.INVALID
    assert "expired" in report.check("validity").reason


def test_a_certificate_within_its_validity_passes(desk: CertificateDesk) -> None:
    document = desk.anchored(valid_for=3600)
    report = desk.verifier.verify(document)
    assert report.check("validity").outcome is Outcome.VALID


def test_a_key_rotated_away_before_issuance_fails_the_signature_check(desk: CertificateDesk) -> None:
    network = desk.network
    signed_with_old_key = desk.signed()
    new_key = network.new_key()
    network.send(network.consortium.functions.rotateKey(CIVIL, network.keys["issuer"], new_key), "issuer")
    issuing = Issuing(network.deployment, Sender(network.w3, [network.signers[new_key]]), new_key)
    report = desk.verifier.verify(anchor_certificate(issuing, signed_with_old_key))
    assert report.check("signature").outcome is Outcome.INVALID
    assert "was not a key of CIVIL-AFFAIRS when the certificate was anchored" in report.check("signature").reason


def test_a_signature_by_a_key_of_another_department_fails_the_signature_check(desk: CertificateDesk) -> None:
    document = sign(desk.new(), desk.network.signer("other_issuer"), desk.issuing.domain)
    report = desk.verifier.verify(anchor_certificate(desk.issuing, document))
    assert report.check("signature").outcome is Outcome.INVALID


def test_a_signature_names_the_department_that_held_the_key(desk: CertificateDesk) -> None:
    check = desk.verifier.verify(desk.anchored()).check("signature")
    assert check.outcome is Outcome.VALID and "a key of CIVIL-AFFAIRS at issue time" in check.reason


def test_a_document_claiming_another_issuer_fails_the_authority_check(desk: CertificateDesk) -> None:
    document = desk.anchored()
    document["issuer"]["id"] = "urn:certnet:department:HOUSING"
    report = desk.verifier.verify(document)
    assert report.check("integrity").outcome is Outcome.INVALID
    assert report.check("issuer_authorised").outcome is Outcome.INVALID


def test_a_department_not_authorised_for_the_type_cannot_anchor(desk: CertificateDesk,
                                                                 reverts: Any) -> None:
    network = desk.network
    housing = network.signer("other_issuer")
    issuing = Issuing(network.deployment, Sender(network.w3, [housing]), housing.address)
    with reverts("CatalogIssuerNotAuthorised"):
        anchor_certificate(issuing, sign(desk.new(), housing, issuing.domain))


def test_an_unanchored_certificate_is_reported_not_anchored(desk: CertificateDesk) -> None:
    document = copy.deepcopy(desk.anchored())
    document["proof"]["anchor"]["batchRoot"] = "0x" + "11" * 32
    report = desk.verifier.verify(document)
    assert report.check("anchored").outcome is Outcome.INVALID


def test_a_batch_proof_shifted_to_another_member_is_invalid(desk: CertificateDesk) -> None:
    first, second, *_ = desk.batch(4)
    first["proof"]["anchor"]["merkleProof"] = second["proof"]["anchor"]["merkleProof"]
    assert desk.verifier.verify(first).check("anchored").outcome is Outcome.INVALID


def test_a_proof_from_another_batch_is_invalid(desk: CertificateDesk) -> None:
    (ours, *_), (theirs, *_) = desk.batch(3), desk.batch(3)
    ours["proof"]["anchor"].update(batchRoot=theirs["proof"]["anchor"]["batchRoot"],
                                   merkleProof=theirs["proof"]["anchor"]["merkleProof"])
    assert desk.verifier.verify(ours).check("anchored").outcome is Outcome.INVALID


def test_offline_verification_checks_integrity_and_signature_and_skips_the_chain(desk: CertificateDesk) -> None:
    report = Verifier().verify(desk.anchored())
    assert report.verdict is Verdict.INCOMPLETE
    assert outcomes(report)["integrity"] is Outcome.VALID and outcomes(report)["signature"] is Outcome.VALID
    assert outcomes(report)["not_revoked"] is Outcome.SKIPPED


def test_a_disclosed_identity_is_checked_against_the_pseudonym(desk: CertificateDesk) -> None:
    document = desk.anchored()
    same = desk.verifier.verify(document, holder=HolderId.parse("11010519491231002x"))
    other = desk.verifier.verify(document, holder=HolderId.parse("440524188001010014"))
    assert same.check("holder").outcome is Outcome.VALID
    assert other.check("holder").outcome is Outcome.INVALID


def test_a_chain_that_cannot_be_reached_gives_errors_not_invalid(desk: CertificateDesk) -> None:
    document = desk.anchored()
    unreachable = Web3(Web3.HTTPProvider("http://127.0.0.1:9", request_kwargs={"timeout": 2}))
    registry = desk.network.deployment.registry
    cut_off = dataclasses.replace(desk.network.deployment,
                                  registry=unreachable.eth.contract(address=registry.address, abi=registry.abi))
    report = Verifier(cut_off).verify(document)
    assert report.verdict is Verdict.ERROR
    assert {report.check(n).outcome for n in CHAIN_CHECKS} == {Outcome.ERROR}
    assert "could not be read" in report.check("anchored").reason


def test_a_document_anchored_on_another_deployment_is_not_checked_here(desk: CertificateDesk) -> None:
    document = desk.anchored()
    document["proof"]["anchor"]["chainId"] += 1
    assert desk.verifier.verify(document).check("anchored").outcome is Outcome.ERROR


def test_a_malformed_document_is_invalid_with_the_reason(desk: CertificateDesk) -> None:
    document = desk.anchored()
    del document["credentialSchema"]
    report = desk.verifier.verify(document)
    assert report.verdict is Verdict.INVALID
    assert report.check("integrity").reason == "missing `credentialSchema`"


def _rfc3339(timestamp: int) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).isoformat().replace("+00:00", "Z")


def test_a_large_batch_checked_in_worker_processes_gets_the_reports_of_one_by_one(desk: CertificateDesk) -> None:
    documents = desk.batch(PARALLEL_FROM)
    documents[7] = {**documents[7], "credentialSubject": {**documents[7]["credentialSubject"], "holderName": "王五"}}
    documents[9] = {"not": "a certificate"}
    parallel = Verifier(desk.network.deployment, now=desk.network.now, workers=2)
    try:
        reports = [report.as_dict() for report in parallel.verify_batch(documents)]
    finally:
        parallel.close()
    assert reports == [desk.verifier.verify(document).as_dict() for document in documents]
    assert [report["verdict"] for report in reports].count("invalid") == 2
