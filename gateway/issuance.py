"""Issuing, revoking and superseding certificates for a department, through the outbox.

Each request is checked completely (caller's role, the catalog type and schema, holder IDs, and a
dry run of the contract call from the department's key) before an operation is stored, so a bad
request is refused with nothing sent. Documents are composed and signed by the gateway with the
department's key; batches are composed by the outbox's preparer thread, chunk by chunk.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import threading
from collections import OrderedDict
from typing import Any, Callable, Iterable

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker
from web3.contract import Contract

from gateway.certificates.anchoring import REVOKE_REASONS, anchor_location, with_evidence
from gateway.certificates.catalog import catalog_type
from gateway.certificates.document import (IDENTIFIER, CertificateType, IssuerRef, check_shape, check_subject,
                                           new_certificate, stated_hash, type_code, valid_until)
from gateway.certificates.identifier import (MAX_SERIAL, CertificateIdentifier, check_issuer, new_identifier,
                                             type_segment)
from gateway.certificates.identity import HolderId, pseudonym
from gateway.certificates.merkle import MerkleBatch
from gateway.certificates.signing import SigningDomain, sign, signature_domain
from gateway.chain import Chain, Custody
from gateway.db import IdentifierSerial, IssuedCertificate, Operation, OperationState
from gateway.errors import (Conflict, InvalidDocument, InvalidHolderId, InvalidInput, NotFound,
                            RegistryRetired)
from gateway.models import (BatchRequest, CertificateContent, IssueRequest, RevokeRequest, SnapshotRequest,
                            SupersedeRequest)
from gateway.outbox import Outbox
from gateway.auth import Caller
from ledger_node.canonical import content_hash
from ledger_node.schemas import SchemaStore
from ledger_node.types import Role, code32

#: Documents composed and stored per database transaction while a batch is prepared.
COMPOSE_CHUNK = 1_000
#: How many problems a refused batch lists.
MAX_LISTED_PROBLEMS = 20


def request_digest(body: Any) -> str:
    return "0x" + hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def _bytes(text: str) -> bytes:
    return bytes.fromhex(text[2:])


def parse_hash(text: str) -> bytes:
    """A certificate hash from a URL path: 0x and 64 hex digits."""
    try:
        value = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        value = b""
    if len(value) != 32:
        raise InvalidInput(f"not a certificate hash (0x and 64 hex digits): {text!r}")
    return value


def allocate_serials(sessions: sessionmaker, issuer: str, certificate_type: str, count: int) -> int:
    """The first of `count` consecutive identifier serials, new for the department `issuer` and the type
    `certificate_type`. One atomic increment of the counter row, in a transaction of its own: the gateway
    processes sharing the database never get a serial twice, and the counter is not held locked while the
    documents are signed and the chain is asked (a request refused after this leaves its serials unused)."""
    segment = type_segment(certificate_type)
    with sessions() as session:
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        session.execute(dialect.insert(IdentifierSerial).values(issuer=issuer, type_segment=segment, last_serial=0)
                        .on_conflict_do_nothing())
        last = session.scalar(update(IdentifierSerial)
                              .where(IdentifierSerial.issuer == issuer, IdentifierSerial.type_segment == segment)
                              .values(last_serial=IdentifierSerial.last_serial + count)
                              .returning(IdentifierSerial.last_serial))
        if last > MAX_SERIAL:
            session.rollback()
            raise Conflict(f"the identifier serials of {issuer}'s type {certificate_type} are used up "
                           f"({MAX_SERIAL} at most)")
        session.commit()
    return last - count + 1


class Issuance:
    def __init__(self, chain: Chain, custody: Custody, outbox: Outbox, sessions: sessionmaker, schemas: SchemaStore,
                 *, pseudonym_key: bytes, max_batch_size: int, context: list[str]) -> None:
        self.chain = chain
        self.custody = custody
        self.outbox = outbox
        self.sessions = sessions
        self.schemas = schemas
        self.pseudonym_key = pseudonym_key
        self.max_batch_size = max_batch_size
        self.context = context  # the `@context` of the documents it composes
        self._trees: OrderedDict[int, MerkleBatch] = OrderedDict()
        self._trees_lock = threading.Lock()
        catalog = chain.deployment.catalog.functions
        registry = self._functions_of
        outbox.builders.update({
            "issue": lambda op: registry(op).issue(_bytes(op.request["certificateHash"]), self._terms(op)),
            "batch": lambda op: registry(op).anchorBatch(_bytes(op.request["root"]), self._terms(op), op.total),
            "revoke": lambda op: registry(op).revoke(_bytes(op.request["certificateHash"]), _bytes(op.request["root"]),
                                                     [_bytes(p) for p in op.request["proof"]], op.request["reason"]),
            "supersede": lambda op: registry(op).supersede(
                _bytes(op.request["certificateHash"]), _bytes(op.request["root"]),
                [_bytes(p) for p in op.request["proof"]], _bytes(op.request["successor"]), op.request["validUntil"]),
            "snapshot": lambda op: catalog.anchorCatalogSnapshot(_bytes(op.request["contentHash"]), op.request["uri"]),
        })
        outbox.preparers["batch"] = self.compose_batch
        outbox.landed.update({"issue": lambda op: self._anchored_block(op, op.request["certificateHash"]),
                              "batch": lambda op: self._anchored_block(op, op.request["root"]),
                              "supersede": lambda op: self._anchored_block(op, op.request["successor"]),
                              "revoke": self._revoked_block})

    def _registry_of(self, operation: Operation) -> Contract:
        """The registry `operation` is sent to: the one named when it was accepted (the registry that
        anchored then; for a revocation, the one holding the certificate), the current one for an
        operation that names none (accepted before registries were named)."""
        named = operation.request.get("registry")
        deployment = self.chain.deployment
        return (deployment.registry_at(named) if named else None) or deployment.registry

    def _terms(self, operation: Operation) -> int:
        return self.chain.issuance_terms(operation.request["type"], operation.request["validUntil"])

    def _functions_of(self, operation: Operation) -> Any:
        return self._registry_of(operation).functions

    def _holding_registry(self, anchor_hash: bytes) -> str:
        """The address of the registry version that anchored `anchor_hash` (a certificate's or its batch
        root): one of the retired ones, or else the current one (which also answers for a hash nowhere
        anchored: its refusal says so). No hash is anchored in two versions: the registries refuse it."""
        deployment = self.chain.deployment
        retired = (registry for registry, _block in reversed(deployment.retired_registries))
        return next((registry.address for registry in retired if registry.functions.anchorOf(anchor_hash).call()[0]),
                    deployment.registry.address)

    def _anchored_block(self, operation: Operation, anchored_hash: str) -> int | None:
        """The block in which `operation`'s department anchored `anchored_hash`, if it did: a transaction
        of the operation sent before a rollback got there first. None when it is not anchored, or
        anchored by another department (someone copied a hash they saw before the rollback)."""
        anchor = self._functions_of(operation).anchorOf(_bytes(anchored_hash)).call()
        issuer_id, issued_block = anchor[0], anchor[4]
        department_id = self.chain.deployment.consortium.functions.departmentId(code32(operation.department)).call()
        return issued_block if issued_block and issuer_id == department_id else None

    def _revoked_block(self, operation: Operation) -> int | None:
        """The block in which `operation`'s department revoked its certificate, if it did."""
        revoked = self._registry_of(operation).events.CertificateRevoked().get_logs(
            from_block=self.chain.deployment.first_block,
            argument_filters={"certificateHash": _bytes(operation.request["certificateHash"]),
                              "issuer": code32(operation.department)})
        return revoked[0]["blockNumber"] if revoked else None

    # ----- requests -----

    def issue(self, caller: Caller, request: IssueRequest, idempotency_key: str | None) -> Operation:
        department, key = self._issuer(caller)
        digest = request_digest(request.model_dump(mode="json"))
        with self.sessions() as session:
            if found := self.outbox.existing(session, caller.department, idempotency_key, digest):
                return found
            certificate_type = catalog_type(self.chain.deployment, request.type, self.schemas)
            document = self._compose(request, certificate_type, department, valid_until=request.valid_until,
                                     identifier=lambda: self._new_identifier(department.code, request.type))
            call = {"certificateHash": document["proof"]["certificateHash"], "type": request.type,
                    "validUntil": valid_until(document), "registry": self.chain.domain.registry}
            operation = self.outbox.operation("issue", caller.department, key.address, idempotency_key, digest,
                                              call)
            return self.outbox.accept(session, operation, IssuedCertificate.of(document, position=0))

    def issue_batch(self, caller: Caller, request: BatchRequest, idempotency_key: str | None) -> Operation:
        """Checks every member now; composing, signing and anchoring happen in the background."""
        if len(request.certificates) > self.max_batch_size:
            raise InvalidInput(f"a batch holds at most {self.max_batch_size} certificates, "
                               f"not {len(request.certificates)}")
        department, key = self._issuer(caller)
        digest = request_digest(request.model_dump(mode="json"))
        with self.sessions() as session:
            if found := self.outbox.existing(session, caller.department, idempotency_key, digest):
                return found
            certificate_type = catalog_type(self.chain.deployment, request.type, self.schemas)
            check_issuer(department.code)  # its members' identifiers are allocated while they are composed
            members = self._checked_members(request.certificates, certificate_type)
            end = _seconds(request.valid_until)
            operation = self.outbox.operation("batch", caller.department, key.address, idempotency_key, digest,
                                              {"type": request.type, "version": certificate_type.version,
                                               "validUntil": end, "members": members,
                                               "registry": self.chain.domain.registry},
                                              state=OperationState.ACCEPTED, total=len(members))
            # The root is not known before the documents are composed: the dry run uses a stand-in.
            stand_in = {"type": request.type, "validUntil": end, "root": _hex(os.urandom(32)),
                        "registry": self.chain.domain.registry}
            operation.gas = self.outbox.dry_run("batch", key.address, stand_in, total=len(members))
            return self.outbox.accept(session, operation)

    def revoke(self, caller: Caller, hash_text: str, request: RevokeRequest, idempotency_key: str | None) -> Operation:
        certificate_hash = parse_hash(hash_text)
        if request.reason not in REVOKE_REASONS:
            raise InvalidInput(f"revocation reason {request.reason} is not one revoke takes; use one of "
                               f"{sorted(REVOKE_REASONS)} (a certificate is superseded through supersede)")
        _department, key = self._issuer(caller)
        key_text = idempotency_key or f"revoke:{_hex(certificate_hash)}"  # a repeated revocation is the same one
        digest = request_digest(request.model_dump(mode="json"))
        with self.sessions() as session:
            if found := self.outbox.existing(session, caller.department, key_text, digest,
                                             retry_failed=idempotency_key is None):
                return found
            root, proof, _old = self._location(certificate_hash, request.document)
            call = {"certificateHash": _hex(certificate_hash), "root": _hex(root), "proof": [_hex(p) for p in proof],
                    "reason": request.reason,
                    "registry": self._holding_registry(root if any(root) else certificate_hash)}
            return self.outbox.accept(session, self.outbox.operation("revoke", caller.department, key.address,
                                                                     key_text, digest, call))

    def supersede(self, caller: Caller, hash_text: str, request: SupersedeRequest,
                  idempotency_key: str | None) -> Operation:
        certificate_hash = parse_hash(hash_text)
        department, key = self._issuer(caller)
        key_text = idempotency_key or f"supersede:{_hex(certificate_hash)}"
        digest = request_digest(request.model_dump(mode="json"))
        with self.sessions() as session:
            if found := self.outbox.existing(session, caller.department, key_text, digest,
                                             retry_failed=idempotency_key is None):
                return found
            root, proof, old = self._location(certificate_hash, request.document)
            holding = self._holding_registry(root if any(root) else certificate_hash)
            if holding != self.chain.domain.registry:
                raise RegistryRetired(f"certificate {_hex(certificate_hash)} is anchored in the retired registry "
                                      f"{holding}, which anchors nothing since the upgrade to "
                                      f"{self.chain.domain.registry}: revoke it and issue its replacement",
                                      registry=holding, successor=self.chain.domain.registry)
            certificate_type = catalog_type(self.chain.deployment, type_code(old), self.schemas)
            successor = self._compose(request, certificate_type, department, valid_until=request.valid_until,
                                      identifier=lambda: self._successor_identifier(old, department.code))
            call = {"certificateHash": _hex(certificate_hash), "root": _hex(root), "proof": [_hex(p) for p in proof],
                    "successor": successor["proof"]["certificateHash"], "validUntil": valid_until(successor),
                    "registry": holding}
            operation = self.outbox.operation("supersede", caller.department, key.address, key_text, digest,
                                              call)
            try:
                return self.outbox.accept(session, operation, IssuedCertificate.of(successor, position=0))
            except IntegrityError:  # a concurrent request (another idempotency key) took the same next version
                raise Conflict(f"another successor of {_hex(certificate_hash)} was just issued as "
                               f"{successor[IDENTIFIER]}; retry to supersede that one") from None

    def publish_snapshot(self, caller: Caller, request: SnapshotRequest, idempotency_key: str | None) -> Operation:
        department = self.chain.require_active(caller.department)
        key = self.custody.key_for(department)
        digest = request_digest(request.model_dump(mode="json"))
        with self.sessions() as session:
            if found := self.outbox.existing(session, caller.department, idempotency_key, digest):
                return found
            call = {"contentHash": _hex(content_hash(request.catalog)), "uri": request.uri}
            return self.outbox.accept(session, self.outbox.operation("snapshot", caller.department, key.address,
                                                                     idempotency_key, digest, call))

    # ----- reading results -----

    def certificates_of(self, operation: Operation, offset: int = 0, limit: int = 1) -> list[dict[str, Any]]:
        """The operation's certificates, with their anchoring evidence once it is mined."""
        with self.sessions() as session:
            rows = session.scalars(select(IssuedCertificate).where(IssuedCertificate.operation_id == operation.id)
                                   .order_by(IssuedCertificate.position).offset(offset).limit(limit)).all()
        return [self.document_of(row, operation) for row in rows]

    def document_of(self, row: IssuedCertificate, operation: Operation) -> dict[str, Any]:
        """The certificate of `row`, with its anchoring evidence once its operation is mined."""
        if operation.state != OperationState.DONE.value:
            return row.document
        return self._evidenced(row, operation)

    def signed_document(self, certificate_hash: bytes) -> dict[str, Any] | None:
        """The document this gateway signed under `certificate_hash` (without its anchoring evidence), if any."""
        with self.sessions() as session:
            return session.scalar(select(IssuedCertificate.document)
                                  .where(IssuedCertificate.certificate_hash == _hex(certificate_hash)))

    def held_by(self, holder: str, certificate_types: Iterable[str], *, newest: int) -> list[dict[str, Any]]:
        """The anchored certificates this gateway issued to `holder` (a pseudonym), with their
        evidence: of each type given, in that order, its `newest` ones, newest first."""
        with self.sessions() as session:
            found = [row for certificate_type in dict.fromkeys(certificate_types) for row in session.execute(
                select(IssuedCertificate, Operation).join(Operation, Operation.id == IssuedCertificate.operation_id)
                .where(IssuedCertificate.holder == holder, IssuedCertificate.certificate_type == certificate_type,
                       Operation.state == OperationState.DONE.value)
                .order_by(IssuedCertificate.id.desc()).limit(newest))]
        return [self._evidenced(row, operation) for row, operation in found]

    def _evidenced(self, row: IssuedCertificate, operation: Operation) -> dict[str, Any]:
        root, proof = self._anchor_of(operation, _bytes(row.certificate_hash))
        # Anchored in the registry it was signed for (`_registry_of`): before an upgrade, the retired one.
        return with_evidence(row.document, signature_domain(row.document), operation.tx_hash or "",
                             operation.block_number or 0,
                             batch_root=root if operation.kind == "batch" else None, proof=proof)

    def location_if_issued(self, certificate_hash: bytes) -> tuple[bytes, list[bytes]]:
        """Batch root and proof when this gateway anchored the certificate; zero root and no proof otherwise."""
        found = self.issued(certificate_hash)
        if found is None or found[1].state != OperationState.DONE.value:
            return bytes(32), []
        return self._anchor_of(found[1], certificate_hash)

    def issued_as(self, identifier: CertificateIdentifier) -> tuple[IssuedCertificate, Operation] | None:
        """The row of the certificate this gateway signed with `identifier` and its operation, if any."""
        with self.sessions() as session:
            row = session.scalar(select(IssuedCertificate).where(IssuedCertificate.identifier == str(identifier)))
            return (row, session.get(Operation, row.operation_id)) if row else None

    def issued(self, certificate_hash: bytes) -> tuple[IssuedCertificate, Operation] | None:
        """The row of the certificate this gateway signed under `certificate_hash` and its operation, if any."""
        with self.sessions() as session:
            row = session.scalar(select(IssuedCertificate)
                                 .where(IssuedCertificate.certificate_hash == _hex(certificate_hash)))
            return (row, session.get(Operation, row.operation_id)) if row else None

    # ----- the preparer's work -----

    def compose_batch(self, operation: Operation, stop: threading.Event) -> None:
        """Composes and signs the batch's documents (resuming after a restart), then its Merkle root.
        Each chunk is committed; once `stop` is set it returns after the current chunk, the batch
        still `accepted`, so that a shutdown is prompt and the next start resumes."""
        request = operation.request
        department = self.chain.department(operation.department)
        key = self.custody.signing_key(department, self.chain.suite)
        certificate_type = CertificateType(request["type"], request["version"],
                                           self.schemas.get(self.chain.deployment.catalog.functions.schemaHash(
                                               code32(request["type"]), request["version"]).call()))
        issuer = IssuerRef(department.code, department.name)
        end = dt.datetime.fromtimestamp(request["validUntil"], dt.timezone.utc) if request["validUntil"] else None
        accepted = dt.datetime.fromtimestamp(operation.created_at, dt.timezone.utc)
        members = request["members"]
        with self.sessions() as session:
            done = session.scalar(select(func.count()).select_from(IssuedCertificate)
                                  .where(IssuedCertificate.operation_id == operation.id))
            for start in range(done, len(members), COMPOSE_CHUNK):
                if stop.is_set():
                    return
                chunk = range(start, min(start + COMPOSE_CHUNK, len(members)))
                first_serial = allocate_serials(self.sessions, department.code, request["type"], len(chunk))
                for position in chunk:
                    member = members[position]
                    start_at = dt.datetime.fromisoformat(member["validFrom"]) if member["validFrom"] else accepted
                    identifier = new_identifier(request["type"], department.code, first_serial + position - start)
                    document = sign(new_certificate(member["subject"], member["holder"], certificate_type, issuer,
                                                    valid_from=start_at, valid_until=end, context=self.context,
                                                    identifier=identifier, suite=self.chain.suite),
                                    key, SigningDomain(self.chain.chain_id, self._registry_of(operation).address))
                    session.add(IssuedCertificate.of(document, operation_id=operation.id, position=position))
                session.execute(update(Operation).where(Operation.id == operation.id)
                                .values(progress=chunk.stop))
                self.outbox.fence(session, operation)  # another process may compose it now
                session.commit()
            hashes = session.scalars(select(IssuedCertificate.certificate_hash)
                                     .where(IssuedCertificate.operation_id == operation.id)).all()
            root = _hex(MerkleBatch.build([_bytes(h) for h in hashes]).root)
            session.execute(update(IssuedCertificate).where(IssuedCertificate.operation_id == operation.id)
                            .values(batch_root=root))
            summary = {"type": request["type"], "version": request["version"], "validUntil": request["validUntil"],
                       "root": root, "registry": self._registry_of(operation).address}  # members: in their documents
            session.execute(update(Operation).where(Operation.id == operation.id)
                            .values(request=summary, state=OperationState.PREPARED.value, progress=len(members)))
            self.outbox.fence(session, operation)
            session.commit()

    # ----- helpers -----

    def _issuer(self, caller: Caller) -> tuple[Any, Any]:
        department = self.chain.require_active(caller.department, Role.ISSUER)
        return department, self.custody.key_for(department)

    def _compose(self, content: CertificateContent, certificate_type: CertificateType, department: Any, *,
                 valid_until: dt.datetime | None, identifier: Callable[[], CertificateIdentifier]) -> dict[str, Any]:
        """The signed document; `identifier` allocates its identifier once the holder and subject passed their
        checks, so that a refused request spends no serial on them."""
        holder = pseudonym(self.pseudonym_key, HolderId.parse(content.holder))
        check_subject({"id": holder, **content.subject}, certificate_type.schema)
        document = new_certificate(content.subject, holder, certificate_type,
                                   IssuerRef(department.code, department.name),
                                   valid_from=_aware(content.valid_from) or dt.datetime.now(dt.timezone.utc),
                                   valid_until=_aware(valid_until), context=self.context, identifier=identifier(),
                                   suite=self.chain.suite)
        return sign(document, self.custody.signing_key(department, self.chain.suite), self.chain.domain)

    def _new_identifier(self, department_code: str, certificate_type: str) -> CertificateIdentifier:
        check_issuer(department_code)  # before a serial is spent on it
        return new_identifier(certificate_type, department_code,
                              allocate_serials(self.sessions, department_code, certificate_type, 1))

    def _successor_identifier(self, old: dict[str, Any], department_code: str) -> CertificateIdentifier:
        """A superseding successor's identifier: its predecessor's serial one version past the newest this
        gateway issued of it; a new serial when the predecessor has no identifier (issued before they existed)
        or its versions are used up."""
        # `old` passed `check_shape` (a document given with the request) or is one this gateway signed
        previous = CertificateIdentifier.parse(old[IDENTIFIER]) if IDENTIFIER in old else None
        if previous is not None and previous.issuer == department_code:
            with self.sessions() as session:
                versions = session.scalars(select(IssuedCertificate.identifier).where(
                    IssuedCertificate.identifier.startswith(previous.versions_prefix))).all()
            newest = max([previous, *map(CertificateIdentifier.parse, versions)], key=lambda i: i.version)
            following = newest.next_version()
            if following is not None:
                return following
        return self._new_identifier(department_code, type_code(old))

    def _checked_members(self, members: list[CertificateContent],
                         certificate_type: CertificateType) -> list[dict[str, Any]]:
        """Every member's holder pseudonym and subject, or `InvalidInput` listing the first problems."""
        checked, problems = [], []
        for index, member in enumerate(members):
            try:
                if "id" in member.subject:
                    raise InvalidDocument("the subject's `id` is the holder's pseudonym; give `holder` instead")
                holder = pseudonym(self.pseudonym_key, HolderId.parse(member.holder))
                check_subject({"id": holder, **member.subject}, certificate_type.schema)
            except (InvalidHolderId, InvalidInput) as error:
                problems.append({"index": index, "code": error.code, "message": error.message})
                if len(problems) == MAX_LISTED_PROBLEMS:
                    break
                continue
            start = _aware(member.valid_from)
            checked.append({"holder": holder, "subject": member.subject,
                            "validFrom": start.isoformat() if start else None})
        if problems:
            raise InvalidInput(f"{len(problems)}{'+' if len(problems) == MAX_LISTED_PROBLEMS else ''} of "
                               f"{len(members)} certificates are invalid; nothing was accepted", problems=problems)
        return checked

    def _location(self, certificate_hash: bytes, document: dict[str, Any] | None) -> tuple[bytes, list[bytes], dict]:
        """Batch root (zero for a single), proof and document of an anchored certificate: from the
        gateway's own records, or from the anchored document the request carries."""
        found = self.issued(certificate_hash)
        if found is not None:
            row, operation = found
            if operation.state != OperationState.DONE.value:
                raise Conflict(f"certificate {_hex(certificate_hash)} is not anchored yet (operation {operation.id} "
                               f"is {operation.state})", operation=operation.id)
            return *self._anchor_of(operation, certificate_hash), row.document
        if document is None:
            raise NotFound(f"this gateway did not issue {_hex(certificate_hash)}; send its anchored document")
        check_shape(document)
        if stated_hash(document) != certificate_hash:
            raise InvalidDocument("the document given is not the certificate named in the path")
        root, proof = anchor_location(document)
        return root, proof, document

    def _anchor_of(self, operation: Operation, certificate_hash: bytes) -> tuple[bytes, list[bytes]]:
        """Batch root and proof of a certificate the mined `operation` anchored (zero root, no proof: alone)."""
        if operation.kind != "batch":
            return bytes(32), []
        tree = self._tree(operation)
        return tree.root, tree.proof(certificate_hash)

    def _tree(self, operation: Operation) -> MerkleBatch:
        """The batch's Merkle tree, rebuilt from its members (the last few are kept)."""
        with self._trees_lock:
            if operation.id in self._trees:
                self._trees.move_to_end(operation.id)
                return self._trees[operation.id]
        with self.sessions() as session:
            hashes = session.scalars(select(IssuedCertificate.certificate_hash)
                                     .where(IssuedCertificate.operation_id == operation.id)).all()
        tree = MerkleBatch.build([_bytes(h) for h in hashes])
        with self._trees_lock:
            self._trees[operation.id] = tree
            while len(self._trees) > 4:
                self._trees.popitem(last=False)
        return tree


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    return moment.replace(tzinfo=moment.tzinfo or dt.timezone.utc) if moment else None


def _seconds(moment: dt.datetime | None) -> int:
    return int(_aware(moment).timestamp()) if moment else 0

