"""RFC 6962 (Certificate Transparency) Merkle tree hashing, inclusion and consistency proofs.

Leaves hash as SHA-256(0x00 || entry), interior nodes as SHA-256(0x01 || left || right), so a
leaf can never pass for a node. Proof generation follows RFC 6962 section 2.1.1-2.1.2 (PATH and
PROOF/SUBPROOF); verification follows RFC 9162 section 2.1.3.2 and 2.1.4.2, which needs only
the proof, the sizes and the roots.
"""

from __future__ import annotations

import hashlib
from typing import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof was asked for sizes or an index the tree does not have."""


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH over leaf hashes."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(root(leaves[:k]), root(leaves[k:]))


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(index, leaves): the audit path of leaf `index`."""
    if not 0 <= index < len(leaves):
        raise ProofError(f"no leaf {index} in a tree of size {len(leaves)}")
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return inclusion_proof(leaves[:k], index) + [root(leaves[k:])]
    return inclusion_proof(leaves[k:], index - k) + [root(leaves[:k])]


def consistency_proof(leaves: Sequence[bytes], old_size: int) -> list[bytes]:
    """PROOF(old_size, leaves): shows the tree of `old_size` leaves is a prefix of this one."""
    if not 0 < old_size <= len(leaves):
        raise ProofError(f"no consistency proof from size {old_size} to size {len(leaves)}")
    return _subproof(old_size, leaves, True)


def _subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [root(leaves)]
    k = _split(n)
    if m <= k:
        return _subproof(m, leaves[:k], complete) + [root(leaves[k:])]
    return _subproof(m - k, leaves[k:], False) + [root(leaves[:k])]


def sibling_sides(index: int, size: int, path_length: int) -> list[bool] | None:
    """For each node of an audit path of `path_length` nodes for leaf `index` in a tree of `size`, whether it
    is hashed on the left (RFC 9162 2.1.3.2); None when no audit path of that length exists."""
    if not 0 <= index < size:
        return None
    fn, sn, sides = index, size - 1, []
    for _ in range(path_length):
        if sn == 0:
            return None
        if fn % 2 == 1 or fn == sn:
            sides.append(True)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sides.append(False)
        fn, sn = fn >> 1, sn >> 1
    return sides if sn == 0 else None


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], expected_root: bytes) -> bool:
    """RFC 9162 2.1.3.2: whether `proof` shows leaf hash `leaf` at `index` in the tree of `size` with `expected_root`."""
    sides = sibling_sides(index, size, len(proof))
    if sides is None:
        return False
    result = leaf
    for sibling, on_the_left in zip(proof, sides):
        result = node_hash(sibling, result) if on_the_left else node_hash(result, sibling)
    return result == expected_root


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """RFC 9162 2.1.4.2: whether `proof` shows the tree (`old_size`, `old_root`) is a prefix of (`new_size`, `new_root`)."""
    if old_size == new_size:
        return not proof and old_root == new_root
    if not 0 < old_size < new_size or not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn % 2 == 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == old_root and sr == new_root
