"""Upgrading the registry by a successor deployment: the successor anchors only once governance has
retired its predecessor in its favour, refuses what any predecessor anchored, and the retired
registry anchors nothing new while its certificates stay revocable and verifiable."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from web3.constants import ADDRESS_ZERO
from web3.logs import DISCARD

from gateway.certificates.merkle import MerkleBatch
from ledger_node.accounts import dev_account
from ledger_node.deploy import Deployment, deploy_successor_registry, retire_call
from ledger_node.sender import Sender
from ledger_node.types import CertificateStatus, DepartmentStatus
from tests.conftest import CIVIL, MARRIAGE, Network, random_hash

ZERO = b"\0" * 32


def _successor_of(network: Network, deployment: Deployment) -> Any:
    deployer = dev_account(0)
    successor, _block = deploy_successor_registry(network.w3, Sender(network.w3, [deployer]), deployer.address,
                                                  deployment)
    return successor


@pytest.fixture
def successor(network: Network) -> Any:
    """A successor of the network's registry, deployed and not yet handed over to."""
    return _successor_of(network, network.deployment)


@pytest.fixture
def upgraded(network: Network, successor: Any) -> Any:
    """The successor after governance retired the network's registry in its favour."""
    network.govern(retire_call(network.deployment, successor.address))
    return successor


def _marriage_permit(network: Network, registry: Any) -> list[int]:
    """What `registry` remembers of the issuer's key's permit to issue marriage certificates."""
    type_id = network.catalog.functions.certificateType(MARRIAGE).call()[1]
    return list(registry.functions.issuancePermit(network.keys["issuer"], type_id).call())


def _status(registry: Any, certificate_hash: bytes) -> CertificateStatus:
    return CertificateStatus(registry.functions.certificateState(certificate_hash, ZERO, []).call()[0])


class TestSuccessorBeforeTakeover:
    def test_names_its_predecessor(self, network: Network, successor: Any) -> None:
        assert successor.functions.predecessor().call() == network.registry.address

    def test_refuses_to_anchor_while_the_predecessor_anchors(self, network: Network, successor: Any,
                                                            reverts) -> None:
        with reverts("RegistryNotYetActive", network.registry.address):
            network.send(successor.functions.issue(random_hash(), network.terms()), "issuer")

    def test_the_first_registry_anchors_from_deployment(self, network: Network) -> None:
        assert network.registry.functions.isActive().call()
        assert network.registry.functions.predecessor().call() == ADDRESS_ZERO


class TestRetire:
    def test_hands_over_to_the_successor(self, network: Network, upgraded: Any) -> None:
        assert (network.registry.functions.isActive().call(), upgraded.functions.isActive().call()) == (False, True)
        assert network.registry.functions.successor().call() == upgraded.address

    def test_announces_the_retirement_and_the_takeover(self, network: Network, successor: Any) -> None:
        receipt = network.govern(retire_call(network.deployment, successor.address))
        retired = network.registry.events.RegistryRetired().process_receipt(receipt, errors=DISCARD)
        took_over = successor.events.RegistryTookOver().process_receipt(receipt, errors=DISCARD)
        assert [event["args"]["successor"] for event in retired] == [successor.address]
        assert [event["args"]["predecessor"] for event in took_over] == [network.registry.address]

    def test_only_governance_retires(self, network: Network, successor: Any, reverts) -> None:
        with reverts("RegistryOnlyGovernance", network.keys["governor"]):
            network.send(network.registry.functions.retire(successor.address), "governor")

    def test_refuses_a_registry_that_does_not_succeed_it(self, network: Network, successor: Any, reverts) -> None:
        successor_of_successor = _successor_of(network, replace(network.deployment, registry=successor))
        with reverts("RegistryNotPredecessor", network.registry.address):
            network.govern(retire_call(network.deployment, successor_of_successor.address))

    def test_refuses_no_successor(self, network: Network, reverts) -> None:
        with reverts("RegistryInvalidSuccessor", ADDRESS_ZERO):
            network.govern(network.registry.functions.retire(ADDRESS_ZERO))

    def test_refuses_itself_as_successor(self, network: Network, reverts) -> None:
        with reverts("RegistryInvalidSuccessor", network.registry.address):
            network.govern(network.registry.functions.retire(network.registry.address))

    def test_happens_once(self, network: Network, upgraded: Any, reverts) -> None:
        another = _successor_of(network, network.deployment)
        with reverts("RegistryIsRetired", upgraded.address):
            network.govern(network.registry.functions.retire(another.address))

    def test_a_registry_that_never_took_over_cannot_retire(self, network: Network, successor: Any,
                                                            reverts) -> None:
        successor_of_successor = _successor_of(network, replace(network.deployment, registry=successor))
        with reverts("RegistryNotYetActive", network.registry.address):
            network.govern(successor.functions.retire(successor_of_successor.address))

    def test_a_successor_takes_over_from_its_predecessor_only(self, network: Network, successor: Any,
                                                             reverts) -> None:
        with reverts("RegistryNotPredecessor", network.keys["governor"]):
            network.send(successor.functions.takeOver(), "governor")


