"""RFC 6962 tree hashing and proofs: the Certificate Transparency reference vectors (the eight
leaves of RFC 6962's reference tests, as in google/certificate-transparency and trillian), and
properties over random trees."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.audit.merkle_log import (EMPTY_ROOT, ProofError, consistency_proof, inclusion_proof, leaf_hash, root,
                                      verify_consistency, verify_inclusion)

ENTRIES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                      "606162636465666768696a6b6c6d6e6f")]
LEAVES = [leaf_hash(e) for e in ENTRIES]
ROOTS = [bytes.fromhex(h) for h in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]
H = bytes.fromhex

INCLUSION = [  # (leaf index, tree size, audit path)
    (0, 1, []),
    (0, 8, [H("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            H("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")]),
    (5, 8, [H("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            H("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
    (2, 3, [H("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (1, 5, [H("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            H("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")]),
]

CONSISTENCY = [  # (old size, new size, proof)
    (1, 1, []),
    (1, 8, [H("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            H("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")]),
    (6, 8, [H("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            H("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            H("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]),
    (2, 5, [H("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            H("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")]),
]


def test_the_empty_tree_hashes_as_sha256_of_nothing() -> None:
    assert root([]) == EMPTY_ROOT == H("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")


@pytest.mark.parametrize("size", range(1, 9))
def test_tree_heads_match_the_reference(size: int) -> None:
    assert root(LEAVES[:size]) == ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_proofs_match_the_reference(index: int, size: int, path: list[bytes]) -> None:
    assert inclusion_proof(LEAVES[:size], index) == path
    assert verify_inclusion(LEAVES[index], index, size, path, ROOTS[size - 1])


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_consistency_proofs_match_the_reference(old: int, new: int, proof: list[bytes]) -> None:
    assert consistency_proof(LEAVES[:new], old) == proof
    assert verify_consistency(old, new, ROOTS[old - 1], ROOTS[new - 1], proof)


def test_a_proof_for_a_leaf_outside_the_tree_is_refused() -> None:
    with pytest.raises(ProofError):
        inclusion_proof(LEAVES[:3], 3)
    with pytest.raises(ProofError):
        consistency_proof(LEAVES[:3], 4)


trees = st.lists(st.binary(max_size=8), min_size=1, max_size=70, unique=True).map(lambda entries: [leaf_hash(e) for e in entries])


@given(trees, st.data())
def test_every_leaf_is_proven_included_and_no_other_leaf_is(leaves: list[bytes], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(leaves) - 1))
    proof = inclusion_proof(leaves, index)
    assert verify_inclusion(leaves[index], index, len(leaves), proof, root(leaves))
    assert not verify_inclusion(leaf_hash(b"forged"), index, len(leaves), proof, root(leaves))
    if len(leaves) > 1:
        other = (index + 1) % len(leaves)
        assert not verify_inclusion(leaves[index], other, len(leaves), proof, root(leaves))


@given(trees, st.data())
def test_every_prefix_is_proven_consistent_and_a_rewritten_one_is_not(leaves: list[bytes],
                                                                    data: st.DataObject) -> None:
    old = data.draw(st.integers(1, len(leaves)))
    proof = consistency_proof(leaves, old)
    assert verify_consistency(old, len(leaves), root(leaves[:old]), root(leaves), proof)
    rewritten = [leaf_hash(b"rewritten")] + leaves[1:old]
    if old < len(leaves):
        assert not verify_consistency(old, len(leaves), root(rewritten), root(leaves), proof)
