"""Verifying a certificate: a report of named checks, each valid / invalid / error / skipped with
a reason, and an overall verdict.

Integrity and the signature's cryptography run offline. Everything the chain knows (anchoring,
the signer's key history, the issuer's authority for the type version, revocation, supersession,
the anchored validity) comes from one `verificationOf` call per certificate.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from functools import cached_property
from enum import Enum
from typing import Any, Callable

from web3 import Web3
from web3.exceptions import Web3Exception

from gateway.certificates import document as doc
from gateway.certificates.anchoring import REVOCATION_REASONS, anchor_location
from gateway.certificates.identity import HolderId, pseudonym
from gateway.certificates.merkle import verify as merkle_verify
from gateway.certificates.signing import SigningDomain, recover_signer, signature_domain, stated_signer
from gateway.errors import GatewayError
from ledger_node.deploy import Deployment
from ledger_node.types import CertificateStatus, code32

#: Checks that need the chain, in report order (after "integrity", "signature" and, when asked, "holder").
CHAIN_CHECKS = ("anchored", "issuer_authorised", "not_revoked", "validity", "not_superseded")


class Outcome(str, Enum):
    VALID = "valid"
    INVALID = "invalid"
    ERROR = "error"  # the check could not run (malformed input, chain unreachable)
    SKIPPED = "skipped"  # the check needs the chain and verification ran offline


class Verdict(str, Enum):
    VALID = "valid"
    INVALID = "invalid"
    ERROR = "error"
    INCOMPLETE = "incomplete"  # every check that ran passed, some were skipped


@dataclass(frozen=True)
class Check:
    name: str
    outcome: Outcome
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Report:
    certificate_hash: str | None
    checks: list[Check]

    @property
    def verdict(self) -> Verdict:
        outcomes = {c.outcome for c in self.checks}
        for outcome, verdict in ((Outcome.INVALID, Verdict.INVALID), (Outcome.ERROR, Verdict.ERROR),
                                 (Outcome.SKIPPED, Verdict.INCOMPLETE)):
            if outcome in outcomes:
                return verdict
        return Verdict.VALID

    @classmethod
    def unreadable(cls, reason: str) -> Report:
        """The report on something that is not a certificate document at all."""
        return cls(None, [Check("integrity", Outcome.INVALID, reason)])

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    def as_dict(self) -> dict[str, Any]:
        return {
            "certificateHash": self.certificate_hash,
            "verdict": self.verdict.value,
            "checks": [{"name": c.name, "outcome": c.outcome.value, "reason": c.reason,
                        **({"details": c.details} if c.details else {})} for c in self.checks],
        }


@dataclass(frozen=True)
class ChainFacts:
    """What `CertificateRegistry.verificationOf` returns for one certificate."""

    status: CertificateStatus
    issuer: bytes
    certificate_type: bytes
    type_version: int
    issued_at: int
    issued_block: int
    valid_until: int
    batch_root: bytes
    revoked_at: int
    revocation_reason: int
    superseded_by: bytes
    signer_was_issuer_key: bool
    schema_hash: bytes


def read_chain_facts(deployment: Deployment, certificate_hash: bytes, batch_root: bytes, proof: list[bytes],
                     signer: str) -> ChainFacts:
    state, signer_was_key, schema_hash = deployment.registry.functions.verificationOf(
        certificate_hash, batch_root, proof, Web3.to_checksum_address(signer)).call()
    return ChainFacts(CertificateStatus(state[0]), *state[1:], signer_was_issuer_key=signer_was_key,
                      schema_hash=schema_hash)


class Verifier:
    """Verifies documents, against `deployment` when given (offline otherwise).

    With the consortium's `pseudonym_secret`, a holder's disclosed identity can also be checked
    against the document's pseudonym.
    """

    def __init__(self, deployment: Deployment | None = None, *, pseudonym_secret: bytes | None = None,
                 now: Callable[[], float] = time.time) -> None:
        self.deployment = deployment
        self.pseudonym_secret = pseudonym_secret
        self.now = now

    @cached_property
    def chain_id(self) -> int:
        assert self.deployment is not None
        return self.deployment.registry.w3.eth.chain_id

    def verify(self, document: Any, *, holder: HolderId | None = None) -> Report:
        try:
            doc.check_shape(document)
            claimed = doc.stated_hash(document)
        except GatewayError as error:
            return Report.unreadable(str(error))
        signature = _signature_offline(document)
        chain_checks, facts = self._chain_checks(document, claimed)
        if facts is not None and signature.outcome is Outcome.VALID:
            signature = _signing_key_held(signature, facts)
        checks = [_integrity(document, claimed), signature]
        if holder is not None:
            checks.append(self._holder(document, holder))
        return Report("0x" + claimed.hex(), checks + chain_checks)

    def _holder(self, document: dict[str, Any], holder: HolderId) -> Check:
        if self.pseudonym_secret is None:
            return Check("holder", Outcome.ERROR, "checking a disclosed identity needs the consortium's pseudonym secret")
        shown = document["credentialSubject"].get("id")
        if shown is None:
            return Check("holder", Outcome.INVALID, "the holder's pseudonym is redacted")
        if shown != pseudonym(self.pseudonym_secret, holder):
            return Check("holder", Outcome.INVALID,
                         f"the certificate's holder is not the holder of the given {holder.scheme.value} number")
        return Check("holder", Outcome.VALID, "the disclosed identity matches the holder's pseudonym")

    def _chain_checks(self, document: dict[str, Any], claimed: bytes) -> tuple[list[Check], ChainFacts | None]:
        """The chain checks, and the facts they were made from (None when the chain was not read)."""
        if self.deployment is None:
            offline = [Check(n, Outcome.SKIPPED, "needs the chain (verified offline)") for n in CHAIN_CHECKS]
            offline[CHAIN_CHECKS.index("validity")] = _validity(document, None, self.now())
            return offline, None
        try:
            root, proof = anchor_location(document)
            signer = stated_signer(document)
        except (GatewayError, ValueError) as error:
            return _not_anchored(str(error)), None
        if any(root) and not merkle_verify(root, claimed, proof):
            return _not_anchored("the Merkle proof does not lead to the batch root"), None
        try:
            elsewhere = self._anchored_elsewhere(document)
            if elsewhere:
                return [Check(n, Outcome.ERROR, elsewhere) for n in CHAIN_CHECKS], None
            facts = read_chain_facts(self.deployment, claimed, root, proof, signer)
        except (Web3Exception, OSError) as error:
            return [Check(n, Outcome.ERROR, f"the chain could not be read: {error}") for n in CHAIN_CHECKS], None
        if facts.status is CertificateStatus.UNKNOWN:
            return _not_anchored("not anchored in the registry" + (" under this batch root" if any(root) else "")), None
        return [
            _anchored(facts, root),
            _issuer_authorised(document, facts),
            _not_revoked(facts),
            _validity(document, facts, self.now()),
            _not_superseded(facts),
        ], facts

    def _anchored_elsewhere(self, document: dict[str, Any]) -> str:
        """Why the document cannot be checked against this deployment, or "" when it can."""
        assert self.deployment is not None
        anchor, registry = document["proof"]["anchor"], self.deployment.registry.address
        if anchor.get("chainId") != self.chain_id or anchor.get("registry") != registry:
            return (f"anchored on chain {anchor.get('chainId')} at {anchor.get('registry')}, not on this deployment "
                    f"(chain {self.chain_id}, registry {registry})")
        if signature_domain(document) != SigningDomain(self.chain_id, registry):
            return "signed for another chain or registry than the one it is anchored in"
        return ""


def _not_anchored(reason: str) -> list[Check]:
    return [Check("anchored", Outcome.INVALID, reason)] + \
        [Check(n, Outcome.ERROR, "cannot be checked: the certificate is not anchored") for n in CHAIN_CHECKS[1:]]


def _integrity(document: dict[str, Any], claimed: bytes) -> Check:
    actual = doc.certificate_hash(document)
    if actual != claimed:
        return Check("integrity", Outcome.INVALID, "the content does not match the certificate hash",
                     {"computed": "0x" + actual.hex()})
    redacted = len(document["proof"]["redactedFields"])
    return Check("integrity", Outcome.VALID, "content matches the certificate hash"
                 + (f" ({redacted} field(s) redacted)" if redacted else ""))


def _signature_offline(document: dict[str, Any]) -> Check:
    try:
        signer, recovered = stated_signer(document), recover_signer(document)
    except (GatewayError, ValueError) as error:
        return Check("signature", Outcome.INVALID, str(error))
    if recovered != signer:
        return Check("signature", Outcome.INVALID, f"signed by {recovered}, not by the stated signer {signer}")
    return Check("signature", Outcome.VALID, f"signed by {signer} (whose key it was needs the chain)",
                 {"signer": signer})


def _signing_key_held(signature: Check, facts: ChainFacts) -> Check:
    """The offline signature check, completed with the key's history from the consortium."""
    signer, department = signature.details["signer"], _text(facts.issuer)
    if not facts.signer_was_issuer_key:
        return Check("signature", Outcome.INVALID, f"signed by {signer}, which was not a key of {department} "
                                                   "when the certificate was anchored", signature.details)
    return Check("signature", Outcome.VALID, f"signed by {signer}, a key of {department} at issue time",
                 signature.details)


