"""Response bodies of the HTTP API (pydantic): what every route answers, as the OpenAPI documents it.

They are the HTTP layer's own, beside the routers that build them from the services' rows and
results; request bodies are in `gateway.models`, since the services take those as arguments.
Fields are camelCase in JSON. A field typed `| MISSING` is left out of the body where it does not
apply (it is never null for that). Free JSON — certificate documents, access-log entries, event
arguments, consent records — stays `dict[str, Any]`: its shape is the document's, not the API's.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import MISSING, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from gateway.db import Operation, OperationState
from gateway.provenance import LATEST_ACCESSES

#: Free JSON: a certificate document, an access-log entry, a signed record.
Document = dict[str, Any]


class View(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


# ----- operations and certificates -----

class OperationProgress(View):
    composed: int = Field(description="Certificates composed and signed so far")
    total: int


class OperationError(View):
    code: str | None
    message: str | None


class OperationEvent(View):
    """Something that happened to an operation beyond the happy path (`gateway.outbox`)."""

    at: float = Field(description="Unix time")
    event: Literal["signed", "mined", "rolled_back", "unknown_to_node", "nonce_gap", "nonce_taken",
                   "already_anchored", "replaced", "replaced_one_mined"]
    details: dict[str, str | int | list[str] | None] = Field(
        description="Nonces, transaction and block hashes, block numbers, fees (wei); `replaced`: the transactions "
                    "sent before with the same nonce")


class OperationView(View):
    """An accepted write and where it is: accepted → prepared → signed → sent → mined → done | failed."""

    id: int
    kind: Literal["issue", "batch", "revoke", "supersede", "snapshot", "checkpoint"]
    department: str
    state: OperationState
    transaction_hash: str | None
    block_number: int | None
    progress: OperationProgress | MISSING = Field(MISSING, description="Batches only")
    error: OperationError | MISSING = Field(MISSING, description="Failed operations only")
    history: list[OperationEvent] = Field(description="Rollbacks, transactions sent again or signed again; "
                                                      "empty on the happy path")

    @classmethod
    def of(cls, operation: Operation) -> Self:
        return cls(id=operation.id, kind=operation.kind, department=operation.department,  # type: ignore[arg-type]
                   state=OperationState(operation.state), transaction_hash=operation.tx_hash,
                   block_number=operation.block_number,
                   progress=OperationProgress(composed=operation.progress, total=operation.total)
                   if operation.kind == "batch" else MISSING,
                   error=OperationError(code=operation.error_code, message=operation.error_message)
                   if operation.state == OperationState.FAILED.value else MISSING,
                   history=[OperationEvent(at=event["at"], event=event["event"],
                                           details={k: v for k, v in event.items() if k not in ("at", "event")})
                            for event in operation.history or []])


class BatchView(OperationView):
    batch_root: str | MISSING = Field(MISSING, description="Once the batch is anchored")
    certificates: list[Document] | MISSING = Field(MISSING, description="Once anchored: this page of the batch's "
                                                                          "certificates, with their evidence")
    next: int | None | MISSING = Field(MISSING, description="Once anchored: `offset` of the next page; null at the end")


class IssuedView(View):
    operation: OperationView
    certificate: Document | MISSING = Field(MISSING, description="The signed document; with its anchoring evidence "
                                                                   "once the operation is done")


class CheckView(View):
    name: str
    outcome: Literal["valid", "invalid", "error", "skipped"]
    reason: str
    details: dict[str, Any] | MISSING = MISSING


class CheckedAtView(View):
    block: int
    block_hash: str
    time: str
    source: Literal["index", "chain"] = Field(description="`index`: the gateway's event index at the block it had "
                                                          "read; `chain`: the chain's head, read for this request")


class VerificationReport(View):
    certificate_hash: str | None = Field(description="Null when the document is too broken to name one")
    certificate_identifier: str | MISSING = Field(MISSING, description="The document's national identifier "
                                                  "(证照标识), well-formed; absent when it has none or is unreadable")
    verdict: Literal["valid", "invalid", "error", "incomplete"]
    checks: list[CheckView]
    checked_at: CheckedAtView | MISSING = Field(MISSING, description="The chain state the chain checks were made "
                                                "against; absent when the chain was not read")


class VerificationBatchReport(View):
    reports: list[VerificationReport] = Field(description="One report per document, in the order sent")


class CertificateStatusView(View):
    certificate_hash: str
    status: Literal["valid", "expired", "revoked", "superseded"]
    issuer: str
    certificate_type: str
    type_version: int
    issued_at: int = Field(description="Chain time, Unix seconds")
    issued_block: int
    valid_until: int | None
    batch_root: str | None
    revoked_at: int | None
    revocation_reason: int | None
    superseded_by: str | None
    checked_at: CheckedAtView


class ChainEventView(View):
    event: str
    contract: str
    department: str | None
    certificate_type: str | None
    block_number: int
    block_hash: str
    time: str
    transaction_hash: str
    args: dict[str, Any] = Field(description="The event's arguments as decoded from its log")


class CertificateEventsPage(View):
    certificate_hash: str
    events: list[ChainEventView] = Field(description="Events about the certificate, oldest first (chain order)")
    next: str | None = Field(description="`cursor` of the next page; null at the end")
    next_url: str | None = Field(description="The next page's URL; null at the end")


class CertificateAccessesPage(View):
    certificate_hash: str
    accesses: list[Document] = Field(description="Access-log entries naming the certificate, newest first, with "
                                                 "their leafHash")
    next: str | None = Field(description="`cursor` of the next (older) page; null at the end")
    next_url: str | None = Field(description="The next page's URL; null at the end")


class AccessSummary(View):
    count: int = Field(description="Access-log entries naming the certificate, before this read")
    latest: list[Document] = Field(description=f"The newest {LATEST_ACCESSES} of them, newest first, with their "
                                               "leafHash")
    next: str | None = Field(description="`cursor` of `/history/accesses` for the older ones; null when none")
    next_url: str | None = Field(description="That page's URL; null when none")


class HistoryView(View):
    """A certificate's provenance, bounded however often it is read: the first page of its events and a
    summary of its accesses; the full lists are `/history/events` and `/history/accesses`."""

    certificate_hash: str
    events: list[ChainEventView] = Field(description="The first page of its events, oldest first")
    events_next: str | None = Field(description="`cursor` of `/history/events` for the next page; null at the end")
    events_next_url: str | None = Field(description="That page's URL; null at the end")
    accesses: AccessSummary


# ----- sharing -----

class HolderKeyView(View):
    key_id: str
    holder: str
    registered_by: str
    registered_at: str
    revoked_at: str | None


class ConsentView(View):
    id: str
    state: Literal["withdrawn", "expired", "pending", "active"]
    holder: str
    grantee: str
    service_item: str
    certificate_types: list[str]
    not_before: str | int | float = Field(description="As the signed record states it")
    not_after: str | int | float = Field(description="As the signed record states it")
    key_id: str
    withdrawn_at: str | None



class SignedConsentView(ConsentView):
    record: Document = Field(description="The consent record the holder signed")
    signature: str
    withdrawal: Document | None = Field(description="The signed withdrawal record, if withdrawn")


class WithheldCertificate(View):
    certificate_hash: str | None
    check: str = Field(description="The first check it failed")
    reason: str


class SharedCertificates(View):
    service_item: str
    holder: str
    consent: str
    certificate_types: list[str]
    certificates: list[Document] = Field(description="Valid certificates, with their evidence")
    withheld: list[WithheldCertificate] = Field(description="The holder's certificates that are not valid now")


# ----- audit -----

class EventsPage(View):
    events: list[ChainEventView]
    next: str | None = Field(description="`cursor` of the next page; null at the end")


class LogEntriesPage(View):
    entries: list[Document] = Field(description="Each entry's hashed content (position, recordedAt, department, "
                                                "action, …) and its leafHash")
    next: int | None = Field(description="`after` of the next page; null at the end")


class CheckpointView(View):
    index: int
    tree_size: int
    root: str
    anchored_at: int = Field(description="Chain time, Unix seconds")
    anchored_block: int


class CheckpointsView(View):
    checkpoints: list[CheckpointView]


class UpToDate(View):
    up_to_date: Literal[True]


class InclusionProof(View):
    position: int
    tree_size: int
    entry: Document | None
    leaf_hash: str
    root: str
    proof: list[str] = Field(description="RFC 6962 audit path")


class ConsistencyProof(View):
    old_size: int
    new_size: int
    old_root: str
    new_root: str
    proof: list[str] = Field(description="RFC 6962 consistency proof")


# ----- directory -----

class DepartmentView(View):
    code: str
    name: str
    status: str
    roles: list[str]
    keys: list[str]


class DepartmentsView(View):
    departments: list[DepartmentView]


class CatalogTypeView(View):
    code: str
    name: str | None  # as registered (its TypeRegistered event); null until the gateway's index has read it
    owner: str
    version: int
    status: str
    registered_at: int
    schema_hash: str


class CatalogTypesView(View):
    types: list[CatalogTypeView]


class ServiceItemView(View):
    code: str
    name: str | MISSING = Field(MISSING, description="In listings (read from the item's registration event)")
    owner: str
    handlers: list[str] = Field(description="The owner first, then the departments it added")
    required_types: list[str]


class ServiceItemsPage(View):
    service_items: list[ServiceItemView]
    next: str | None = Field(description="`cursor` of the next page; null at the end")


class SnapshotView(View):
    version: int
    content_hash: str
    anchored_at: int
    anchored_block: int
    uri: str


class SnapshotsView(View):
    department: str
    snapshots: list[SnapshotView]
