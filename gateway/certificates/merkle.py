"""Merkle batches of certificate hashes, built exactly as OpenZeppelin's StandardMerkleTree
builds a tree of `bytes32` values, so that `MerkleProof.verify` and the registry accept the proofs.

- leaf = keccak256(keccak256(abi.encode(certificateHash))): double hashing keeps a leaf from ever
  equalling an inner node (which is a single keccak256 of 64 bytes);
- inner node = keccak256 of the two children in ascending byte order (sorted pairs);
- leaves are sorted by hash and laid out as a complete binary tree in one array, root at 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from eth_hash.auto import keccak


class MerkleError(ValueError):
    """A tree cannot be built (no leaves, or a value that is not 32 bytes)."""


def leaf_hash(certificate_hash: bytes) -> bytes:
    """The leaf of a certificate hash (abi.encode of a bytes32 is the 32 bytes themselves)."""
    if len(certificate_hash) != 32:
        raise MerkleError(f"a certificate hash is 32 bytes, got {len(certificate_hash)}")
    return keccak(keccak(certificate_hash))


def hash_pair(a: bytes, b: bytes) -> bytes:
    return keccak(a + b) if a < b else keccak(b + a)


def process_proof(leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that `proof` leads to from `leaf` (OpenZeppelin's `processProof`)."""
    computed = leaf
    for sibling in proof:
        computed = hash_pair(computed, sibling)
    return computed


def verify(root: bytes, certificate_hash: bytes, proof: Sequence[bytes]) -> bool:
    """Whether `proof` shows `certificate_hash` is a member of the batch with `root`."""
    return process_proof(leaf_hash(certificate_hash), proof) == root


@dataclass(frozen=True)
class MerkleBatch:
    """A batch of certificate hashes with its tree; `proof(h)` gives each member's proof."""

    tree: tuple[bytes, ...]
    positions: dict[bytes, int]  # certificate hash -> index of its leaf in `tree`

    @classmethod
    def build(cls, certificate_hashes: Sequence[bytes]) -> MerkleBatch:
        if not certificate_hashes:
            raise MerkleError("a batch needs at least one certificate")
        if len(set(certificate_hashes)) != len(certificate_hashes):
            raise MerkleError("a batch must not contain the same certificate twice")
        leaves = sorted((leaf_hash(h), h) for h in certificate_hashes)
        size = 2 * len(leaves) - 1
        tree: list[bytes] = [b""] * size
        positions: dict[bytes, int] = {}
        for i, (leaf, certificate_hash) in enumerate(leaves):
            tree[size - 1 - i] = leaf
            positions[certificate_hash] = size - 1 - i
        for i in range(size - 1 - len(leaves), -1, -1):
            tree[i] = hash_pair(tree[2 * i + 1], tree[2 * i + 2])
        return cls(tree=tuple(tree), positions=positions)

    @property
    def root(self) -> bytes:
        return self.tree[0]

    def __len__(self) -> int:
        return len(self.positions)

    def proof(self, certificate_hash: bytes) -> list[bytes]:
        """Sibling hashes from the member's leaf up to the root."""
        index = self.positions.get(certificate_hash)
        if index is None:
            raise MerkleError(f"0x{certificate_hash.hex()} is not in this batch")
        proof = []
        while index > 0:
            proof.append(self.tree[index + 1 if index % 2 else index - 1])
            index = (index - 1) // 2
        return proof
