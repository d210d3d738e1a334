"""CertificateRegistry: single and batch issuance, proofs, revocation, supersession, the verifier view."""

from __future__ import annotations

import pytest
from web3.logs import DISCARD

from gateway.certificates.merkle import MerkleBatch, leaf_hash
from ledger_node.types import CertificateStatus, DepartmentStatus, TypeStatus
from tests.conftest import CIVIL, MARRIAGE, SUSPENDED, Network, random_hash

ZERO = b"\0" * 32


def _state(network: Network, certificate_hash: bytes, root: bytes = ZERO, proof: list[bytes] | None = None) -> dict:
    state = network.registry.functions.certificateState(certificate_hash, root, proof or []).call()
    names = ["status", "issuer", "certificateType", "typeVersion", "issuedAt", "issuedBlock", "validUntil",
             "batchRoot", "revokedAt", "revocationReason", "supersededBy"]
    return dict(zip(names, state))


@pytest.fixture
def batch(network: Network) -> MerkleBatch:
    batch = MerkleBatch.build([random_hash() for _ in range(9)])
    network.send(network.registry.functions.anchorBatch(batch.root, MARRIAGE, len(batch), 0), "issuer")
    return batch


class TestIssue:
    def test_records_everything_a_verifier_needs(self, network: Network) -> None:
        valid_until = network.now() + 86_400
        certificate_hash = network.issue(valid_until=valid_until)
        state = _state(network, certificate_hash)
        assert state["status"] == CertificateStatus.VALID
        assert (state["issuer"], state["certificateType"], state["typeVersion"]) == (CIVIL, MARRIAGE, 1)
        assert state["validUntil"] == valid_until
        assert state["issuedBlock"] == network.w3.eth.block_number

    def test_refuses_a_second_anchor_of_the_same_hash(self, network: Network, reverts) -> None:
        certificate_hash = network.issue()
        with reverts("RegistryAlreadyAnchored", certificate_hash):
            network.send(network.registry.functions.issue(certificate_hash, MARRIAGE, 0), "issuer")

    def test_refuses_a_validity_end_in_the_past(self, network: Network, reverts) -> None:
        with reverts("RegistryInvalidValidity"):
            network.send(network.registry.functions.issue(random_hash(), MARRIAGE, network.now() - 1), "issuer")

    def test_refuses_a_deprecated_type(self, network: Network, reverts) -> None:
        network.send(network.catalog.functions.setTypeStatus(MARRIAGE, TypeStatus.DEPRECATED), "issuer")
        with reverts("CatalogTypeDeprecated", MARRIAGE):
            network.issue()

    def test_records_the_type_version_current_at_issue(self, network: Network) -> None:
        first = network.issue()
        network.send(network.catalog.functions.publishTypeVersion(MARRIAGE, b"\x02" * 32), "issuer")
        second = network.issue()
        assert (_state(network, first)["typeVersion"], _state(network, second)["typeVersion"]) == (1, 2)

    def test_unknown_hash_has_status_unknown(self, network: Network) -> None:
        assert _state(network, random_hash())["status"] == CertificateStatus.UNKNOWN

    def test_expires_at_its_validity_end(self, network: Network) -> None:
        network.w3.testing.mine()  # after a snapshot's revert the latest block can be minutes behind the clock
        certificate_hash = network.issue(valid_until=network.now() + 60)
        network.advance_time(61)
        assert _state(network, certificate_hash)["status"] == CertificateStatus.EXPIRED


