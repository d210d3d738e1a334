"""Certificates: issue (single and batch), revoke, supersede, verify, status, history, operations."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any, Callable, Literal, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Response
from pydantic import MISSING

from gateway.api.deps import (CertificateHashPath, IdempotencyKey, IdentifierPath, Issuer, Member, Offset,
                              OperationIdPath, PageCursor, PageLimit, Services, issuing, optional_caller)
from gateway.api.views import (AccessSummary, BatchView, CertificateAccessesPage, CertificateEventsPage,
                               CertificateStatusView, ChainEventView, CheckedAtView, HistoryView, IssuedView,
                               OperationView, VerificationBatchReport, VerificationReport, View)
from gateway.certificates.identifier import CertificateIdentifier
from gateway.certificates.identity import HolderId
from gateway.certificates.verification import Lookup
from gateway.db import Operation, OperationState
from gateway.errors import ChainUnavailable, Forbidden, NotFound, OperationFailed
from gateway.issuance import Issuance, parse_hash
from gateway.models import (MAX_VERIFY_BATCH, BatchRequest, IssueRequest, RevokeRequest, SupersedeRequest,
                            VerifyBatchRequest, VerifyRequest)
from gateway.provenance import DEFAULT_PAGE
from gateway.auth import Caller
from ledger_node.chainstate import code_text
from ledger_node.types import CertificateStatus

router = APIRouter(prefix="/v1")

ZERO_ADDRESS = "0x" + "00" * 20
T = TypeVar("T")


def pending(view: type[View]) -> dict[int | str, dict[str, Any]]:
    """What `settled` answers, in `view`, when the transaction is not mined within the wait."""
    return {202: {"model": view, "description": "Accepted, not mined yet: poll `Location` (`/v1/operations/{id}`)"}}


async def settled(gateway: Services, operation: Operation, response: Response, *, created: int = 200) -> Operation:
    """Waits (a bounded time, holding no thread) for the operation: its row when done; 202 while
    pending; the failure."""
    operation = await gateway.outbox.settled(operation.id, gateway.settings.issue_wait_seconds)
    if operation.state == OperationState.FAILED.value:
        raise OperationFailed(f"operation {operation.id} failed on the chain: {operation.error_message}",
                              operation=operation.id, reason=operation.error_code)
    response.status_code = created if operation.state == OperationState.DONE.value else 202
    response.headers["Location"] = f"/v1/operations/{operation.id}"
    return operation


def _with_certificate(issuance: Issuance, operation: Operation) -> IssuedView:
    certificates = issuance.certificates_of(operation)
    return IssuedView(operation=OperationView.of(operation), certificate=certificates[0] if certificates else MISSING)


def _own(caller: Caller, operation: Operation | None, operation_id: int) -> Operation:
    if operation is None:
        raise NotFound(f"no operation {operation_id}")
    if operation.department != caller.department:
        raise Forbidden("this operation belongs to another department")
    return operation


@router.post("/certificates", status_code=201, summary="Issue one certificate (signed and anchored)",
             responses=pending(IssuedView))
async def issue(body: IssueRequest, caller: Issuer, gateway: Services, response: Response,
                idempotency_key: IdempotencyKey = None) -> IssuedView:
    operation = await issuing(gateway.issuance.issue, caller, body, idempotency_key)
    operation = await settled(gateway, operation, response, created=201)
    return await issuing(_with_certificate, gateway.issuance, operation)


@router.post("/batches", status_code=202, summary="Issue up to 100 000 certificates as one Merkle batch")
def issue_batch(body: BatchRequest, caller: Issuer, gateway: Services, response: Response,
                idempotency_key: IdempotencyKey = None) -> OperationView:
    operation = gateway.issuance.issue_batch(caller, body, idempotency_key)
    response.headers["Location"] = f"/v1/batches/{operation.id}"
    return OperationView.of(operation)


@router.get("/batches/{batch_id}", summary="A batch's progress; when anchored, its certificates with proofs")
def batch(batch_id: OperationIdPath, caller: Member, gateway: Services, offset: Offset = 0,
          limit: int = Query(1_000, ge=1, le=10_000)) -> BatchView:
    with gateway.sessions() as session:
        operation = _own(caller, session.get(Operation, batch_id), batch_id)
    if operation.kind != "batch":
        raise NotFound(f"operation {batch_id} is not a batch")
    view = BatchView.of(operation)
    if operation.state == OperationState.DONE.value:
        view.batch_root = operation.request["root"]
        view.certificates = gateway.issuance.certificates_of(operation, offset, limit)
        view.next = offset + limit if offset + limit < operation.total else None
    return view


@router.get("/operations/{operation_id}", summary="Any operation of the caller's department")
def operation(operation_id: OperationIdPath, caller: Member, gateway: Services) -> IssuedView | OperationView:
    with gateway.sessions() as session:
        found = _own(caller, session.get(Operation, operation_id), operation_id)
    return _with_certificate(gateway.issuance, found) if found.kind in ("issue", "supersede") \
        else OperationView.of(found)


@router.get("/certificates/by-identifier/{identifier}",
            summary="A certificate the caller issued, by its national identifier (证照标识), with its evidence")
def by_identifier(identifier: IdentifierPath, caller: Member, gateway: Services) -> IssuedView:
    """For the department the identifier names (others: 403, whether or not it exists); 404 when this
    gateway issued no certificate under it; 422 for a malformed identifier or a wrong check character."""
    parsed = CertificateIdentifier.parse(identifier)
    if parsed.issuer != caller.department:
        raise Forbidden("only the department a certificate identifier names may read its certificate")
    found = gateway.issuance.issued_as(parsed)
    if found is None:
        raise NotFound(f"this gateway issued no certificate {identifier}")
    row, operation = found
    return IssuedView(operation=OperationView.of(operation),
                      certificate=gateway.issuance.certificates_of(operation, row.position)[0])


@router.post("/certificates/{certificate_hash}/revoke", summary="Revoke a certificate the caller issued",
             responses=pending(OperationView))
async def revoke(certificate_hash: CertificateHashPath, body: RevokeRequest, caller: Issuer, gateway: Services,
                 response: Response, idempotency_key: IdempotencyKey = None) -> OperationView:
    found = await issuing(gateway.issuance.revoke, caller, certificate_hash, body, idempotency_key)
    return OperationView.of(await settled(gateway, found, response))


@router.post("/certificates/{certificate_hash}/supersede", status_code=201,
             summary="Replace a certificate the caller issued by a corrected or renewed one", responses=pending(IssuedView))
async def supersede(certificate_hash: CertificateHashPath, body: SupersedeRequest, caller: Issuer, gateway: Services,
                    response: Response, idempotency_key: IdempotencyKey = None) -> IssuedView:
    found = await issuing(gateway.issuance.supersede, caller, certificate_hash, body, idempotency_key)
    operation = await settled(gateway, found, response, created=201)
    return await issuing(_with_certificate, gateway.issuance, operation)


FreshRead = Annotated[bool, Query(description="Read the chain's head for this request instead of the gateway's "
                                             "event index (which answers at the block it has read: `checkedAt`)")]


@router.post("/verify", summary="Verify a certificate document (public; a department's verification is logged)")
def verify(body: VerifyRequest, gateway: Services, caller: Caller | None = Depends(optional_caller),
           fresh: FreshRead = False) -> VerificationReport:
    holder = HolderId.parse(body.holder) if body.holder else None
    report = VerificationReport.model_validate(gateway.verifier.verify(body.document, holder=holder,
                                                                       fresh=fresh).as_dict())
    if caller is not None:  # a document too broken to name its hash is logged as a verification of none
        gateway.audit.record(caller.department, "verify", certificates=[report.certificate_hash]
                             if report.certificate_hash else [], outcome=report.verdict)
    return report


@router.post("/verify/batch", summary=f"Verify up to {MAX_VERIFY_BATCH} documents (public; a department's "
                                      "verifications are logged as one entry)")
def verify_batch(body: VerifyBatchRequest, gateway: Services, caller: Caller | None = Depends(optional_caller),
                 fresh: FreshRead = False) -> VerificationBatchReport:
    reports = [report.as_dict() for report in gateway.verifier.verify_batch(body.documents, fresh=fresh)]
    if caller is not None:
        verdicts = Counter(report["verdict"] for report in reports)
        gateway.audit.record(caller.department, "verify", certificates=sorted(
            {report["certificateHash"] for report in reports if report["certificateHash"]}),
            outcome=", ".join(f"{count} {verdict}" for verdict, count in sorted(verdicts.items())))
    return VerificationBatchReport.model_validate({"reports": reports})


@router.get("/certificates/{certificate_hash}", summary="A certificate's status on the chain (public)")
def status(certificate_hash: CertificateHashPath, gateway: Services, fresh: FreshRead = False) -> CertificateStatusView:
    hash_bytes = parse_hash(certificate_hash)
    root, proof = gateway.issuance.location_if_issued(hash_bytes)
    answer = gateway.verifier.facts([Lookup(hash_bytes, root, tuple(proof), ZERO_ADDRESS)], fresh=fresh)[0]
    if isinstance(answer, str):
        raise ChainUnavailable(answer)
    facts, checked_at = answer
    if facts.status is CertificateStatus.UNKNOWN:
        raise NotFound(f"{certificate_hash} is not anchored (a batch member needs the gateway that issued it, "
                       "or POST /v1/verify with the document)")
    return CertificateStatusView(
        certificate_hash="0x" + hash_bytes.hex(),
        status=facts.status.name.lower(),  # type: ignore[arg-type]  # any but UNKNOWN, refused above
        issuer=code_text(facts.issuer),
        certificate_type=code_text(facts.certificate_type),
        type_version=facts.type_version,
        issued_at=facts.issued_at,
        issued_block=facts.issued_block,
        valid_until=facts.valid_until or None,
        batch_root="0x" + facts.batch_root.hex() if any(facts.batch_root) else None,
        revoked_at=facts.revoked_at or None,
        revocation_reason=facts.revocation_reason if facts.revoked_at else None,
        superseded_by="0x" + facts.superseded_by.hex() if any(facts.superseded_by) else None,
        checked_at=CheckedAtView.model_validate(checked_at.as_dict()),
    )


def _read_history(caller: Caller, gateway: Services, certificate_hash: str,
                  read: Callable[[str], T]) -> tuple[str, T]:
    """`read` of the certificate's provenance, logged as one `history` access whatever part or page
    it reads: a cursor is the client's to make, so a page cannot be told from a first read, and
    every read of who accessed a certificate is itself an access."""
    hash_text = "0x" + parse_hash(certificate_hash).hex()
    try:
        result = read(hash_text)
    except NotFound:
        gateway.audit.record(caller.department, "history", certificates=[hash_text], outcome="not_found")
        raise
    gateway.audit.record(caller.department, "history", certificates=[hash_text], outcome="read")
    return hash_text, result


def _page_url(certificate_hash: str, part: str, cursor: str | None, limit: int) -> str | None:
    return f"/v1/certificates/{certificate_hash}/history/{part}?{urlencode({'cursor': cursor, 'limit': limit})}" \
        if cursor else None


@router.get("/certificates/{certificate_hash}/history",
            summary="Provenance: the first page of its on-chain events and a summary of its accesses")
def history(certificate_hash: CertificateHashPath, caller: Member, gateway: Services) -> HistoryView:
    hash_text, provenance = _read_history(caller, gateway, certificate_hash,
                                          lambda hash_text: gateway.provenance.history(caller.department, hash_text))
    return HistoryView(
        certificate_hash=hash_text, events=[ChainEventView.model_validate(e) for e in provenance.events.items],
        events_next=provenance.events.next,
        events_next_url=_page_url(hash_text, "events", provenance.events.next, DEFAULT_PAGE),
        accesses=AccessSummary(count=provenance.access_count, latest=provenance.latest_accesses.items,
                               next=provenance.latest_accesses.next,
                               next_url=_page_url(hash_text, "accesses", provenance.latest_accesses.next,
                                                  DEFAULT_PAGE)))


def _history_page(caller: Caller, gateway: Services, certificate_hash: str, part: Literal["events", "accesses"],
                  cursor: str | None, limit: int) -> dict[str, Any]:
    """One page of the certificate's events or accesses (`part`), read as `_read_history` says."""
    read = {"events": gateway.provenance.certificate_events, "accesses": gateway.provenance.certificate_accesses}[part]
    hash_text, page = _read_history(caller, gateway, certificate_hash,
                                    lambda hash_text: read(caller.department, hash_text, cursor=cursor, limit=limit))
    return {"certificateHash": hash_text, part: page.items, "next": page.next,
            "nextUrl": _page_url(hash_text, part, page.next, limit)}


@router.get("/certificates/{certificate_hash}/history/events",
            summary="Provenance: the on-chain events about it, oldest first, with a cursor")
def history_events(certificate_hash: CertificateHashPath, caller: Member, gateway: Services,
                   cursor: PageCursor = None, limit: PageLimit = DEFAULT_PAGE) -> CertificateEventsPage:
    return CertificateEventsPage.model_validate(_history_page(caller, gateway, certificate_hash, "events", cursor,
                                                              limit))


@router.get("/certificates/{certificate_hash}/history/accesses",
            summary="Provenance: the access-log entries naming it, newest first, with a cursor")
def history_accesses(certificate_hash: CertificateHashPath, caller: Member, gateway: Services,
                     cursor: PageCursor = None, limit: PageLimit = DEFAULT_PAGE) -> CertificateAccessesPage:
    return CertificateAccessesPage.model_validate(_history_page(caller, gateway, certificate_hash, "accesses",
                                                                cursor, limit))
