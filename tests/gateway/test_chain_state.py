"""The chain state the event index derives answers what the registry answers (gateway/chain_state.py)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st
from sqlalchemy import delete, select, update

from gateway.certificates.merkle import MerkleBatch
from gateway.certificates.verification import LiveFacts, Lookup, Outcome, Verdict
from gateway.chain_state import IndexedState, differences
from gateway.db import (AnchorRecord, ChainEvent, KeyRecord, Operation, RevocationRecord, SupersessionRecord, TypeVersionRecord,
                        make_engine, session_factory)
from gateway.indexer import EventIndex
from gateway.models import RevokeRequest
from gateway.service import Gateway
from ledger_node.devnet import Devnet, demo_account
from ledger_node.transactions import ContractReverted
from ledger_node.types import CertificateStatus
from tests.conftest import CIVIL, MARRIAGE, PROPERTY, Network, department_caller, issued_by_hand, random_hash

DEPRECATED, ACTIVE = 2, 1
ZERO = bytes(32)


@dataclass
class History:
    """Drives the civil-affairs issuer through a history on the chain and remembers what it anchored."""

    network: Network
    anchored: list[tuple[bytes, bytes, tuple[bytes, ...]]] = field(default_factory=list)  # hash, root, proof
    roots: list[bytes] = field(default_factory=list)
    signers: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.signers += [self.network.keys["issuer"], self.network.keys["other_issuer"]]

    def send(self, function: Any, actor: str = "issuer") -> bool:
        """Sends it; False when the contract refuses (a deprecated type, a certificate already revoked)."""
        try:
            self.network.send(function, actor)
        except ContractReverted:
            return False
        return True

    def valid_until(self, valid_for: int) -> int:
        return self.network.now() + valid_for + 5 if valid_for else 0

    def issue(self, valid_for: int) -> None:
        certificate = random_hash()
        terms = self.network.terms(MARRIAGE, self.valid_until(valid_for))
        if self.send(self.network.registry.functions.issue(certificate, terms)):
            self.anchored.append((certificate, ZERO, ()))

    def batch(self, size: int) -> None:
        members = [random_hash() for _ in range(size)]
        batch = MerkleBatch.build(members)
        if self.send(self.network.registry.functions.anchorBatch(batch.root, self.network.terms(MARRIAGE), len(batch))):
            self.roots.append(batch.root)
            self.anchored += [(member, batch.root, tuple(batch.proof(member))) for member in members]

    def revoke(self, pick: int) -> None:
        if self.anchored:
            certificate, root, proof = self.anchored[pick % len(self.anchored)]
            self.send(self.network.registry.functions.revoke(certificate, root, list(proof), pick % 4))  # each reason revoke takes

    def supersede(self, pick: int) -> None:
        if self.anchored:
            certificate, root, proof = self.anchored[pick % len(self.anchored)]
            successor = random_hash()
            if self.send(self.network.registry.functions.supersede(certificate, root, list(proof), successor, 0)):
                self.anchored.append((successor, ZERO, ()))

    def rotate_key(self, _: Any) -> None:
        """A new key for civil affairs; the old one is removed (certificates it signed stay its)."""
        old, new = self.network.keys["issuer"], self.network.new_key()
        self.send(self.network.consortium.functions.addKey(CIVIL, new))
        self.network.keys["issuer"] = new
        self.send(self.network.consortium.functions.removeKey(CIVIL, old))
        self.signers.append(new)

    def publish_version(self, _: Any) -> None:
        self.send(self.network.catalog.functions.publishTypeVersion(MARRIAGE, random_hash()))

    def type_status(self, status: int) -> None:
        self.send(self.network.catalog.functions.setTypeStatus(MARRIAGE, status))

    def advance(self, seconds: int) -> None:
        self.network.advance_time(seconds)

    def lookups(self) -> list[Lookup]:
        """Every anchored certificate as signed by every key it could name; the unknown; batch roots
        named as single certificates; batch members named without their root."""
        found = [Lookup(certificate, root, proof, signer)
                 for certificate, root, proof in self.anchored for signer in self.signers]
        found += [Lookup(random_hash(), ZERO, (), self.signers[0])]
        found += [Lookup(root, ZERO, (), self.signers[0]) for root in self.roots]
        found += [Lookup(certificate, ZERO, (), self.signers[0]) for certificate, root, _ in self.anchored if any(root)]
        return found


ACTIONS = st.lists(st.one_of(
    st.tuples(st.just("issue"), st.sampled_from([0, 30, 3600])),
    st.tuples(st.just("batch"), st.integers(1, 4)),
    st.tuples(st.just("revoke"), st.integers(0, 99)),
    st.tuples(st.just("supersede"), st.integers(0, 99)),
    st.tuples(st.just("rotate_key"), st.none()),
    st.tuples(st.just("publish_version"), st.none()),
    st.tuples(st.just("type_status"), st.sampled_from([DEPRECATED, ACTIVE])),
    st.tuples(st.just("advance"), st.sampled_from([20, 600, 7200])),
), min_size=1, max_size=14)


def indexed(network: Network, directory: Path) -> IndexedState:
    """A new event index of the whole chain, caught up."""
    sessions = session_factory(make_engine(f"sqlite:///{directory}/index.db"))
    index = EventIndex(network.deployment, sessions, confirmations=0)
    while not index.sync_once():
        pass
    return IndexedState(sessions)


def on_own_history(network: Network, test: Callable[[Path], None]) -> None:
    """Runs `test` in a temporary directory, then puts the chain and the network's keys back."""
    snapshot, keys = network.w3.testing.snapshot(), dict(network.keys)
    try:
        with tempfile.TemporaryDirectory() as directory:
            test(Path(directory))
    finally:
        network.w3.testing.revert(snapshot)
        network.keys = keys