class TestPermitsAcrossTheUpgrade:
    """Only the registry the consortium names keeps issuance permits, so that no permit outlives the
    changes that should withdraw it: retiring forgets them all and hands the hooks to the successor."""

    def test_retiring_forgets_every_permit(self, network: Network, successor: Any) -> None:
        network.issue()
        network.govern(retire_call(network.deployment, successor.address))
        assert _marriage_permit(network, network.registry) == [0, 0, 0]

    def test_a_key_that_issued_before_is_refused_after_retirement(self, network: Network, successor: Any,
                                                                  reverts) -> None:
        network.issue()
        network.govern(retire_call(network.deployment, successor.address))
        with reverts("RegistryIsRetired", successor.address):
            network.issue()

    def test_the_consortium_names_the_successor(self, network: Network, upgraded: Any) -> None:
        assert network.consortium.functions.issuancePermits().call() == upgraded.address

    def test_governance_cannot_name_a_registry_without_retiring_the_named_one(self, network: Network,
                                                                             successor: Any, reverts) -> None:
        with reverts("ConsortiumNotIssuancePermits", network.consortium.address):
            network.govern(network.consortium.functions.handOverIssuancePermits(successor.address))

    def test_catalog_changes_reach_the_successor(self, network: Network, upgraded: Any) -> None:
        network.send(upgraded.functions.issue(random_hash(), network.terms()), "issuer")
        network.send(network.catalog.functions.setIssuer(MARRIAGE, CIVIL, False), "issuer")
        assert _marriage_permit(network, upgraded) == [0, 0, 0]

    def test_consortium_changes_reach_the_successor(self, network: Network, upgraded: Any) -> None:
        network.send(upgraded.functions.issue(random_hash(), network.terms()), "issuer")
        network.govern(network.consortium.functions.setStatus(CIVIL, DepartmentStatus.SUSPENDED))
        assert _marriage_permit(network, upgraded) == [0, 0, 0]