def _anchored(facts: ChainFacts, root: bytes) -> Check:
    where = f"in batch 0x{root.hex()}" if root != bytes(32) else "on its own"
    return Check("anchored", Outcome.VALID, f"anchored {where} at block {facts.issued_block} ({_when(facts.issued_at)})",
                 {"issuedAt": _when(facts.issued_at), "issuedBlock": facts.issued_block})


def _issuer_authorised(document: dict[str, Any], facts: ChainFacts) -> Check:
    problems = []
    if facts.issuer != code32(doc.issuer_code(document)):
        problems.append(f"anchored by department {_text(facts.issuer)}, not {doc.issuer_code(document)}")
    if facts.certificate_type != code32(doc.type_code(document)) or facts.type_version != doc.type_version(document):
        problems.append(f"anchored as {_text(facts.certificate_type)} v{facts.type_version}, the document says "
                        f"{doc.type_code(document)} v{doc.type_version(document)}")
    if facts.schema_hash != doc.schema_hash(document):
        problems.append("the document's schema hash is not the catalog's for that type version")
    if problems:
        return Check("issuer_authorised", Outcome.INVALID, "; ".join(problems))
    return Check("issuer_authorised", Outcome.VALID,
                 f"{_text(facts.issuer)} was authorised for {_text(facts.certificate_type)} v{facts.type_version} "
                 "when it anchored the certificate")