def test_an_issuance_is_indexed_with_the_issuer_type_version_and_validity_of_its_anchor(network: Network,
                                                                                       tmp_path: Path) -> None:
    valid_until = network.now() + 3600
    certificate_hash = network.issue(valid_until=valid_until)  # its event carries the hash alone
    with indexed(network, tmp_path).sessions() as session:
        row = session.scalars(select(ChainEvent).where(ChainEvent.event == "CertificateIssued",
                                                       ChainEvent.subject == "0x" + certificate_hash.hex())).one()
    assert (row.department, row.certificate_type, row.args["typeVersion"], row.args["validUntil"]) == (
        "CIVIL-AFFAIRS", "MARRIAGE-CERT", 1, valid_until)


def _civil_member_in_a_housing_batch(network: Network) -> tuple[Lookup, MerkleBatch]:
    """A certificate of civil affairs' batch, whose hash housing also puts in a batch of its own (anchors are
    unique per root, not per member): the certificate as civil affairs' holder presents it, and housing's batch."""
    certificate = random_hash()
    civil_batch, housing_batch = MerkleBatch.build([certificate, random_hash()]), MerkleBatch.build([certificate])
    network.send(network.registry.functions.anchorBatch(civil_batch.root, network.terms(MARRIAGE), 2), "issuer")
    network.send(network.registry.functions.anchorBatch(housing_batch.root, network.terms(PROPERTY), 1), "other_issuer")
    return Lookup(certificate, civil_batch.root, tuple(civil_batch.proof(certificate)), network.keys["issuer"]), housing_batch


def test_a_revocation_in_another_departments_batch_leaves_the_certificate_valid(network: Network,
                                                                               tmp_path: Path) -> None:
    civil, housing_batch = _civil_member_in_a_housing_batch(network)
    network.send(network.registry.functions.revoke(civil.certificate_hash, housing_batch.root,
                                                   housing_batch.proof(civil.certificate_hash), 1), "other_issuer")
    read = indexed(network, tmp_path).read([civil])
    assert read is not None
    assert read[0][0].status == CertificateStatus.VALID


