"""Issuer signatures over the certificate hash, bound to one deployment, in the document's crypto suite:

- `secp256k1-keccak`: EIP-712 typed data signed by a department's account key;
- `sm2-sm3`: the same typed structure hashed with SM3 instead of keccak-256 (the "SM3 digest"), signed with
  SM2 and the default user ID by a department SM2 key; the signature carries its public key, whose id
  (`suites.sm2_key_id`) is the signer.

EIP-712 rather than EIP-191 because the domain (chain id and registry address) stops a signature
from being replayed on another CertNet network, and wallets show the typed fields to the signer.
The verifier recovers (EIP-712) or checks (SM2) the signer and asks the consortium whether that key
belonged to the issuing department when the certificate was anchored.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from coincurve import PublicKey
from eth_hash.auto import keccak
from eth_typing import ChecksumAddress

from gateway.certificates.document import certificate_hash, issuer_code, stated_hash, type_code, type_version
from gateway.certificates.suites import SECP256K1_KECCAK, SM2_SM3, Sm2PrivateKey, sm2_key_id, sm2_verify, suite_of
from gateway.errors import InvalidDocument
from ledger_node.types import checksum_address, code32

#: What signs a certificate: a department's account (secp256k1-keccak) or its SM2 key (sm2-sm3).
IssuerKey = LocalAccount | Sm2PrivateKey
DOMAIN_NAME, DOMAIN_VERSION = "CertNet", "1"
CERTIFICATE_TYPES = {
    "Certificate": [
        {"name": "certificateHash", "type": "bytes32"},
        {"name": "issuer", "type": "bytes32"},
        {"name": "certificateType", "type": "bytes32"},
        {"name": "typeVersion", "type": "uint32"},
    ]
}


@dataclass(frozen=True)
class SigningDomain:
    """The deployment a signature is valid for."""

    chain_id: int
    registry: ChecksumAddress

    def as_eip712(self) -> dict[str, Any]:
        return {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": self.chain_id,
                "verifyingContract": self.registry}


def _typed_message(document: dict[str, Any], domain: SigningDomain) -> Any:
    return encode_typed_data(full_message={
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            **CERTIFICATE_TYPES,
        },
        "primaryType": "Certificate",
        "domain": domain.as_eip712(),
        "message": {
            "certificateHash": stated_hash(document),
            "issuer": code32(issuer_code(document)),
            "certificateType": code32(type_code(document)),
            "typeVersion": type_version(document),
        },
    })


def sign(document: dict[str, Any], key: IssuerKey, domain: SigningDomain) -> dict[str, Any]:
    """A copy of `document` signed by `key` for `domain`; refuses a document whose stated hash
    does not match its content (an issuer never signs what it has not checked), and a key of
    another suite than the document's."""
    if certificate_hash(document) != stated_hash(document):
        raise InvalidDocument("the document's content does not match its certificate hash; refusing to sign")
    suite = suite_of(document)
    signed = copy.deepcopy(document)
    evidence: dict[str, Any] = {"type": suite.signature_type, "chainId": domain.chain_id,
                                "verifyingContract": domain.registry}
    if suite is SM2_SM3 and isinstance(key, Sm2PrivateKey):
        value = key.sign(signing_digest(document, domain, SM2_SM3.hash))
        evidence |= {"signer": "0x" + key.key_id.hex(), "publicKey": "0x" + key.public_key.hex()}
    elif suite is SECP256K1_KECCAK and isinstance(key, LocalAccount):
        value = bytes(key.sign_message(_typed_message(document, domain)).signature)
        evidence["signer"] = key.address
    else:
        raise InvalidDocument(f"a {suite} document cannot be signed with a {type(key).__name__}")
    signed["proof"]["signature"] = {**evidence, "value": "0x" + value.hex()}
    return signed


def signature_domain(document: dict[str, Any]) -> SigningDomain:
    signature = _signature(document)
    return SigningDomain(int(signature["chainId"]), checksum_address(signature["verifyingContract"]))