class TestBatch:
    def test_every_member_verifies_with_its_proof(self, network: Network, batch: MerkleBatch) -> None:
        for certificate_hash in batch.positions:
            state = _state(network, certificate_hash, batch.root, batch.proof(certificate_hash))
            assert state["status"] == CertificateStatus.VALID and state["batchRoot"] == batch.root

    def test_a_hash_outside_the_batch_is_rejected(self, network: Network, batch: MerkleBatch) -> None:
        member = next(iter(batch.positions))
        assert not network.registry.functions.isBatchMember(batch.root, random_hash(), batch.proof(member)).call()

    def test_a_proof_against_another_root_is_rejected(self, network: Network, batch: MerkleBatch) -> None:
        other = MerkleBatch.build([random_hash() for _ in range(9)])
        network.send(network.registry.functions.anchorBatch(other.root, MARRIAGE, len(other), 0), "issuer")
        member = next(iter(batch.positions))
        assert not network.registry.functions.isBatchMember(other.root, member, batch.proof(member)).call()

    def test_a_tampered_proof_is_rejected(self, network: Network, batch: MerkleBatch) -> None:
        member = next(iter(batch.positions))
        proof = batch.proof(member)
        proof[0] = bytes([proof[0][0] ^ 1]) + proof[0][1:]
        assert not network.registry.functions.isBatchMember(batch.root, member, proof).call()
        assert _state(network, member, batch.root, proof)["status"] == CertificateStatus.UNKNOWN

    def test_an_inner_node_does_not_pass_as_a_certificate(self, network: Network, batch: MerkleBatch) -> None:
        # tree[1] is the root's left child; its sibling tree[2] would complete a proof if leaves
        # were not domain-separated from inner nodes.
        inner_node, sibling = batch.tree[1], batch.tree[2]
        assert not network.registry.functions.isBatchMember(batch.root, inner_node, [sibling]).call()

    def test_an_unanchored_root_proves_nothing(self, network: Network) -> None:
        unanchored = MerkleBatch.build([random_hash() for _ in range(4)])
        member = next(iter(unanchored.positions))
        assert not network.registry.functions.isBatchMember(unanchored.root, member, unanchored.proof(member)).call()

    def test_a_batch_root_is_not_a_single_certificate(self, network: Network, batch: MerkleBatch) -> None:
        assert _state(network, batch.root)["status"] == CertificateStatus.UNKNOWN

    def test_an_empty_batch_is_refused(self, network: Network, reverts) -> None:
        root = random_hash()
        with reverts("RegistryInvalidAnchor", root):
            network.send(network.registry.functions.anchorBatch(root, MARRIAGE, 0, 0), "issuer")

    def test_the_leaf_hash_matches_the_contract(self, network: Network) -> None:
        certificate_hash = random_hash()
        assert network.registry.functions.leafOf(certificate_hash).call() == leaf_hash(certificate_hash)


class TestRevoke:
    def test_revoked_single_certificate_reports_time_and_reason(self, network: Network) -> None:
        certificate_hash = network.issue()
        network.send(network.registry.functions.revoke(certificate_hash, ZERO, [], 1), "issuer")
        state = _state(network, certificate_hash)
        assert state["status"] == CertificateStatus.REVOKED
        assert (state["revokedAt"], state["revocationReason"]) == (network.now(), 1)

    def test_revoking_a_batch_member_leaves_the_others_valid(self, network: Network, batch: MerkleBatch) -> None:
        revoked, kept = list(batch.positions)[:2]
        network.send(network.registry.functions.revoke(revoked, batch.root, batch.proof(revoked), 3), "issuer")
        assert _state(network, revoked, batch.root, batch.proof(revoked))["status"] == CertificateStatus.REVOKED
        assert _state(network, kept, batch.root, batch.proof(kept))["status"] == CertificateStatus.VALID

    def test_revoking_a_batch_member_needs_a_valid_proof(self, network: Network, batch: MerkleBatch, reverts) -> None:
        outsider = random_hash()
        with reverts("RegistryInvalidProof", batch.root, outsider):
            network.send(network.registry.functions.revoke(outsider, batch.root, [], 1), "issuer")

    def test_revoking_twice_is_refused(self, network: Network, reverts) -> None:
        certificate_hash = network.issue()
        network.send(network.registry.functions.revoke(certificate_hash, ZERO, [], 1), "issuer")
        with reverts("RegistryAlreadyRevoked", certificate_hash):
            network.send(network.registry.functions.revoke(certificate_hash, ZERO, [], 1), "issuer")

    def test_revoking_an_unknown_certificate_is_refused(self, network: Network, reverts) -> None:
        unknown = random_hash()
        with reverts("RegistryNotAnchored", unknown):
            network.send(network.registry.functions.revoke(unknown, ZERO, [], 1), "issuer")

    def test_a_suspended_issuer_cannot_revoke_what_it_issued_before(self, network: Network, reverts) -> None:
        network.govern(network.consortium.functions.setStatus(SUSPENDED, DepartmentStatus.ACTIVE))
        certificate_hash = network.issue("suspended")
        network.govern(network.consortium.functions.setStatus(SUSPENDED, DepartmentStatus.SUSPENDED))
        with reverts("ConsortiumDepartmentNotActive", SUSPENDED, DepartmentStatus.SUSPENDED):
            network.send(network.registry.functions.revoke(certificate_hash, ZERO, [], 1), "suspended")

    def test_a_revoked_single_certificate_keeps_its_anchor(self, network: Network) -> None:
        certificate_hash = network.issue()
        before = network.registry.functions.anchorOf(certificate_hash).call()
        network.advance_time(100)
        network.send(network.registry.functions.revoke(certificate_hash, ZERO, [], 2), "issuer")
        assert network.registry.functions.anchorOf(certificate_hash).call() == before

    def test_a_revocation_more_than_2_to_the_32_seconds_after_issuance_keeps_its_exact_time(
        self, network: Network
    ) -> None:
        certificate_hash = network.issue()
        network.advance_time(2**32 + 5)
        receipt = network.send(network.registry.functions.revoke(certificate_hash, ZERO, [], 3), "issuer")
        revoked_at = network.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
        state = _state(network, certificate_hash)
        assert (state["status"], state["revokedAt"], state["revocationReason"]) == (
            CertificateStatus.REVOKED, revoked_at, 3)

    def test_revoking_twice_after_2_to_the_32_seconds_is_refused(self, network: Network, reverts) -> None:
        certificate_hash = network.issue()
        network.advance_time(2**32 + 5)
        network.send(network.registry.functions.revoke(certificate_hash, ZERO, [], 3), "issuer")
        with reverts("RegistryAlreadyRevoked", certificate_hash):
            network.send(network.registry.functions.revoke(certificate_hash, ZERO, [], 1), "issuer")

    @pytest.mark.parametrize("reason", [0, 1, 2, 3])
    def test_each_defined_reason_is_recorded(self, network: Network, reason: int) -> None:
        certificate_hash = network.issue()
        receipt = network.send(network.registry.functions.revoke(certificate_hash, ZERO, [], reason), "issuer")
        event = network.registry.events.CertificateRevoked().process_receipt(receipt, errors=DISCARD)[0]["args"]
        assert (event["certificateHash"], event["reason"]) == (certificate_hash, reason)
        assert _state(network, certificate_hash)["revocationReason"] == reason

    def test_superseded_is_not_a_reason_revoke_takes(self, network: Network, reverts) -> None:
        certificate_hash = network.issue()
        with reverts("RegistryInvalidReason", 4):
            network.send(network.registry.functions.revoke(certificate_hash, ZERO, [], 4), "issuer")
        assert _state(network, certificate_hash)["status"] == CertificateStatus.VALID

    @pytest.mark.parametrize("reason", [5, 255])
    def test_an_undefined_reason_is_refused(self, network: Network, reverts, reason: int) -> None:
        certificate_hash = network.issue()
        with reverts("RegistryInvalidReason", reason):
            network.send(network.registry.functions.revoke(certificate_hash, ZERO, [], reason), "issuer")