def test_a_supersession_in_another_departments_batch_leaves_the_certificate_valid(network: Network,
                                                                                 tmp_path: Path) -> None:
    civil, housing_batch = _civil_member_in_a_housing_batch(network)
    network.send(network.registry.functions.supersede(civil.certificate_hash, housing_batch.root,
                                                      housing_batch.proof(civil.certificate_hash), random_hash(), 0),
                 "other_issuer")
    read = indexed(network, tmp_path).read([civil])
    assert read is not None
    assert (read[0][0].status, read[0][0].superseded_by) == (CertificateStatus.VALID, ZERO)


def test_both_departments_revocations_of_one_hash_are_indexed_apart(network: Network, tmp_path: Path) -> None:
    civil, housing_batch = _civil_member_in_a_housing_batch(network)
    housing = Lookup(civil.certificate_hash, housing_batch.root, tuple(housing_batch.proof(civil.certificate_hash)),
                     network.keys["other_issuer"])
    network.send(network.registry.functions.revoke(civil.certificate_hash, housing.batch_root, list(housing.proof), 1),
                 "other_issuer")
    network.send(network.registry.functions.revoke(civil.certificate_hash, civil.batch_root, list(civil.proof), 2),
                 "issuer")
    read = indexed(network, tmp_path).read([civil, housing])
    assert read is not None
    assert [facts.revocation_reason for facts in read[0]] == [2, 1]


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=ACTIONS)
def test_the_indexed_state_answers_as_the_registry_for_any_history(anvil_network: Network,
                                                                    actions: list[tuple[str, Any]]) -> None:
    def check(directory: Path) -> None:
        history = History(anvil_network)
        history.issue(0)
        for action, argument in actions:
            getattr(history, action)(argument)
        lookups = history.lookups()
        answer = indexed(anvil_network, directory).read(lookups)
        assert answer is not None
        facts, height = answer
        live = LiveFacts(anvil_network.deployment)
        for lookup, from_index in zip(lookups, facts):
            from_chain, at = live.read(lookup)
            assert at.block == height.block and at.block_hash == height.block_hash
            assert from_index == (None if from_chain.status is CertificateStatus.UNKNOWN else from_chain), lookup
            event(f"{from_chain.status.name}, signer was key: {from_chain.signer_was_issuer_key}")

    on_own_history(anvil_network, check)


@pytest.mark.slow
def test_index_verify_finds_nothing_on_an_index_of_the_chain(anvil_network: Network) -> None:
    def check(directory: Path) -> None:
        history = History(anvil_network)
        for step in (history.issue, history.batch, history.revoke, history.supersede):
            step(3)
        history.rotate_key(None)
        state = indexed(anvil_network, directory)
        assert differences(anvil_network.deployment, state.sessions) == []

    on_own_history(anvil_network, check)


@pytest.mark.slow
def test_index_verify_names_a_key_whose_derived_life_differs_from_the_chain(anvil_network: Network) -> None:
    def check(directory: Path) -> None:
        state = indexed(anvil_network, directory)
        issuer_key = anvil_network.keys["issuer"]
        with state.sessions.begin() as session:
            session.execute(update(KeyRecord).where(KeyRecord.key == issuer_key).values(added_at=1))
        found = differences(anvil_network.deployment, state.sessions)
        assert len(found) == 1 and found[0].startswith(f"key {issuer_key}")

    on_own_history(anvil_network, check)


# ----- the gateway's verification reads the derived state -----

def _anchored_document(gateway: Gateway, devnet: Devnet, number: str) -> dict[str, Any]:
    """A certificate the gateway issued, mined, with the index caught up."""
    done = issued_by_hand(gateway, devnet, number)
    while not gateway.index.sync_once():
        pass
    return gateway.issuance.certificates_of(done)[0]


def _revoke_elsewhere(devnet: Devnet, document: dict[str, Any]) -> None:
    """Civil affairs revokes the certificate with its key, not through this gateway."""
    certificate_hash = bytes.fromhex(document["proof"]["certificateHash"][2:])
    devnet.deployment.registry.functions.revoke(certificate_hash, ZERO, [], 1).transact(
        {"from": demo_account("MZ").address})
    devnet.mine()


