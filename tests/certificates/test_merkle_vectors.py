"""gateway/certificates/merkle.py against OpenZeppelin's StandardMerkleTree, through the vectors
that scripts/merkle_vectors.js wrote (tests/vectors/merkle.json; the JS suite checks them too)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway.certificates.merkle import MerkleBatch, leaf_hash

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "merkle.json").read_text())


def _bytes(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))


def _batch(vector: dict[str, Any]) -> MerkleBatch:
    return MerkleBatch.build([_bytes(m["value"]) for m in vector["members"]])


@pytest.mark.parametrize("vector", VECTORS, ids=[f"size-{v['size']}" for v in VECTORS])
def test_the_root_is_openzeppelins(vector: dict[str, Any]) -> None:
    assert _batch(vector).root == _bytes(vector["root"])


@pytest.mark.parametrize("vector", VECTORS, ids=[f"size-{v['size']}" for v in VECTORS])
def test_every_leaf_hash_is_openzeppelins(vector: dict[str, Any]) -> None:
    assert [leaf_hash(_bytes(m["value"])) for m in vector["members"]] == [_bytes(m["leaf"]) for m in vector["members"]]


@pytest.mark.parametrize("vector", VECTORS, ids=[f"size-{v['size']}" for v in VECTORS])
def test_every_proof_is_openzeppelins(vector: dict[str, Any]) -> None:
    batch = _batch(vector)
    assert [batch.proof(_bytes(m["value"])) for m in vector["members"]] == \
        [[_bytes(p) for p in m["proof"]] for m in vector["members"]]
