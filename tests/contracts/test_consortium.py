"""Consortium: governance quorum, proposal life (expiry, cancellation), membership changes, the crypto
suite, and the history of signing keys (account keys and SM2 keys)."""

from __future__ import annotations

import pytest
from web3.constants import ADDRESS_ZERO
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.logs import DISCARD

from ledger_node.artifacts import load_artifact
from ledger_node.sm2 import Sm2PrivateKey, sm2_key_id
from ledger_node.transactions import EMBEDDED_REVERTS, revert_from
from ledger_node.types import PROPOSAL_LIFETIME, DepartmentStatus, Role
from tests.conftest import CIVIL, GOV1, GOV2, GOV3, HOUSING, SUSPENDED, Network, random_hash

#: Common.sol MAX_PROPOSAL_LIFETIME.
MAX_LIFETIME = 30 * 24 * 3600


def _propose(network: Network, *functions, lifetime: int = PROPOSAL_LIFETIME) -> tuple[int, list]:
    calls = [(f.address, f._encode_transaction_data()) for f in functions]
    network.send(network.consortium.functions.propose(calls, "change", lifetime), "governor")
    return network.consortium.functions.proposalCount().call(), calls


def _proposal(network: Network, proposal_id: int) -> dict:
    names = ["proposer", "callsHash", "createdAt", "executed", "approvals", "expiresAt", "cancelled"]
    return dict(zip(names, network.consortium.functions.proposal(proposal_id).call()))


class TestGovernance:
    def test_proposal_executes_when_quorum_approves(self, network: Network) -> None:
        code = random_hash()
        proposal_id, calls = _propose(
            network, network.consortium.functions.admitDepartment(code, "人力资源和社会保障局", 1, [network.new_key()])
        )
        network.send(network.consortium.functions.approve(proposal_id), "governor2")
        network.send(network.consortium.functions.execute(proposal_id, calls), "governor3")
        assert network.consortium.functions.department(code).call()[2] == DepartmentStatus.ACTIVE

    def test_proposer_approval_alone_is_not_a_quorum(self, network: Network, reverts) -> None:
        proposal_id, calls = _propose(network, network.consortium.functions.setQuorum(3))
        with reverts("ConsortiumQuorumNotReached", proposal_id, 1, 2):
            network.send(network.consortium.functions.execute(proposal_id, calls), "governor")

    def test_a_department_approves_only_once(self, network: Network, reverts) -> None:
        proposal_id, _ = _propose(network, network.consortium.functions.setQuorum(3))
        with reverts("ConsortiumAlreadyApproved", proposal_id, GOV1):
            network.send(network.consortium.functions.approve(proposal_id), "governor")

    def test_second_key_of_same_department_does_not_add_an_approval(self, network: Network, reverts) -> None:
        second_key = network.new_key()
        network.send(network.consortium.functions.addKey(GOV2, second_key), "governor2")
        network.keys["governor2b"] = second_key
        proposal_id, _ = _propose(network, network.consortium.functions.setQuorum(3))
        network.send(network.consortium.functions.approve(proposal_id), "governor2")
        with reverts("ConsortiumAlreadyApproved", proposal_id, GOV2):
            network.send(network.consortium.functions.approve(proposal_id), "governor2b")

    def test_approval_of_a_since_suspended_governor_no_longer_counts(self, network: Network, reverts) -> None:
        proposal_id, calls = _propose(network, network.consortium.functions.setQuorum(2))
        network.send(network.consortium.functions.approve(proposal_id), "governor3")
        # With GOV-3's approval the proposal has a quorum; suspending GOV-3 takes it away.
        network.govern(network.consortium.functions.setStatus(GOV3, DepartmentStatus.SUSPENDED))
        assert network.consortium.functions.proposal(proposal_id).call()[4] == 1
        with reverts("ConsortiumQuorumNotReached", proposal_id, 1, 2):
            network.send(network.consortium.functions.execute(proposal_id, calls), "governor")

    def test_execute_refuses_calls_other_than_proposed(self, network: Network, reverts) -> None:
        proposal_id, calls = _propose(network, network.consortium.functions.setQuorum(3))
        network.send(network.consortium.functions.approve(proposal_id), "governor2")
        other = network.consortium.functions.setQuorum(1)
        with reverts("ConsortiumCallsMismatch"):
            network.send(
                network.consortium.functions.execute(proposal_id, [(other.address, other._encode_transaction_data())]),
                "governor",
            )

    def test_a_proposal_executes_only_once(self, network: Network, reverts) -> None:
        proposal_id, calls = _propose(network, network.consortium.functions.setQuorum(3))
        network.send(network.consortium.functions.approve(proposal_id), "governor2")
        network.send(network.consortium.functions.execute(proposal_id, calls), "governor")
        with reverts("ConsortiumAlreadyExecuted", proposal_id):
            network.send(network.consortium.functions.execute(proposal_id, calls), "governor")

    def test_failing_call_reverts_the_whole_proposal_with_its_error(self, network: Network, reverts) -> None:
        with reverts("ConsortiumDepartmentExists", CIVIL):
            network.govern(network.consortium.functions.admitDepartment(CIVIL, "重复", 1, [network.new_key()]))

    def test_quorum_cannot_exceed_active_governors(self, network: Network, reverts) -> None:
        with reverts("ConsortiumInvalidQuorum", 4, 3):
            network.govern(network.consortium.functions.setQuorum(4))

    def test_governors_cannot_be_suspended_below_the_quorum(self, network: Network, reverts) -> None:
        network.govern(network.consortium.functions.setQuorum(3))
        proposal_id, calls = _propose(network, network.consortium.functions.setStatus(GOV3, DepartmentStatus.SUSPENDED))
        network.send(network.consortium.functions.approve(proposal_id), "governor2")
        network.send(network.consortium.functions.approve(proposal_id), "governor3")
        with reverts("ConsortiumInvalidQuorum", 3, 2):
            network.send(network.consortium.functions.execute(proposal_id, calls), "governor")