class TestRetiredRegistry:
    def test_refuses_to_issue(self, network: Network, upgraded: Any, reverts) -> None:
        with reverts("RegistryIsRetired", upgraded.address):
            network.issue()

    def test_refuses_a_batch(self, network: Network, upgraded: Any, reverts) -> None:
        with reverts("RegistryIsRetired", upgraded.address):
            network.send(network.registry.functions.anchorBatch(random_hash(), network.terms(), 3), "issuer")

    def test_refuses_to_supersede(self, network: Network, successor: Any, reverts) -> None:
        old = network.issue()
        network.govern(retire_call(network.deployment, successor.address))
        with reverts("RegistryIsRetired", successor.address):
            network.send(network.registry.functions.supersede(old, ZERO, [], random_hash(), 0), "issuer")

    def test_still_revokes_its_certificates(self, network: Network, successor: Any) -> None:
        old = network.issue()
        network.govern(retire_call(network.deployment, successor.address))
        network.send(network.registry.functions.revoke(old, ZERO, [], 2), "issuer")
        assert _status(network.registry, old) is CertificateStatus.REVOKED

    def test_still_revokes_a_batch_member(self, network: Network, successor: Any) -> None:
        batch = MerkleBatch.build([random_hash() for _ in range(5)])
        network.send(network.registry.functions.anchorBatch(batch.root, network.terms(), len(batch)), "issuer")
        network.govern(retire_call(network.deployment, successor.address))
        member = next(iter(batch.positions))
        network.send(network.registry.functions.revoke(member, batch.root, batch.proof(member), 1), "issuer")
        state = network.registry.functions.certificateState(member, batch.root, batch.proof(member)).call()
        assert CertificateStatus(state[0]) is CertificateStatus.REVOKED

    def test_its_certificates_still_verify(self, network: Network, successor: Any) -> None:
        old = network.issue()
        network.govern(retire_call(network.deployment, successor.address))
        assert _status(network.registry, old) is CertificateStatus.VALID


class TestSuccessorAnchoring:
    def test_issues_after_the_takeover(self, network: Network, upgraded: Any) -> None:
        certificate_hash = random_hash()
        network.send(upgraded.functions.issue(certificate_hash, network.terms()), "issuer")
        assert _status(upgraded, certificate_hash) is CertificateStatus.VALID

    def test_refuses_a_hash_the_predecessor_anchored(self, network: Network, successor: Any, reverts) -> None:
        old = network.issue()
        network.govern(retire_call(network.deployment, successor.address))
        with reverts("RegistryAnchoredInPredecessor", old, network.registry.address):
            network.send(successor.functions.issue(old, network.terms()), "issuer")

    def test_refuses_a_batch_root_the_predecessor_anchored(self, network: Network, successor: Any,
                                                          reverts) -> None:
        root = random_hash()
        network.send(network.registry.functions.anchorBatch(root, network.terms(), 4), "issuer")
        network.govern(retire_call(network.deployment, successor.address))
        with reverts("RegistryAnchoredInPredecessor", root, network.registry.address):
            network.send(successor.functions.anchorBatch(root, network.terms(), 4), "issuer")

    def test_refuses_a_predecessor_hash_as_a_successor_certificate(self, network: Network, successor: Any,
                                                                  reverts) -> None:
        old = network.issue()
        network.govern(retire_call(network.deployment, successor.address))
        renewed = random_hash()
        network.send(successor.functions.issue(renewed, network.terms()), "issuer")
        with reverts("RegistryAnchoredInPredecessor", old, network.registry.address):
            network.send(successor.functions.supersede(renewed, ZERO, [], old, 0), "issuer")

    def test_refuses_a_hash_any_earlier_version_anchored(self, network: Network, successor: Any,
                                                        reverts) -> None:
        first_version = network.issue()
        network.govern(retire_call(network.deployment, successor.address))
        upgraded_once = replace(network.deployment, registry=successor)
        third = _successor_of(network, upgraded_once)
        network.govern(retire_call(upgraded_once, third.address))
        with reverts("RegistryAnchoredInPredecessor", first_version, successor.address):
            network.send(third.functions.issue(first_version, network.terms()), "issuer")

    def test_knows_what_every_version_anchored(self, network: Network, successor: Any) -> None:
        old = network.issue()
        network.govern(retire_call(network.deployment, successor.address))
        new = random_hash()
        network.send(successor.functions.issue(new, network.terms()), "issuer")
        assert [successor.functions.isAnchored(h).call() for h in (old, new, random_hash())] == [True, True, False]
        assert not network.registry.functions.isAnchored(new).call()
