"""Issuer signatures: EIP-712 typed data over the certificate hash, bound to one deployment.

EIP-712 rather than EIP-191 because the domain (chain id and registry address) stops a signature
from being replayed on another CertNet network, and wallets show the typed fields to the signer.
The verifier recovers the signer and asks the consortium whether that key belonged to the issuing
department when the certificate was anchored.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils.exceptions import ValidationError
from web3 import Web3

from gateway.certificates.document import certificate_hash, issuer_code, stated_hash, type_code, type_version
from gateway.errors import InvalidDocument
from ledger_node.types import code32

SIGNATURE_TYPE = "EIP712"
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


def sign(document: dict[str, Any], account: LocalAccount, domain: SigningDomain) -> dict[str, Any]:
    """A copy of `document` signed by `account` for `domain`; refuses a document whose stated hash
    does not match its content (an issuer never signs what it has not checked)."""
    if certificate_hash(document) != stated_hash(document):
        raise InvalidDocument("the document's content does not match its certificate hash; refusing to sign")
    signed = copy.deepcopy(document)
    signature = account.sign_message(_typed_message(document, domain)).signature
    signed["proof"]["signature"] = {
        "type": SIGNATURE_TYPE,
        "chainId": domain.chain_id,
        "verifyingContract": domain.registry,
        "signer": account.address,
        "value": "0x" + bytes(signature).hex(),
    }
    return signed


def signature_domain(document: dict[str, Any]) -> SigningDomain:
    signature = _signature(document)
    return SigningDomain(int(signature["chainId"]), Web3.to_checksum_address(signature["verifyingContract"]))


def stated_signer(document: dict[str, Any]) -> ChecksumAddress:
    return Web3.to_checksum_address(_signature(document)["signer"])


def recover_signer(document: dict[str, Any]) -> ChecksumAddress:
    """The address that produced the document's signature (which may not be the stated signer)."""
    signature = _signature(document)
    try:
        return Account.recover_message(_typed_message(document, signature_domain(document)),
                                       signature=bytes.fromhex(signature["value"].removeprefix("0x")))
    except (ValueError, TypeError, ValidationError) as error:
        raise InvalidDocument(f"the signature cannot be decoded: {error}") from None


def _signature(document: dict[str, Any]) -> dict[str, Any]:
    signature = document.get("proof", {}).get("signature")
    if not isinstance(signature, dict) or signature.get("type") != SIGNATURE_TYPE:
        raise InvalidDocument("the document is not signed (no EIP712 proof.signature)")
    for name in ("chainId", "verifyingContract", "signer", "value"):
        if name not in signature:
            raise InvalidDocument(f"proof.signature lacks `{name}`")
    return signature