class TestProposalLife:
    def test_a_proposal_is_open_for_the_lifetime_its_proposer_gave(self, network: Network) -> None:
        proposal_id, _ = _propose(network, network.consortium.functions.setQuorum(3), lifetime=3600)
        proposal = _proposal(network, proposal_id)
        assert proposal["expiresAt"] == proposal["createdAt"] + 3600 and not proposal["cancelled"]

    def test_a_lifetime_of_zero_is_refused(self, network: Network, reverts) -> None:
        with reverts("ConsortiumInvalidLifetime", 0, MAX_LIFETIME):
            _propose(network, network.consortium.functions.setQuorum(3), lifetime=0)

    def test_a_lifetime_beyond_the_maximum_is_refused(self, network: Network, reverts) -> None:
        with reverts("ConsortiumInvalidLifetime", MAX_LIFETIME + 1, MAX_LIFETIME):
            _propose(network, network.consortium.functions.setQuorum(3), lifetime=MAX_LIFETIME + 1)

    def test_the_maximum_lifetime_is_accepted(self, network: Network) -> None:
        proposal_id, _ = _propose(network, network.consortium.functions.setQuorum(3), lifetime=MAX_LIFETIME)
        proposal = _proposal(network, proposal_id)
        assert proposal["expiresAt"] - proposal["createdAt"] == MAX_LIFETIME

    def test_an_expired_proposal_cannot_be_approved(self, network: Network, reverts) -> None:
        proposal_id, _ = _propose(network, network.consortium.functions.setQuorum(3), lifetime=100)
        network.advance_time(100)
        with reverts("ConsortiumProposalExpired", proposal_id, _proposal(network, proposal_id)["expiresAt"]):
            network.send(network.consortium.functions.approve(proposal_id), "governor2")

    def test_an_expired_proposal_cannot_be_executed_even_with_a_quorum(self, network: Network, reverts) -> None:
        proposal_id, calls = _propose(network, network.consortium.functions.setQuorum(3), lifetime=100)
        network.send(network.consortium.functions.approve(proposal_id), "governor2")
        network.advance_time(100)
        with reverts("ConsortiumProposalExpired", proposal_id, _proposal(network, proposal_id)["expiresAt"]):
            network.send(network.consortium.functions.execute(proposal_id, calls), "governor")

    def test_a_proposal_executes_before_it_expires(self, network: Network) -> None:
        proposal_id, calls = _propose(network, network.consortium.functions.setQuorum(3), lifetime=100)
        network.send(network.consortium.functions.approve(proposal_id), "governor2")
        network.advance_time(50)
        network.send(network.consortium.functions.execute(proposal_id, calls), "governor")
        assert network.consortium.functions.quorum().call() == 3

    def test_the_proposer_cancels_its_proposal(self, network: Network) -> None:
        proposal_id, _ = _propose(network, network.consortium.functions.setQuorum(3))
        receipt = network.send(network.consortium.functions.cancel(proposal_id), "governor")
        event = network.consortium.events.ProposalCancelled().process_receipt(receipt, errors=DISCARD)[0]["args"]
        assert (event["proposalId"], event["canceller"]) == (proposal_id, GOV1)
        assert _proposal(network, proposal_id)["cancelled"] is True

    @pytest.mark.parametrize("action", ["approve", "execute", "cancel"])
    def test_nothing_more_happens_to_a_cancelled_proposal(self, network: Network, reverts, action: str) -> None:
        proposal_id, calls = _propose(network, network.consortium.functions.setQuorum(3))
        network.send(network.consortium.functions.approve(proposal_id), "governor2")  # a quorum: executable
        network.send(network.consortium.functions.cancel(proposal_id), "governor")
        function = {"approve": network.consortium.functions.approve(proposal_id),
                    "execute": network.consortium.functions.execute(proposal_id, calls),
                    "cancel": network.consortium.functions.cancel(proposal_id)}[action]
        with reverts("ConsortiumProposalCancelled", proposal_id):
            network.send(function, "governor3" if action == "approve" else "governor")

    def test_an_executed_proposal_cannot_be_cancelled(self, network: Network, reverts) -> None:
        proposal_id, calls = _propose(network, network.consortium.functions.setQuorum(3))
        network.send(network.consortium.functions.approve(proposal_id), "governor2")
        network.send(network.consortium.functions.execute(proposal_id, calls), "governor")
        with reverts("ConsortiumAlreadyExecuted", proposal_id):
            network.send(network.consortium.functions.cancel(proposal_id), "governor")

    def test_an_expired_proposal_can_still_be_cancelled(self, network: Network) -> None:
        proposal_id, _ = _propose(network, network.consortium.functions.setQuorum(3), lifetime=100)
        network.advance_time(100)
        network.send(network.consortium.functions.cancel(proposal_id), "governor")
        assert _proposal(network, proposal_id)["cancelled"] is True

    def test_another_governor_cannot_cancel_a_proposal(self, network: Network, reverts) -> None:
        proposal_id, _ = _propose(network, network.consortium.functions.setQuorum(3))
        with reverts("ConsortiumNotProposer", proposal_id, GOV1, GOV2):
            network.send(network.consortium.functions.cancel(proposal_id), "governor2")

    def test_a_quorum_cancels_a_proposal(self, network: Network) -> None:
        proposal_id, _ = _propose(network, network.consortium.functions.setQuorum(3))
        receipt = network.govern(network.consortium.functions.cancel(proposal_id))
        event = network.consortium.events.ProposalCancelled().process_receipt(receipt, errors=DISCARD)[0]["args"]
        assert (event["proposalId"], event["canceller"]) == (proposal_id, b"\0" * 32)
        assert _proposal(network, proposal_id)["cancelled"] is True

    def test_cancelling_an_unknown_proposal_is_refused(self, network: Network, reverts) -> None:
        with reverts("ConsortiumUnknownProposal", 999):
            network.send(network.consortium.functions.cancel(999), "governor")