def _not_revoked(facts: ChainFacts) -> Check:
    if facts.status is not CertificateStatus.REVOKED:
        return Check("not_revoked", Outcome.VALID, "not revoked")
    reason = REVOCATION_REASONS.get(facts.revocation_reason, f"reason {facts.revocation_reason}")
    return Check("not_revoked", Outcome.INVALID, f"revoked at {_when(facts.revoked_at)} ({reason})",
                 {"revokedAt": _when(facts.revoked_at), "reason": facts.revocation_reason})


def _validity(document: dict[str, Any], facts: ChainFacts | None, now: float) -> Check:
    valid_from, valid_until = doc.to_timestamp(document["validFrom"]), doc.valid_until(document)
    if facts is not None and facts.valid_until != valid_until:
        return Check("validity", Outcome.INVALID, f"the document says validUntil {_when(valid_until)}, the chain "
                                                  f"{_when(facts.valid_until)}")
    if now < valid_from:
        return Check("validity", Outcome.INVALID, f"not valid before {document['validFrom']}")
    if (valid_until and now >= valid_until) or (facts is not None and facts.status is CertificateStatus.EXPIRED):
        return Check("validity", Outcome.INVALID, f"expired at {_when(valid_until)}")
    return Check("validity", Outcome.VALID, f"valid until {_when(valid_until)}" if valid_until else "does not expire")


def _not_superseded(facts: ChainFacts) -> Check:
    if facts.status is CertificateStatus.SUPERSEDED:
        return Check("not_superseded", Outcome.INVALID, f"superseded by 0x{facts.superseded_by.hex()}",
                     {"supersededBy": "0x" + facts.superseded_by.hex()})
    return Check("not_superseded", Outcome.VALID, "not superseded")


def _when(timestamp: int) -> str:
    return doc.to_datetime_text(dt.datetime.fromtimestamp(timestamp, dt.timezone.utc)) if timestamp else "never"


def _text(code: bytes) -> str:
    return code.rstrip(b"\0").decode("ascii", errors="replace")