def stated_signer(document: dict[str, Any]) -> str:
    """The key the document says signed it: a checksummed address (EIP-712), or the 0x-hex id of an SM2 key."""
    signer = _signature(document)["signer"]
    if suite_of(document) is SECP256K1_KECCAK:
        return checksum_address(signer)
    if not isinstance(signer, str) or len(signer) != 66:
        raise InvalidDocument("proof.signature.signer of an SM2 signature is the 0x-hex id of its key")
    return signer.lower()


_DOMAIN_TYPE = b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
_CERTIFICATE_TYPE = b"Certificate(bytes32 certificateHash,bytes32 issuer,bytes32 certificateType,uint32 typeVersion)"


@lru_cache(maxsize=64)
def _domain_separator(domain: SigningDomain, digest: Callable[[bytes], bytes]) -> bytes:
    return digest(digest(_DOMAIN_TYPE) + digest(DOMAIN_NAME.encode()) + digest(DOMAIN_VERSION.encode())
                  + domain.chain_id.to_bytes(32, "big") + bytes(12) + bytes.fromhex(domain.registry[2:]))


@lru_cache(maxsize=4)
def _certificate_type(digest: Callable[[bytes], bytes]) -> bytes:
    return digest(_CERTIFICATE_TYPE)


def signing_digest(document: dict[str, Any], domain: SigningDomain,
                   digest: Callable[[bytes], bytes] = keccak) -> bytes:
    """The EIP-712 hash that is signed: the same as eth_account's for `_typed_message`, computed
    directly for the one fixed type (its generic encoder costs ≈0.6 ms per verification). With
    `digest` SM3, the same structure hashed with SM3: the message an SM2 signature signs."""
    message = digest(_certificate_type(digest) + stated_hash(document) + code32(issuer_code(document))
                     + code32(type_code(document)) + type_version(document).to_bytes(32, "big"))
    return digest(b"\x19\x01" + _domain_separator(domain, digest) + message)


def recover_signer(document: dict[str, Any]) -> str:
    """The key that produced the document's signature (which may not be the stated signer), as
    `stated_signer` names keys. EIP-712: the address recovered from 65 bytes r || s || v, v 27, 28, 0
    or 1, as eth_account accepts. SM2: the id of the signature's public key, once the signature
    verifies under it (`InvalidDocument` when it does not)."""
    signature = _signature(document)
    try:
        value = bytes.fromhex(signature["value"].removeprefix("0x"))
        domain = signature_domain(document)
        if suite_of(document) is SM2_SM3:
            public_key = bytes.fromhex(signature["publicKey"].removeprefix("0x"))
            if not sm2_verify(public_key, signing_digest(document, domain, SM2_SM3.hash), value):
                raise InvalidDocument("the SM2 signature does not verify under proof.signature.publicKey")
            return "0x" + sm2_key_id(public_key).hex()
        if len(value) != 65 or value[64] not in (0, 1, 27, 28):
            raise ValueError("a signature is 65 bytes r || s || v, v 27 or 28")
        digest = signing_digest(document, domain)
        public = PublicKey.from_signature_and_message(value[:64] + bytes([value[64] % 27]), digest, hasher=None)
    except (ValueError, TypeError, AttributeError, KeyError) as error:
        raise InvalidDocument(f"the signature cannot be decoded: {error}") from None
    return checksum_address(keccak(public.format(compressed=False)[1:])[-20:])


def _signature(document: dict[str, Any]) -> dict[str, Any]:
    signature = document.get("proof", {}).get("signature")
    expected = suite_of(document).signature_type
    if not isinstance(signature, dict) or signature.get("type") != expected:
        raise InvalidDocument(f"the document is not signed (no {expected} proof.signature)")
    for name in ("chainId", "verifyingContract", "signer", "value") + (("publicKey",) if expected == "SM2" else ()):
        if name not in signature:
            raise InvalidDocument(f"proof.signature lacks `{name}`")
    return signature
