"""Verifying a certificate: a report of named checks, each valid / invalid / error / skipped with
a reason, and an overall verdict.

Integrity and the signature's cryptography run offline. Everything the chain knows (anchoring,
the signer's key history, the issuer's authority for the type version, revocation, supersession,
the anchored validity) is what `CertificateRegistry.verificationOf` answers: read from the event
index's derived state at the index's height (`gateway.chain_state`), or, for a certificate the index
does not know yet and whenever asked (`fresh`), from the chain's head in one JSON-RPC request. Each
report says which (`checkedAt`).
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cached_property
from enum import Enum
from typing import Any, Callable, Literal, Protocol, Sequence

from web3.constants import ADDRESS_ZERO
from web3.exceptions import Web3Exception

from gateway.certificates import document as doc
from gateway.certificates.anchoring import anchor_location
from gateway.certificates.identity import HolderId, pseudonym
from gateway.certificates.merkle import verify as merkle_verify
from gateway.certificates.signing import SigningDomain, recover_signer, signature_domain, stated_signer
from gateway.certificates.suites import CryptoSuite, suite_coded, suite_of
from gateway.errors import GatewayError
from ledger_node.deploy import Deployment
from ledger_node.rpc import RpcError, ViewCalls
from ledger_node.types import REVOCATION_REASONS, CertificateStatus, checksum_address, code32

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
    checked_at: CheckedAt | None = None  # None when the chain was not read
    #: The document's national identifier (its form and check character checked with the document's format);
    #: None when it has none (issued before identifiers existed) or is too broken to read.
    certificate_identifier: str | None = None

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
            **({"certificateIdentifier": self.certificate_identifier} if self.certificate_identifier else {}),
            "verdict": self.verdict.value,
            "checks": [{"name": c.name, "outcome": c.outcome.value, "reason": c.reason,
                        **({"details": c.details} if c.details else {})} for c in self.checks],
            **({"checkedAt": self.checked_at.as_dict()} if self.checked_at else {}),
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


def facts_from_storage(*, superseded_by: bytes, revoked_at: int, valid_until: int, now: int,
                       **stored: Any) -> ChainFacts:
    """The facts of an anchored certificate from what the registry stores about it, with its status
    decided as `CertificateRegistry.certificateState` decides it at chain time `now`."""
    if any(superseded_by):
        status = CertificateStatus.SUPERSEDED
    elif revoked_at:
        status = CertificateStatus.REVOKED
    elif valid_until and valid_until <= now:
        status = CertificateStatus.EXPIRED
    else:
        status = CertificateStatus.VALID
    return ChainFacts(status=status, superseded_by=superseded_by, revoked_at=revoked_at, valid_until=valid_until,
                      **stored)


@dataclass(frozen=True)
class CheckedAt:
    """The chain state a report's chain checks were made against: the event index at the block it
    had read (`index`), or the chain itself at its head (`chain`: the block read just before the
    call, so the facts are at least that recent)."""

    block: int
    block_hash: str
    time: int
    source: Literal["index", "chain"]

    def as_dict(self) -> dict[str, Any]:
        return {"block": self.block, "blockHash": self.block_hash, "time": _when(self.time), "source": self.source}


@dataclass(frozen=True)
class Lookup:
    """What a certificate's chain facts are read by: its hash, the batch root and proof it states (zero
    and none for a single certificate), the key that signed it, and the registry its document says it
    is anchored in (None: whichever of the deployment's registries anchored it)."""

    certificate_hash: bytes
    batch_root: bytes
    proof: tuple[bytes, ...]
    signer: str
    registry: str | None = None

    @property
    def anchor_hash(self) -> bytes:
        """The hash the registry keeps the anchor under: the batch root, or the certificate's own."""
        return self.batch_root if any(self.batch_root) else self.certificate_hash


class FactSource(Protocol):
    """The chain state at some height (`gateway.chain_state.IndexedState`): the facts of each lookup, None
    where it knows no anchor; None when it has no height yet."""

    def read(self, lookups: Sequence[Lookup]) -> tuple[list[ChainFacts | None], CheckedAt] | None: ...


class LiveFacts:
    """`verificationOf` at the chain's head: over HTTP one JSON-RPC request (the head's header and the
    pre-encoded calls in one batch, `ViewCalls`) on a pooled connection, where web3.py's contract call
    costs three round trips and ≈13 ms of CPU. A lookup naming no registry asks every registry version
    of the deployment in that one request (no hash is anchored in two: the registries refuse it)."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.consortium = deployment.consortium
        self._calls = ViewCalls(deployment.registry.w3)

    def read(self, lookup: Lookup) -> tuple[ChainFacts, CheckedAt]:
        """An SM2 signer (a 32-byte key id) is not an address the registry can check: its history is read
        from the consortium (`wasSm2KeyOf`) at the issuing time the registry answered, in a second request."""
        sm2_key = len(lookup.signer) == 66
        signer = ADDRESS_ZERO if sm2_key else checksum_address(lookup.signer)
        named = self.deployment.registry_at(lookup.registry) if lookup.registry else None
        registries = [named] if named is not None else reversed(self.deployment.registries)
        head, answers = self._calls.read_with_head([registry.functions.verificationOf(
            lookup.certificate_hash, lookup.batch_root, list(lookup.proof), signer) for registry in registries])
        found = [_decoded_facts(answer) for answer in answers]
        facts = next((facts for facts in found if facts.status is not CertificateStatus.UNKNOWN), found[0])
        if sm2_key and facts.status is not CertificateStatus.UNKNOWN:
            (held,) = self._calls.read([self.consortium.functions.wasSm2KeyOf(
                bytes.fromhex(lookup.signer[2:]), facts.issuer, facts.issued_at)])
            facts = replace(facts, signer_was_issuer_key=held)
        return facts, CheckedAt(head.number, head.hash, head.timestamp, "chain")


def _decoded_facts(answer: Sequence[Any]) -> ChainFacts:
    state, signer_was_key, schema_hash = answer
    return ChainFacts(CertificateStatus(state[0]), *state[1:], signer_was_issuer_key=signer_was_key,
                      schema_hash=schema_hash)


#: What a certificate's chain checks start from: its lookup, or the checks already decided without the chain.
Prepared = Lookup | list[Check]
#: Batches from this size have their offline work done in worker processes.
PARALLEL_FROM = 256


@dataclass(frozen=True)
class Offline:
    """What a document shows without the chain: the hash its content computes to, its signature
    check, and whether its Merkle proof leads to the batch root it states (True for a single one)."""

    computed_hash: bytes
    signature: Check
    proof_leads_to_root: bool


def offline(document: dict[str, Any]) -> Offline:
    """The offline work of verifying a document `check_shape` passed (a function of the document
    alone, so that worker processes can do it)."""
    try:
        root, proof = anchor_location(document)
        leads_to_root = not any(root) or merkle_verify(root, doc.stated_hash(document), proof)
    except (GatewayError, ValueError):
        leads_to_root = False  # `Verifier._prepare` reports why the location is unreadable
    return Offline(doc.certificate_hash(document, shape_checked=True), _signature_offline(document), leads_to_root)


#: The document its issuer signed under a certificate hash, or None where not known (this gateway did not sign it).
SignedDocuments = Callable[[bytes], dict[str, Any] | None]


class Verifier:
    """Verifies documents, against `deployment` when given (offline otherwise).

    The chain facts come from `state` (the event index's derived state) when given and it knows the
    certificate, else (and always with `fresh`) from the chain's head. With the consortium's
    `pseudonym_secret`, a holder's disclosed identity can also be checked against the document's
    pseudonym. With `workers` (≥ 2), large batches are checked offline in that many processes. With
    `signed_documents` (a certificate hash's document as its issuer signed it, where known), a document
    whose content does not match its hash is reported with the fields that differ.
    """

    def __init__(self, deployment: Deployment | None = None, *, state: FactSource | None = None,
                 pseudonym_secret: bytes | None = None, now: Callable[[], float] = time.time,
                 workers: int = 0, signed_documents: SignedDocuments | None = None) -> None:
        self.deployment = deployment
        self.state = state
        self.signed_documents = signed_documents
        self.live = LiveFacts(deployment) if deployment is not None else None
        self.pseudonym_secret = pseudonym_secret
        self.now = now
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    @cached_property
    def chain_id(self) -> int:
        assert self.deployment is not None
        return self.deployment.registry.w3.eth.chain_id

    @cached_property
    def suite(self) -> CryptoSuite:
        """The consortium's crypto suite: the one its certificates must be hashed and signed with."""
        assert self.deployment is not None
        return suite_coded(self.deployment.consortium.functions.cryptoSuite().call())

    def verify(self, document: Any, *, holder: HolderId | None = None, fresh: bool = False) -> Report:
        return self._verify_all([(document, holder)], fresh)[0]

    def verify_batch(self, documents: Sequence[Any], *, fresh: bool = False) -> list[Report]:
        """One report per document, as `verify` makes it; the chain facts of all are read together."""
        return self._verify_all([(document, None) for document in documents], fresh)

    def facts(self, lookups: Sequence[Lookup], *, fresh: bool = False) -> list[tuple[ChainFacts, CheckedAt] | str]:
        """Each lookup's facts and where they were read, or why the chain could not be read: from the
        index where it knows the anchor, from the chain's head otherwise."""
        assert self.live is not None
        indexed = self.state.read(lookups) if self.state is not None and not fresh and lookups else None
        known, height = indexed if indexed is not None else ([None] * len(lookups), None)
        answers: list[tuple[ChainFacts, CheckedAt] | str] = []
        for lookup, facts in zip(lookups, known):
            if facts is not None and height is not None:
                answers.append((facts, height))
                continue
            try:
                answers.append(self.live.read(lookup))
            except (Web3Exception, OSError, RpcError) as error:
                answers.append(f"the chain could not be read: {error}")
        return answers

    def _verify_all(self, items: Sequence[tuple[Any, HolderId | None]], fresh: bool) -> list[Report]:
        readable: list[tuple[dict[str, Any], HolderId | None, bytes]] = []
        reports: list[Report | None] = []
        for document, holder in items:
            try:
                doc.check_shape(document)
                readable.append((document, holder, doc.stated_hash(document)))
                reports.append(None)
            except GatewayError as error:
                reports.append(Report.unreadable(str(error)))
        shown = self._offline_all([document for document, _holder, _claimed in readable])
        prepared = [self._prepare(document, claimed, seen) for (document, _h, claimed), seen in zip(readable, shown)]
        lookups = [entry for entry in prepared if isinstance(entry, Lookup)]
        read = iter(self.facts(lookups, fresh=fresh) if lookups else ())
        made = iter([self._report(document, holder, claimed, seen, entry,
                                  next(read) if isinstance(entry, Lookup) else entry)
                     for (document, holder, claimed), seen, entry in zip(readable, shown, prepared)])
        return [report if report is not None else next(made) for report in reports]

    def _offline_all(self, documents: list[dict[str, Any]]) -> list[Offline]:
        """`offline` of each document: in the worker processes for a large batch (the work is CPU-bound
        and the GIL would hold it to one core), here otherwise."""
        if self.workers < 2 or len(documents) < PARALLEL_FROM:
            return [offline(document) for document in documents]
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        return list(self._pool.map(offline, documents, chunksize=max(16, len(documents) // (4 * self.workers))))

    def close(self) -> None:
        """Stops the worker processes, if a batch started them."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def _report(self, document: dict[str, Any], holder: HolderId | None, claimed: bytes, seen: Offline,
                prepared: Prepared, chain: list[Check] | tuple[ChainFacts, CheckedAt] | str) -> Report:
        signature = seen.signature
        checked_at = None
        if isinstance(chain, str):
            chain_checks = [Check(n, Outcome.ERROR, chain) for n in CHAIN_CHECKS]
        elif isinstance(chain, tuple):
            facts, checked_at = chain
            chain_checks = self._chain_checks(document, facts, prepared)
            if facts.status is not CertificateStatus.UNKNOWN and signature.outcome is Outcome.VALID:
                signature = _signing_key_held(signature, facts)
        else:
            chain_checks = chain
        checks = [self._integrity(document, claimed, seen.computed_hash), signature]
        if holder is not None:
            checks.append(self._holder(document, holder))
        return Report("0x" + claimed.hex(), checks + chain_checks, checked_at, document.get(doc.IDENTIFIER))

    def _integrity(self, document: dict[str, Any], claimed: bytes, actual: bytes) -> Check:
        if actual == claimed:
            redacted = len(document["proof"]["redactedFields"])
            return Check("integrity", Outcome.VALID, "content matches the certificate hash"
                         + (f" ({redacted} field(s) redacted)" if redacted else ""))
        signed = self.signed_documents(claimed) if self.signed_documents is not None else None
        changed = doc.fields_changed(document, signed) if signed is not None else []
        return Check("integrity", Outcome.INVALID, "the content does not match the certificate hash"
                     + (f": {', '.join(changed)} differ from what was signed" if changed else ""),
                     {"computed": "0x" + actual.hex(), **({"changedFields": changed} if changed else {})})

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

    def _prepare(self, document: dict[str, Any], claimed: bytes, seen: Offline) -> Prepared:
        """The lookup of the document's chain facts, or its chain checks when they are decided without
        the chain (offline, no usable anchor, anchored on another deployment)."""
        if self.deployment is None:
            offline = [Check(n, Outcome.SKIPPED, "needs the chain (verified offline)") for n in CHAIN_CHECKS]
            offline[CHAIN_CHECKS.index("validity")] = _validity(document, None, self.now())
            return offline
        try:
            root, proof = anchor_location(document)
            signer = stated_signer(document)
        except (GatewayError, ValueError) as error:
            return _not_anchored(str(error))
        if not seen.proof_leads_to_root:
            return _not_anchored("the Merkle proof does not lead to the batch root")
        try:
            elsewhere = self._anchored_elsewhere(document)
        except (Web3Exception, OSError) as error:
            elsewhere = f"the chain could not be read: {error}"
        if elsewhere:
            return [Check(n, Outcome.ERROR, elsewhere) for n in CHAIN_CHECKS]
        return Lookup(claimed, root, tuple(proof), signer, document["proof"]["anchor"]["registry"])

    def _chain_checks(self, document: dict[str, Any], facts: ChainFacts, lookup: Prepared) -> list[Check]:
        assert isinstance(lookup, Lookup)
        if facts.status is CertificateStatus.UNKNOWN:
            return _not_anchored("not anchored in the registry" + (" under this batch root"
                                                                   if any(lookup.batch_root) else ""))
        return [
            _anchored(facts, lookup.batch_root),
            _issuer_authorised(document, facts),
            _not_revoked(facts),
            _validity(document, facts, self.now()),
            _not_superseded(facts),
        ]

    def _anchored_elsewhere(self, document: dict[str, Any]) -> str:
        """Why the document cannot be checked against this deployment (any of its registry versions), or
        "" when it can."""
        assert self.deployment is not None
        anchor, registries = document["proof"]["anchor"], [r.address for r in self.deployment.registries]
        registry = anchor.get("registry")
        if anchor.get("chainId") != self.chain_id or registry not in registries:
            return (f"anchored on chain {anchor.get('chainId')} at {registry}, not on this deployment "
                    f"(chain {self.chain_id}, registr{'ies' if len(registries) > 1 else 'y'} {', '.join(registries)})")
        if signature_domain(document) != SigningDomain(self.chain_id, registry):
            return "signed for another chain or registry than the one it is anchored in"
        if suite_of(document) is not self.suite:
            return f"made under the {suite_of(document)} crypto suite; this consortium uses {self.suite}"
        return ""


def _not_anchored(reason: str) -> list[Check]:
    return [Check("anchored", Outcome.INVALID, reason)] + \
        [Check(n, Outcome.ERROR, "cannot be checked: the certificate is not anchored") for n in CHAIN_CHECKS[1:]]


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