class TestMembership:
    def test_roles_change_through_governance(self, network: Network) -> None:
        network.govern(network.consortium.functions.setRoles(CIVIL, int(Role.ISSUER | Role.RELYING_PARTY)))
        assert network.consortium.functions.department(CIVIL).call()[3] == Role.ISSUER | Role.RELYING_PARTY

    def test_unknown_role_bits_are_refused(self, network: Network, reverts) -> None:
        with reverts("ConsortiumInvalidRoles", 0x40):
            network.govern(network.consortium.functions.setRoles(CIVIL, 0x40))

    def test_suspended_department_can_be_reinstated(self, network: Network) -> None:
        network.govern(network.consortium.functions.setStatus(SUSPENDED, DepartmentStatus.ACTIVE))
        network.issue("suspended")

    def test_removal_is_final(self, network: Network, reverts) -> None:
        network.govern(network.consortium.functions.setStatus(SUSPENDED, DepartmentStatus.REMOVED))
        with reverts("ConsortiumInvalidStatusChange", SUSPENDED, DepartmentStatus.REMOVED, DepartmentStatus.ACTIVE):
            network.govern(network.consortium.functions.setStatus(SUSPENDED, DepartmentStatus.ACTIVE))

    def test_a_department_code_is_never_reused(self, network: Network, reverts) -> None:
        network.govern(network.consortium.functions.setStatus(SUSPENDED, DepartmentStatus.REMOVED))
        with reverts("ConsortiumDepartmentExists", SUSPENDED):
            network.govern(network.consortium.functions.admitDepartment(SUSPENDED, "再次", 1, [network.new_key()]))

    def test_a_department_needs_a_key(self, network: Network, reverts) -> None:
        code = random_hash()
        with reverts("ConsortiumNoKeys", code):
            network.govern(network.consortium.functions.admitDepartment(code, "无密钥", 1, []))