class TestSupersede:
    def test_the_old_certificate_names_its_successor(self, network: Network) -> None:
        old, new = network.issue(), random_hash()
        network.send(network.registry.functions.supersede(old, ZERO, [], new, 0), "issuer")
        assert _state(network, old)["status"] == CertificateStatus.SUPERSEDED
        assert _state(network, old)["supersededBy"] == new
        assert _state(network, new)["status"] == CertificateStatus.VALID

    def test_a_supersession_is_also_announced_as_a_revocation_with_reason_superseded(self, network: Network) -> None:
        old, new = network.issue(), random_hash()
        receipt = network.send(network.registry.functions.supersede(old, ZERO, [], new, 0), "issuer")
        revoked = network.registry.events.CertificateRevoked().process_receipt(receipt, errors=DISCARD)
        assert [(e["args"]["certificateHash"], e["args"]["issuer"], e["args"]["batchRoot"], e["args"]["reason"])
                for e in revoked] == [(old, CIVIL, ZERO, 4)]
        assert _state(network, old)["revocationReason"] == 4

    def test_a_chain_of_supersessions_can_be_followed(self, network: Network) -> None:
        first, second, third = network.issue(), random_hash(), random_hash()
        network.send(network.registry.functions.supersede(first, ZERO, [], second, 0), "issuer")
        network.send(network.registry.functions.supersede(second, ZERO, [], third, 0), "issuer")
        chain, current = [first], first
        while (successor := _state(network, current)["supersededBy"]) != ZERO:
            chain.append(successor)
            current = successor
        assert chain == [first, second, third]

    def test_a_superseded_certificate_cannot_be_superseded_again(self, network: Network, reverts) -> None:
        old = network.issue()
        network.send(network.registry.functions.supersede(old, ZERO, [], random_hash(), 0), "issuer")
        with reverts("RegistryAlreadyRevoked", old):
            network.send(network.registry.functions.supersede(old, ZERO, [], random_hash(), 0), "issuer")

    def test_a_batch_member_can_be_superseded_by_a_single_certificate(
        self, network: Network, batch: MerkleBatch
    ) -> None:
        member, successor = next(iter(batch.positions)), random_hash()
        network.send(network.registry.functions.supersede(member, batch.root, batch.proof(member), successor, 0), "issuer")
        assert _state(network, member, batch.root, batch.proof(member))["supersededBy"] == successor

    def test_successor_needs_the_issuer_still_authorised(self, network: Network, reverts) -> None:
        old = network.issue()
        network.send(network.catalog.functions.setIssuer(MARRIAGE, CIVIL, False), "issuer")
        with reverts("CatalogIssuerNotAuthorised", MARRIAGE, CIVIL):
            network.send(network.registry.functions.supersede(old, ZERO, [], random_hash(), 0), "issuer")
