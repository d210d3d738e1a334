"""CertificateRegistry: single and batch issuance, proofs, revocation, supersession, the verifier view."""

from __future__ import annotations

from typing import Any

import pytest
from eth_tester.exceptions import TransactionFailed
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD

from gateway.certificates.merkle import MerkleBatch, leaf_hash
from ledger_node.transactions import revert_from
from ledger_node.types import CertificateStatus, DepartmentStatus, TypeStatus, issuance_terms
from tests.conftest import CIVIL, MARRIAGE, SUSPENDED, Network, random_hash

ZERO = b"\0" * 32
#: The latest end of validity `terms` can carry: its 40 bits all set.
LATEST_VALID_UNTIL = 2**40 - 1


def _type_id(network: Network, code: bytes = MARRIAGE) -> int:
    return network.catalog.functions.certificateType(code).call()[1]


def _with_terms_word(function: Any, word: int) -> bytes:
    """`function`'s calldata with its second argument (`terms`) replaced by the 256-bit `word`: web3 refuses
    to encode a uint72 argument of more than 72 bits, the chain's ABI decoder is what the test is about."""
    data = bytes.fromhex(function._encode_transaction_data()[2:])
    return data[:36] + word.to_bytes(32, "big") + data[68:]


def _raw_revert(network: Network, data: bytes, actor: str = "issuer") -> bytes:
    """The revert data of a transaction of raw calldata to the registry (it must revert)."""
    try:
        network.w3.eth.send_transaction({"from": network.keys[actor], "to": network.registry.address, "data": data})
    except (ContractLogicError, TransactionFailed) as reverted:
        return revert_from(reverted).raw
    raise AssertionError("the transaction did not revert")


def _state(network: Network, certificate_hash: bytes, root: bytes = ZERO, proof: list[bytes] | None = None) -> dict:
    state = network.registry.functions.certificateState(certificate_hash, root, proof or []).call()
    names = ["status", "issuer", "certificateType", "typeVersion", "issuedAt", "issuedBlock", "validUntil",
             "batchRoot", "revokedAt", "revocationReason", "supersededBy"]
    return dict(zip(names, state))


@pytest.fixture
def batch(network: Network) -> MerkleBatch:
    batch = MerkleBatch.build([random_hash() for _ in range(9)])
    network.send(network.registry.functions.anchorBatch(batch.root, network.terms(), len(batch)), "issuer")
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
            network.send(network.registry.functions.issue(certificate_hash, network.terms()), "issuer")

    def test_refuses_a_validity_end_in_the_past(self, network: Network, reverts) -> None:
        with reverts("RegistryInvalidValidity"):
            network.send(network.registry.functions.issue(random_hash(), network.terms(valid_until=network.now() - 1)),
                         "issuer")

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

    def test_records_the_latest_validity_end_terms_can_carry(self, network: Network) -> None:
        certificate_hash = random_hash()
        terms = network.terms(valid_until=LATEST_VALID_UNTIL)
        network.send(network.registry.functions.issue(certificate_hash, terms), "issuer")
        anchor = network.registry.functions.anchorOf(certificate_hash).call()
        assert (anchor[1], anchor[5]) == (_type_id(network), LATEST_VALID_UNTIL)

    @pytest.mark.parametrize("type_id", [0, "next", 2**32 - 1], ids=["zero", "not-yet-registered", "largest"])
    def test_refuses_an_unknown_type_id(self, network: Network, reverts, type_id: int | str) -> None:
        if type_id == "next":
            type_id = network.catalog.functions.typeCount().call() + 1
        with reverts("CatalogUnknownTypeId", type_id):
            network.send(network.registry.functions.issue(random_hash(), issuance_terms(type_id, 0)), "issuer")

    def test_issues_from_hand_encoded_terms(self, network: Network) -> None:
        """The calldata the next test corrupts, uncorrupted: it issues."""
        certificate_hash = random_hash()
        function = network.registry.functions.issue(certificate_hash, network.terms())
        network.w3.eth.send_transaction({"from": network.keys["issuer"], "to": network.registry.address,
                                         "data": _with_terms_word(function, network.terms())})
        assert _state(network, certificate_hash)["status"] == CertificateStatus.VALID

    @pytest.mark.parametrize("bit", [72, 255])
    def test_refuses_terms_of_more_than_72_bits(self, network: Network, bit: int) -> None:
        """A `terms` word with a bit set above the 72 of uint72 is refused by the ABI decoder (an empty
        revert), not truncated into some other type or validity."""
        certificate_hash = random_hash()
        function = network.registry.functions.issue(certificate_hash, network.terms())
        assert _raw_revert(network, _with_terms_word(function, network.terms() | 1 << bit)) == b""
        assert not network.registry.functions.isAnchored(certificate_hash).call()

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
        network.send(network.registry.functions.anchorBatch(other.root, network.terms(), len(other)), "issuer")
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
            network.send(network.registry.functions.anchorBatch(root, network.terms(), 0), "issuer")

    def test_the_event_names_the_root_alone(self, network: Network) -> None:
        root = random_hash()
        receipt = network.send(network.registry.functions.anchorBatch(root, network.terms(), 5), "issuer")
        events = network.registry.events.BatchAnchored().process_receipt(receipt, errors=DISCARD)
        assert [dict(event["args"]) for event in events] == [{"batchRoot": root}]
        (log,) = [log for log in receipt["logs"] if log["address"] == network.registry.address]
        assert (len(log["topics"]), bytes(log["data"])) == (2, b"")  # the event's signature and the root; no data

    def test_the_anchor_holds_what_the_event_leaves_out(self, network: Network) -> None:
        root, valid_until = random_hash(), network.now() + 86_400
        terms = network.terms(valid_until=valid_until)
        receipt = network.send(network.registry.functions.anchorBatch(root, terms, 5), "issuer")
        issued_at = network.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
        civil = network.consortium.functions.departmentId(CIVIL).call()
        assert network.registry.functions.anchorOf(root).call() == (
            civil, _type_id(network), 1, issued_at, receipt["blockNumber"], valid_until, 5)

    def test_an_unknown_type_id_is_refused(self, network: Network, reverts) -> None:
        unknown = network.catalog.functions.typeCount().call() + 1
        with reverts("CatalogUnknownTypeId", unknown):
            network.send(network.registry.functions.anchorBatch(random_hash(), issuance_terms(unknown, 0), 3), "issuer")

    def test_terms_of_more_than_72_bits_are_refused(self, network: Network) -> None:
        root = random_hash()
        function = network.registry.functions.anchorBatch(root, network.terms(), 3)
        assert _raw_revert(network, _with_terms_word(function, network.terms() | 1 << 72)) == b""
        assert not network.registry.functions.isAnchored(root).call()

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