class TestKeys:
    def test_rotation_keeps_the_old_key_in_history(self, network: Network) -> None:
        old_key, new_key = network.keys["issuer"], network.new_key()
        network.send(network.consortium.functions.rotateKey(CIVIL, old_key, new_key), "issuer")
        assert network.consortium.functions.keysOf(CIVIL).call() == [old_key, new_key]
        record = network.consortium.functions.keyRecord(old_key).call()
        assert record[0] == network.consortium.functions.departmentId(CIVIL).call() and record[4] > 0

    def test_rotated_key_can_no_longer_act(self, network: Network, reverts) -> None:
        old_key = network.keys["issuer"]
        network.send(network.consortium.functions.rotateKey(CIVIL, old_key, network.new_key()), "issuer")
        with reverts("ConsortiumUnknownKey", old_key):
            network.issue("issuer")

    def test_was_key_of_answers_for_the_time_the_key_was_valid(self, network: Network) -> None:
        old_key = network.keys["issuer"]
        before_rotation = network.now()
        network.advance_time(100)
        network.send(network.consortium.functions.rotateKey(CIVIL, old_key, network.new_key()), "issuer")
        was_key_of = network.consortium.functions.wasKeyOf
        assert was_key_of(old_key, CIVIL, before_rotation).call() is True
        assert was_key_of(old_key, CIVIL, network.now() + 1).call() is False
        assert was_key_of(old_key, GOV2, before_rotation).call() is False

    def test_a_key_belongs_to_one_department_only(self, network: Network, reverts) -> None:
        with reverts("ConsortiumKeyAlreadyRegistered", network.keys["other_issuer"], HOUSING):
            network.send(network.consortium.functions.addKey(CIVIL, network.keys["other_issuer"]), "issuer")

    def test_a_removed_key_is_never_re_added(self, network: Network, reverts) -> None:
        old_key = network.keys["issuer"]
        network.send(network.consortium.functions.rotateKey(CIVIL, old_key, network.new_key()), "issuer")
        with reverts("ConsortiumKeyAlreadyRegistered", old_key, CIVIL):
            network.govern(network.consortium.functions.addKey(CIVIL, old_key))

    def test_last_key_cannot_be_removed(self, network: Network, reverts) -> None:
        with reverts("ConsortiumLastKey", CIVIL):
            network.send(network.consortium.functions.removeKey(CIVIL, network.keys["issuer"]), "issuer")

    def test_a_department_cannot_change_another_departments_keys(self, network: Network, reverts) -> None:
        with reverts("ConsortiumUnauthorised", network.keys["other_issuer"], CIVIL):
            network.send(network.consortium.functions.addKey(CIVIL, network.new_key()), "other_issuer")

    def test_governance_can_recover_a_department_that_lost_its_key(self, network: Network) -> None:
        lost, replacement = network.keys["issuer"], network.new_key()
        network.govern(network.consortium.functions.rotateKey(CIVIL, lost, replacement))
        network.keys["issuer"] = replacement
        network.issue("issuer")


