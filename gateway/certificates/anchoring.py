"""Anchoring signed certificates in the registry, alone or as a Merkle batch, and embedding the
evidence (chain, registry, transaction, batch root and proof) in each document; revoking and
superseding them. Every document is checked before any transaction is sent.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Sequence

from eth_typing import ChecksumAddress
from web3.types import TxReceipt

from gateway.certificates.document import (certificate_hash, issuer_code, stated_hash, type_code,
                                           valid_until)
from gateway.certificates.merkle import MerkleBatch
from gateway.certificates.signing import SigningDomain, recover_signer, signature_domain, stated_signer
from gateway.errors import InvalidDocument
from ledger_node.deploy import Deployment
from ledger_node.sender import Sender
from ledger_node.types import REVOKE_REASONS, code32


@dataclass(frozen=True)
class Issuing:
    """Who anchors: the deployment, a sender holding the key, and that key's address."""

    deployment: Deployment
    sender: Sender
    account: ChecksumAddress

    @property
    def domain(self) -> SigningDomain:
        return SigningDomain(self.sender.chain_id, self.deployment.registry.address)


def anchor_certificate(issuing: Issuing, document: dict[str, Any]) -> dict[str, Any]:
    """Anchors one signed certificate; returns it with its anchoring evidence."""
    _check_ready(issuing, document)
    receipt = issuing.sender.transact(
        issuing.deployment.registry.functions.issue(stated_hash(document), _terms(issuing, document)),
        issuing.account, label=f"issue {document['proof']['certificateHash']}")
    return _evidenced(document, issuing, receipt, batch_root=None, proof=[])


def anchor_batch(issuing: Issuing, documents: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Anchors signed certificates of one type, issuer and validity end as one Merkle batch;
    returns each with its evidence (the batch root and its own proof)."""
    if not documents:
        raise InvalidDocument("a batch needs at least one certificate")
    for document in documents:
        _check_ready(issuing, document)
    shared = {(type_code(d), issuer_code(d), valid_until(d)) for d in documents}
    if len(shared) != 1:
        raise InvalidDocument("a batch holds certificates of one type, one issuer and one validUntil")
    batch = MerkleBatch.build([stated_hash(d) for d in documents])
    receipt = issuing.sender.transact(
        issuing.deployment.registry.functions.anchorBatch(batch.root, _terms(issuing, documents[0]), len(batch)),
        issuing.account, label=f"anchor batch 0x{batch.root.hex()}")
    return [_evidenced(d, issuing, receipt, batch_root=batch.root, proof=batch.proof(stated_hash(d)))
            for d in documents]


def _terms(issuing: Issuing, document: dict[str, Any]) -> int:
    return issuing.deployment.issuance_terms(code32(type_code(document)), valid_until(document))


def with_evidence(document: dict[str, Any], domain: SigningDomain, transaction_hash: str, block_number: int, *,
                  batch_root: bytes | None, proof: Sequence[bytes]) -> dict[str, Any]:
    """A copy of `document` carrying where it was anchored: chain, registry, transaction, batch root and proof."""
    anchored = copy.deepcopy(document)
    anchored["proof"]["anchor"] = {
        "chainId": domain.chain_id,
        "registry": domain.registry,
        "transactionHash": transaction_hash,
        "blockNumber": block_number,
        "batchRoot": "0x" + batch_root.hex() if batch_root else None,
        "merkleProof": ["0x" + p.hex() for p in proof],
    }
    return anchored


def anchor_location(document: dict[str, Any]) -> tuple[bytes, list[bytes]]:
    """The batch root (zero for a single certificate) and Merkle proof from the document's evidence."""
    anchor = document.get("proof", {}).get("anchor")
    if not isinstance(anchor, dict):
        raise InvalidDocument("the document carries no anchoring evidence (proof.anchor)")
    try:
        root = bytes.fromhex(anchor["batchRoot"][2:]) if anchor.get("batchRoot") else bytes(32)
        proof = [bytes.fromhex(p[2:]) for p in anchor.get("merkleProof", [])]
    except (TypeError, ValueError, KeyError):
        raise InvalidDocument("proof.anchor has a malformed batchRoot or merkleProof") from None
    if len(root) != 32 or any(len(p) != 32 for p in proof):
        raise InvalidDocument("proof.anchor's batchRoot and merkleProof entries are 32-byte hashes")
    return root, proof


def revoke(issuing: Issuing, document: dict[str, Any], reason: int) -> TxReceipt:
    """Revokes an anchored certificate (single or batch member) with a reason code."""
    if reason not in REVOKE_REASONS:
        raise InvalidDocument(f"revocation reason {reason} is not one revoke takes; use one of {sorted(REVOKE_REASONS)} "
                              "(a certificate is superseded by supersede)")
    root, proof = anchor_location(document)
    return issuing.sender.transact(
        _anchoring_registry(issuing, document).functions.revoke(stated_hash(document), root, proof, reason),
        issuing.account, label=f"revoke {document['proof']['certificateHash']}")


def supersede(issuing: Issuing, old: dict[str, Any], successor: dict[str, Any]) -> dict[str, Any]:
    """Replaces `old` by the signed `successor` (same type) in one transaction; returns the
    successor with its anchoring evidence."""
    _check_ready(issuing, successor)
    if type_code(old) != type_code(successor):
        raise InvalidDocument("a successor must be of the same certificate type")
    root, proof = anchor_location(old)
    receipt = issuing.sender.transact(
        _anchoring_registry(issuing, old).functions.supersede(stated_hash(old), root, proof, stated_hash(successor),
                                                              valid_until(successor)),
        issuing.account, label=f"supersede {old['proof']['certificateHash']}")
    return _evidenced(successor, issuing, receipt, batch_root=None, proof=[])


def _anchoring_registry(issuing: Issuing, document: dict[str, Any]) -> Any:
    """The deployment's registry the anchored `document` names (after an upgrade, maybe a retired one: it
    still revokes, and refuses a supersession naming its successor); the current one if it names none of them."""
    named = issuing.deployment.registry_at(document["proof"]["anchor"].get("registry", ""))
    return named or issuing.deployment.registry


def _evidenced(document: dict[str, Any], issuing: Issuing, receipt: TxReceipt, *, batch_root: bytes | None,
               proof: Sequence[bytes]) -> dict[str, Any]:
    return with_evidence(document, issuing.domain, receipt["transactionHash"].to_0x_hex(), receipt["blockNumber"],
                         batch_root=batch_root, proof=proof)


def _check_ready(issuing: Issuing, document: dict[str, Any]) -> None:
    """Intact, signed for this deployment, and not yet anchored: otherwise nothing is sent."""
    if certificate_hash(document) != stated_hash(document):
        raise InvalidDocument("the document's content does not match its certificate hash")
    if signature_domain(document) != issuing.domain:
        raise InvalidDocument("the document was signed for another chain or registry")
    if recover_signer(document) != stated_signer(document):
        raise InvalidDocument("the document's signature was not made by its stated signer")
    if "anchor" in document["proof"]:
        raise InvalidDocument("the document is already anchored")
