"""The crypto suite a consortium runs under, chosen at deployment and recorded on chain
(`Consortium.cryptoSuite`) and in the deployment manifest:

- `secp256k1-keccak`: keccak-256 certificate and field hashes, EIP-712 signatures by a department's account key;
- `sm2-sm3`: SM3 (GB/T 32905) certificate and field hashes, SM2 signatures (GB/T 32918, default user ID
  "1234567812345678") by a department SM2 key registered in the consortium (`Consortium.addSm2Key`).

A document names its suite in `proof.cryptosuite` (absent: `secp256k1-keccak`, so documents issued before
suites existed are unchanged). Whatever the suite, what the EVM checks stays keccak: the Merkle tree over the
certificate hashes (`MerkleProof` in the registry), the catalog's schema hashes and the on-chain id of an SM2
key (keccak-256 of its 64-byte public key, `sm2_key_id`). SM2 and SM3 come from Tongsuo (`tongsuopy`), the
maintained OpenSSL fork of the national algorithms (`ledger_node.sm2`, which the chain side's bootstrap
uses too); this module only chooses and composes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from eth_hash.auto import keccak

from gateway.errors import InvalidDocument
from ledger_node.sm2 import Sm2PrivateKey, sm2_key_id, sm2_verify, sm3
from ledger_node.types import CRYPTO_SUITES

__all__ = ["CryptoSuite", "SECP256K1_KECCAK", "SM2_SM3", "SUITES", "DEFAULT_SUITE", "suite_named", "suite_coded",
           "suite_of", "Sm2PrivateKey", "sm2_key_id", "sm2_verify", "sm3"]


@dataclass(frozen=True)
class CryptoSuite:
    """A suite's name (as documents, the manifest and the command line spell it), its on-chain code
    (`Consortium.cryptoSuite`), its hash and the `proof.signature.type` of its signatures."""

    name: str
    code: int
    hash: Callable[[bytes], bytes]
    signature_type: str

    def __str__(self) -> str:
        return self.name


SECP256K1_KECCAK = CryptoSuite(CRYPTO_SUITES[0], 0, keccak, "EIP712")
SM2_SM3 = CryptoSuite(CRYPTO_SUITES[1], 1, sm3, "SM2")
SUITES = {suite.name: suite for suite in (SECP256K1_KECCAK, SM2_SM3)}
DEFAULT_SUITE = SECP256K1_KECCAK


def suite_named(name: str) -> CryptoSuite:
    try:
        return SUITES[name]
    except KeyError:
        raise InvalidDocument(f"unknown crypto suite {name!r} (one of {', '.join(SUITES)})") from None


def suite_coded(code: int) -> CryptoSuite:
    """The suite of an on-chain code (`Consortium.cryptoSuite`)."""
    for suite in SUITES.values():
        if suite.code == code:
            return suite
    raise InvalidDocument(f"unknown crypto suite code {code}")


def suite_of(document: dict[str, Any]) -> CryptoSuite:
    """The suite a document states in `proof.cryptosuite` (absent: the original secp256k1-keccak)."""
    proof = document.get("proof")
    name = proof.get("cryptosuite", DEFAULT_SUITE.name) if isinstance(proof, dict) else DEFAULT_SUITE.name
    if not isinstance(name, str):
        raise InvalidDocument("proof.cryptosuite must be a string")
    return suite_named(name)