class TestCryptoSuite:
    def test_the_original_suite_is_recorded_as_zero(self, network: Network) -> None:
        assert network.consortium.functions.cryptoSuite().call() == 0

    def test_an_sm2_consortium_records_its_suite(self, sm2_network: Network) -> None:
        assert sm2_network.consortium.functions.cryptoSuite().call() == 1

    def test_an_unknown_suite_is_refused_at_deployment(self, network: Network) -> None:
        artifact = load_artifact("Consortium")
        factory = network.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        founder = (GOV1, "治理", int(Role.GOVERNOR), [network.new_key()])
        with pytest.raises((ContractCustomError, ContractLogicError, *EMBEDDED_REVERTS)) as info:
            factory.constructor([founder], 1, 2, ADDRESS_ZERO).transact({"from": network.keys["governor"]})
        reverted = revert_from(info.value)
        assert (reverted.error, reverted.args_) == ("ConsortiumUnknownCryptoSuite", (2,))


class TestSm2Keys:
    def test_a_department_registers_its_sm2_key_under_the_keccak_of_the_key(self, network: Network) -> None:
        key = Sm2PrivateKey.generate()
        network.send(network.consortium.functions.addSm2Key(CIVIL, key.public_key), "issuer")
        record, public_key = network.consortium.functions.sm2KeyRecord(sm2_key_id(key.public_key)).call()
        assert (record[0], public_key) == (network.consortium.functions.departmentId(CIVIL).call(), key.public_key)

    def test_rotation_keeps_the_old_sm2_key_in_history(self, network: Network) -> None:
        old, new = _sm2_key(network, CIVIL), Sm2PrivateKey.generate()
        network.send(network.consortium.functions.rotateSm2Key(CIVIL, old.key_id, new.public_key), "issuer")
        assert network.consortium.functions.sm2KeysOf(CIVIL).call() == [old.key_id, new.key_id]
        assert network.consortium.functions.sm2KeyRecord(old.key_id).call()[0][4] > 0

    def test_was_sm2_key_of_answers_for_the_time_the_key_was_valid(self, network: Network) -> None:
        old = _sm2_key(network, CIVIL)
        before_rotation = network.now()
        network.advance_time(100)
        network.send(network.consortium.functions.rotateSm2Key(CIVIL, old.key_id, Sm2PrivateKey.generate().public_key),
                     "issuer")
        was_key_of = network.consortium.functions.wasSm2KeyOf
        assert was_key_of(old.key_id, CIVIL, before_rotation).call() is True
        assert was_key_of(old.key_id, CIVIL, network.now() + 1).call() is False
        assert was_key_of(old.key_id, HOUSING, before_rotation).call() is False

    def test_a_department_cannot_register_an_sm2_key_for_another(self, network: Network, reverts) -> None:
        with reverts("ConsortiumUnauthorised", network.keys["other_issuer"], CIVIL):
            network.send(network.consortium.functions.addSm2Key(CIVIL, Sm2PrivateKey.generate().public_key),
                         "other_issuer")

    def test_a_department_cannot_remove_another_departments_sm2_key(self, network: Network, reverts) -> None:
        key = _sm2_key(network, CIVIL)
        with reverts("ConsortiumUnauthorised", network.keys["other_issuer"], CIVIL):
            network.send(network.consortium.functions.removeSm2Key(CIVIL, key.key_id), "other_issuer")

    def test_a_department_cannot_remove_another_departments_sm2_key_as_its_own(self, network: Network,
                                                                               reverts) -> None:
        key = _sm2_key(network, CIVIL)
        with reverts("ConsortiumSm2KeyNotOfDepartment", key.key_id, HOUSING):
            network.send(network.consortium.functions.removeSm2Key(HOUSING, key.key_id), "other_issuer")

    def test_an_outsider_cannot_register_an_sm2_key(self, network: Network, reverts) -> None:
        with reverts("ConsortiumUnknownKey", network.keys["outsider"]):
            network.send(network.consortium.functions.addSm2Key(CIVIL, Sm2PrivateKey.generate().public_key),
                         "outsider")

    def test_governance_can_replace_a_departments_sm2_key(self, network: Network) -> None:
        old, new = _sm2_key(network, CIVIL), Sm2PrivateKey.generate()
        network.govern(network.consortium.functions.rotateSm2Key(CIVIL, old.key_id, new.public_key))
        assert network.consortium.functions.wasSm2KeyOf(new.key_id, CIVIL, network.now()).call() is True

    def test_an_sm2_key_is_64_bytes(self, network: Network, reverts) -> None:
        with reverts("ConsortiumInvalidSm2Key", 65):
            network.send(network.consortium.functions.addSm2Key(CIVIL, b"\x04" + Sm2PrivateKey.generate().public_key),
                         "issuer")

    def test_an_sm2_key_belongs_to_one_department_only(self, network: Network, reverts) -> None:
        key = _sm2_key(network, HOUSING)
        with reverts("ConsortiumSm2KeyAlreadyRegistered", key.key_id, HOUSING):
            network.send(network.consortium.functions.addSm2Key(CIVIL, key.public_key), "issuer")

    def test_a_removed_sm2_key_is_never_re_added(self, network: Network, reverts) -> None:
        key = _sm2_key(network, CIVIL)
        network.send(network.consortium.functions.removeSm2Key(CIVIL, key.key_id), "issuer")
        with reverts("ConsortiumSm2KeyAlreadyRegistered", key.key_id, CIVIL):
            network.send(network.consortium.functions.addSm2Key(CIVIL, key.public_key), "issuer")

    def test_a_removed_sm2_key_cannot_be_removed_again(self, network: Network, reverts) -> None:
        key = _sm2_key(network, CIVIL)
        network.send(network.consortium.functions.removeSm2Key(CIVIL, key.key_id), "issuer")
        with reverts("ConsortiumSm2KeyNotOfDepartment", key.key_id, CIVIL):
            network.send(network.consortium.functions.removeSm2Key(CIVIL, key.key_id), "issuer")


def _sm2_key(network: Network, department: bytes) -> Sm2PrivateKey:
    """A new SM2 key that `department` registered itself."""
    key = Sm2PrivateKey.generate()
    actor = {CIVIL: "issuer", HOUSING: "other_issuer"}[department]
    network.send(network.consortium.functions.addSm2Key(department, key.public_key), actor)
    return key
