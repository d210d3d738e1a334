"""Certificates across a registry upgrade, on the embedded chain: the verifier checks each document
against the registry version its anchor names, and the command line's revocation goes to the registry
that holds the certificate."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from gateway.certificates.anchoring import Issuing, anchor_certificate, revoke, supersede
from gateway.certificates.signing import sign
from gateway.certificates.verification import Verifier
from ledger_node.accounts import dev_account
from ledger_node.deploy import Deployment, deploy_successor_registry, retire_call
from ledger_node.sender import Sender
from ledger_node.transactions import ContractReverted
from tests.conftest import PSEUDONYM_SECRET, CertificateDesk


def _upgrade(desk: CertificateDesk) -> Deployment:
    """The desk's deployment after its registry was replaced by a successor (the desk still anchors in the old)."""
    network, deployer = desk.network, dev_account(0)
    successor, block = deploy_successor_registry(network.w3, Sender(network.w3, [deployer]), deployer.address,
                                                 network.deployment)
    network.govern(retire_call(network.deployment, successor.address))
    return replace(network.deployment, registry=successor, retired_registries=((network.registry, block),))


@pytest.fixture
def upgraded(desk: CertificateDesk) -> Deployment:
    return _upgrade(desk)


def _verifier(desk: CertificateDesk, deployment: Deployment) -> Verifier:
    return Verifier(deployment, pseudonym_secret=PSEUDONYM_SECRET, now=desk.network.now)


def _issuing(desk: CertificateDesk, deployment: Deployment) -> Issuing:
    return replace(desk.issuing, deployment=deployment)


def _anchored_in(desk: CertificateDesk, deployment: Deployment) -> dict[str, Any]:
    issuing = _issuing(desk, deployment)
    return anchor_certificate(issuing, sign(desk.new(), desk.network.signer("issuer"), issuing.domain))


def test_a_certificate_of_the_retired_registry_still_verifies(desk: CertificateDesk) -> None:
    old = desk.anchored()
    upgraded = _upgrade(desk)
    assert _verifier(desk, upgraded).verify(old).verdict.value == "valid"


def test_a_certificate_of_the_successor_verifies(desk: CertificateDesk, upgraded: Deployment) -> None:
    new = _anchored_in(desk, upgraded)
    assert new["proof"]["anchor"]["registry"] == upgraded.registry.address
    assert _verifier(desk, upgraded).verify(new).verdict.value == "valid"


def test_a_registry_outside_the_deployment_is_not_checked(desk: CertificateDesk, upgraded: Deployment) -> None:
    new = _anchored_in(desk, upgraded)
    report = _verifier(desk, desk.network.deployment).verify(new)  # a verifier that knows only the old registry
    assert "not on this deployment" in report.check("anchored").reason


def test_the_command_line_revokes_an_old_certificate_in_the_retired_registry(desk: CertificateDesk) -> None:
    old = desk.anchored()
    upgraded = _upgrade(desk)
    revoke(_issuing(desk, upgraded), old, 1)
    assert _verifier(desk, upgraded).verify(old).check("not_revoked").outcome.value == "invalid"


def test_the_command_line_cannot_supersede_an_old_certificate(desk: CertificateDesk) -> None:
    old = desk.anchored()
    upgraded = _upgrade(desk)
    issuing = _issuing(desk, upgraded)
    with pytest.raises(ContractReverted) as refused:
        supersede(issuing, old, sign(desk.new(), desk.network.signer("issuer"), issuing.domain))
    assert (refused.value.error, refused.value.args_) == ("RegistryIsRetired", (upgraded.registry.address,))



def test_a_document_anchored_before_cannot_be_anchored_again_in_the_successor(desk: CertificateDesk) -> None:
    """The same content signed again for the successor has the same certificate hash: the chain refuses it."""
    unsigned = desk.new()
    signer = desk.network.signer("issuer")
    anchor_certificate(desk.issuing, sign(unsigned, signer, desk.issuing.domain))
    upgraded = _upgrade(desk)
    issuing = _issuing(desk, upgraded)
    again = sign(unsigned, signer, issuing.domain)
    with pytest.raises(ContractReverted) as refused:
        anchor_certificate(issuing, again)
    certificate_hash = bytes.fromhex(again["proof"]["certificateHash"][2:])
    assert (refused.value.error, refused.value.args_) == ("RegistryAnchoredInPredecessor",
                                                          (certificate_hash, desk.network.registry.address))