@pytest.fixture
def mined_by_hand(own_devnet: Devnet, gateway_on_own_devnet: Callable[..., Gateway]) -> Gateway:
    """A gateway in this process (no background threads) on a devnet that mines when the test says."""
    own_devnet.mine_by_hand()
    return gateway_on_own_devnet(confirmations=0)


@pytest.mark.slow
def test_a_revocation_shows_once_the_index_has_read_its_block(own_devnet: Devnet, mined_by_hand: Gateway) -> None:
    document = _anchored_document(mined_by_hand, own_devnet, "INDEX-1")
    _revoke_elsewhere(own_devnet, document)
    before = mined_by_hand.verifier.verify(document)
    while not mined_by_hand.index.sync_once():
        pass
    after = mined_by_hand.verifier.verify(document)
    assert (before.check("not_revoked").outcome, before.checked_at and before.checked_at.source) == \
        (Outcome.VALID, "index")
    assert (after.check("not_revoked").outcome, after.checked_at and after.checked_at.source) == \
        (Outcome.INVALID, "index")


@pytest.mark.slow
def test_a_fresh_verification_shows_a_revocation_the_index_has_not_read(own_devnet: Devnet,
                                                                       mined_by_hand: Gateway) -> None:
    document = _anchored_document(mined_by_hand, own_devnet, "INDEX-2")
    _revoke_elsewhere(own_devnet, document)
    report = mined_by_hand.verifier.verify(document, fresh=True)
    assert report.check("not_revoked").outcome is Outcome.INVALID
    assert report.checked_at is not None and report.checked_at.source == "chain"
    assert report.checked_at.block == own_devnet.w3.eth.block_number


@pytest.mark.slow
def test_the_gateways_own_revocation_shows_before_the_index_reads_it(own_devnet: Devnet,
                                                                    mined_by_hand: Gateway) -> None:
    document = _anchored_document(mined_by_hand, own_devnet, "INDEX-3")
    mined_by_hand.issuance.revoke(department_caller("MZ"), document["proof"]["certificateHash"],
                                  RevokeRequest(reason=1), None)
    mined_by_hand.outbox.sign_prepared()
    mined_by_hand.outbox.send_signed()
    own_devnet.mine()
    mined_by_hand.outbox.collect_receipts()
    report = mined_by_hand.verifier.verify(document)
    assert report.check("not_revoked").outcome is Outcome.INVALID
    assert report.checked_at is not None and report.checked_at.source == "chain"


@pytest.mark.slow
def test_a_certificate_anchored_after_the_indexed_block_is_verified_from_the_chain(own_devnet: Devnet,
                                                                                  mined_by_hand: Gateway) -> None:
    document = _anchored_document(mined_by_hand, own_devnet, "INDEX-4")
    with mined_by_hand.sessions.begin() as session:  # as if another gateway had anchored it: not this one's change
        session.execute(update(Operation).values(subject=None))
        session.execute(delete(AnchorRecord))  # and the index had not read its block yet
    report = mined_by_hand.verifier.verify(document)
    assert report.verdict is Verdict.VALID
    assert report.checked_at is not None and report.checked_at.source == "chain"


@pytest.mark.slow
def test_an_index_made_before_the_derived_state_gets_it_at_the_next_start(anvil_network: Network) -> None:
    def check(directory: Path) -> None:
        history = History(anvil_network)
        for step in (history.issue, history.batch, history.revoke, history.supersede):
            step(2)
        state = indexed(anvil_network, directory)
        lookups = history.lookups()
        before = state.read(lookups)
        with state.sessions.begin() as session:  # as an older gateway left it: events, no derived state
            for table in (AnchorRecord, RevocationRecord, SupersessionRecord, KeyRecord, TypeVersionRecord):
                session.execute(delete(table))
        EventIndex(anvil_network.deployment, state.sessions, confirmations=0).sync_once()
        assert state.read(lookups) == before

    on_own_history(anvil_network, check)
