"""Merkle batches of certificate hashes (OpenZeppelin StandardMerkleTree layout)."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from gateway.certificates.merkle import MerkleBatch, MerkleError, hash_pair, leaf_hash, verify

hashes = st.binary(min_size=32, max_size=32)
batches = st.lists(hashes, min_size=2, max_size=40, unique=True)


@given(batches)
def test_every_member_verifies_with_its_own_proof(members: list[bytes]) -> None:
    batch = MerkleBatch.build(members)
    assert all(verify(batch.root, m, batch.proof(m)) for m in members)


@given(batches, st.data())
def test_a_proof_shifted_to_another_member_is_invalid(members: list[bytes], data: st.DataObject) -> None:
    batch = MerkleBatch.build(members)
    i, j = data.draw(st.tuples(st.integers(0, len(members) - 1), st.integers(0, len(members) - 1)))
    assume(i != j)
    assert not verify(batch.root, members[i], batch.proof(members[j]))


@given(batches, batches)
def test_a_proof_from_another_batch_is_invalid(ours: list[bytes], theirs: list[bytes]) -> None:
    assume(not set(ours) & set(theirs))
    mine, other = MerkleBatch.build(ours), MerkleBatch.build(theirs)
    assert not verify(mine.root, ours[0], other.proof(theirs[0]))
    assert not verify(other.root, ours[0], other.proof(theirs[0]))


@given(batches, st.data())
def test_a_tampered_proof_is_invalid(members: list[bytes], data: st.DataObject) -> None:
    batch = MerkleBatch.build(members)
    member = data.draw(st.sampled_from(members))
    proof = batch.proof(member)
    position = data.draw(st.integers(0, len(proof) - 1))
    proof[position] = bytes(b ^ 1 for b in proof[position][:1]) + proof[position][1:]
    assert not verify(batch.root, member, proof)


@given(st.lists(hashes, min_size=3, max_size=40, unique=True))
def test_an_inner_node_presented_as_a_certificate_is_invalid(members: list[bytes]) -> None:
    batch = MerkleBatch.build(members)
    inner = batch.tree[1]  # the root's left child: an inner node whenever there are 3 or more leaves
    assert not verify(batch.root, inner, [batch.tree[2]])


def test_a_single_certificate_batch_has_its_leaf_as_root() -> None:
    member = b"\x07" * 32
    batch = MerkleBatch.build([member])
    assert batch.root == leaf_hash(member) and batch.proof(member) == []


def test_pairs_are_hashed_in_sorted_order() -> None:
    a, b = b"\x01" * 32, b"\x02" * 32
    assert hash_pair(a, b) == hash_pair(b, a)


def test_an_empty_batch_is_refused() -> None:
    with pytest.raises(MerkleError, match="at least one"):
        MerkleBatch.build([])


def test_a_batch_with_a_duplicate_is_refused() -> None:
    with pytest.raises(MerkleError, match="twice"):
        MerkleBatch.build([b"\x01" * 32, b"\x01" * 32])


def test_asking_the_proof_of_a_non_member_is_refused() -> None:
    with pytest.raises(MerkleError, match="not in this batch"):
        MerkleBatch.build([b"\x01" * 32]).proof(b"\x02" * 32)
