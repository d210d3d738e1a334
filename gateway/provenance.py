"""Provenance and audit queries, answered from the event index (never by scanning the chain)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select, text, tuple_, union_all
from sqlalchemy.orm import Session, sessionmaker

from gateway.audit.access_log import entry_view
from gateway.certificates.document import to_datetime_text
from gateway.chain_state import NO_BATCH
from gateway.db import IN_BLOCK_STATES, AccessedCertificate, AccessLogEntry, ChainEvent, IssuedCertificate, Operation
from gateway.errors import InvalidInput, NotFound
from gateway.indexer import EventIndex
from ledger_node.artifacts import load_artifact
from ledger_node.compiler import DEPLOYABLE

#: Friendly action names for `GET /v1/audit/events?action=`; an event's own name works too.
ACTIONS = {
    "issued": ("CertificateIssued", "BatchAnchored"),
    "revoked": ("CertificateRevoked",),
    "superseded": ("CertificateSuperseded",),
    "catalog": ("TypeRegistered", "TypeVersionPublished", "TypeStatusChanged", "IssuerAuthorisationChanged",
                "RelyingDepartmentChanged", "ServiceItemUseChanged", "ServiceItemRegistered", "ServiceItemHandlerChanged",
                "TypeOwnershipTransferred", "ServiceItemOwnershipTransferred", "CatalogSnapshotAnchored"),
    "membership": ("DepartmentAdmitted", "DepartmentRolesChanged", "DepartmentStatusChanged", "KeyAdded",
                   "KeyRemoved", "QuorumChanged"),
    "governance": ("ProposalCreated", "ProposalApproved", "ProposalExecuted", "ProposalCancelled"),
    "checkpoint": ("LogOperatorAssigned", "CheckpointAppended"),
    "upgrade": ("RegistryRetired", "RegistryTookOver"),
}
MAX_PAGE = 1_000
DEFAULT_PAGE = 100
#: The contracts' event names, which `action=` takes too.
EVENT_NAMES = tuple(sorted({entry["name"] for contract in DEPLOYABLE for entry in load_artifact(contract)["abi"]
                           if entry["type"] == "event"}))
#: Every value `action=` takes, so that an unknown one is refused (422) and the OpenAPI lists them.
EventAction = StrEnum("EventAction", {name: name for name in (*ACTIONS, *EVENT_NAMES)})  # type: ignore[misc]


def event_view(row: ChainEvent) -> dict[str, Any]:
    return {
        "event": row.event,
        "contract": row.contract,
        "department": row.department,
        "certificateType": row.certificate_type,
        "blockNumber": row.block_number,
        "blockHash": row.block_hash,
        "time": to_datetime_text(dt.datetime.fromtimestamp(row.timestamp, dt.timezone.utc)),
        "transactionHash": row.tx_hash,
        "args": row.args,
    }


#: How long a query waits, at most, for the index to read the blocks of the caller's own mined
#: operations (read-your-writes: a history right after the department's issuance shows it).
CATCH_UP_SECONDS = 5.0
#: How many of a certificate's newest accesses its history carries; the rest are a page away.
LATEST_ACCESSES = 20
#: What tells a page cursor of each list apart: one list's cursor is refused by the other.
CURSOR_KINDS = {"events": 2, "accesses": 1}  # how many integers each carries
#: The sort key (block number, log index) before every event.
FIRST_EVENT = (-1, -1)


@dataclass(frozen=True)
class Page:
    """One page of a list, in the list's order, and the cursor of the next page (None at the end)."""

    items: list[dict[str, Any]]
    next: str | None


@dataclass(frozen=True)
class History:
    """A certificate's provenance, bounded however often it was read: the first page of its
    events, and how many accesses the log has of it with the newest of them."""

    events: Page
    access_count: int
    latest_accesses: Page


def encode_cursor(kind: str, *keys: int) -> str:
    """An opaque page cursor: the list it belongs to and the sort key of the last item returned."""
    return base64.urlsafe_b64encode(":".join((kind, *map(str, keys))).encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str) -> tuple[int, ...]:
    """The sort key in a cursor `encode_cursor(kind, ...)` made; `InvalidInput` for anything else."""
    try:
        name, *keys = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii").split(":")
    except (binascii.Error, ValueError):
        keys, name = [], ""
    if name != kind or len(keys) != CURSOR_KINDS[kind] or not all(k.isdigit() and len(k) <= 18 for k in keys):
        raise InvalidInput(f"cursor is not one of this list's: pass the `next` of the previous {kind} page")
    return tuple(int(k) for k in keys)


def _checked_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be 1 to {MAX_PAGE}")


class Provenance:
    def __init__(self, sessions: sessionmaker, index: EventIndex) -> None:
        self.sessions = sessions
        self.index = index

    def awaited_block(self, department: str | None) -> int | None:
        """The newest block holding one of `department`'s operations (anonymous callers have none):
        what its queries wait for the index to have read. Other departments' operations, pending
        or mined, do not make it wait."""
        if department is None:
            return None
        with self.sessions() as session:
            return session.scalar(select(Operation.block_number)
                                  .where(Operation.department == department,
                                         Operation.state.in_(IN_BLOCK_STATES))
                                  .order_by(Operation.block_number.desc()).limit(1))

    def _caught_up(self, department: str | None) -> None:
        block = self.awaited_block(department)
        if block is not None:
            self.index.wait_for(block, CATCH_UP_SECONDS)

    def history(self, department: str, certificate_hash: str) -> History:
        """The first page of the certificate's events (`certificate_events`), the number of access-log
        entries naming it and the newest LATEST_ACCESSES of them (`certificate_accesses`)."""
        events = self.certificate_events(department, certificate_hash, limit=DEFAULT_PAGE)
        with self.sessions() as session:  # one read: the count and the newest agree
            count = session.scalar(select(func.count()).select_from(AccessedCertificate)
                                   .where(AccessedCertificate.certificate_hash == certificate_hash))
            latest = self._accesses(session, certificate_hash, None, LATEST_ACCESSES)
        return History(events, count, latest)

    def certificate_events(self, department: str, certificate_hash: str, *, cursor: str | None = None,
                           limit: int = DEFAULT_PAGE) -> Page:
        """A page of the indexed events about the certificate, oldest first (chain order): its
        anchoring (alone or in its batch, when the gateway knows the batch), revocation and
        supersession either way. `NotFound` when none is indexed."""
        _checked_limit(limit)
        after = decode_cursor("events", cursor) if cursor else FIRST_EVENT
        self._caught_up(department)
        with self.sessions() as session:
            rows = self._events_about(session, certificate_hash, after, limit + 1)
            known = bool(rows) or (cursor is not None and bool(self._events_about(session, certificate_hash,
                                                                                  FIRST_EVENT, 1)))
        if not known:
            raise NotFound(f"no event about {certificate_hash} is indexed (unknown, or not yet confirmed)")
        page = rows[:limit]
        return Page([event_view(row) for row in page],
                    encode_cursor("events", page[-1].block_number, page[-1].log_index)
                    if len(rows) > limit else None)

    def certificate_accesses(self, department: str, certificate_hash: str, *, cursor: str | None = None,
                             limit: int = DEFAULT_PAGE) -> Page:
        """A page of the access-log entries naming the certificate, newest first: accesses made
        while a reader pages (its own reads among them) are newer than its cursor, so the pages
        hold every access made before the first page exactly once. `NotFound`, as `certificate_events`,
        when no event about the certificate is indexed."""
        _checked_limit(limit)
        before = decode_cursor("accesses", cursor)[0] if cursor else None
        self.certificate_events(department, certificate_hash, limit=1)
        with self.sessions() as session:
            return self._accesses(session, certificate_hash, before, limit)

    @staticmethod
    def _events_about(session: Session, certificate_hash: str, after: tuple[int, int],
                      limit: int) -> list[ChainEvent]:
        """One query per way an event can be about the certificate, each read along its index in
        chain order, merged by the database without sorting (SQLite: `MERGE (UNION ALL)`). No event
        is about it two ways: a successor is never its own predecessor, and the batch's anchoring is
        asked for apart only when the root is not the certificate's own hash (a batch of one).
        The registry keeps revocations and successors per anchor (one hash can also be anchored by
        another department, in a batch of its own or alone): for a certificate the gateway issued,
        only the events of its own anchoring are about it — its revocation naming its batch root
        (zero: alone), its supersession in that revocation's transaction, and when it is a single
        certificate its issuance and its being a successor."""
        issued = session.execute(select(IssuedCertificate.batch_root)
                                 .where(IssuedCertificate.certificate_hash == certificate_hash)).first()
        batch_root = issued.batch_root if issued else None
        if issued is None:  # not issued here: every event naming the hash
            about = [ChainEvent.subject == certificate_hash,
                     (ChainEvent.related == certificate_hash) & (ChainEvent.event == "CertificateSuperseded")]
        else:
            root = batch_root if batch_root and batch_root != certificate_hash else NO_BATCH
            revoked = (ChainEvent.subject == certificate_hash) & (ChainEvent.event == "CertificateRevoked") \
                & (ChainEvent.related == root)
            about = [revoked, (ChainEvent.subject == certificate_hash) & (ChainEvent.event == "CertificateSuperseded")
                     & ChainEvent.tx_hash.in_(select(ChainEvent.tx_hash).where(revoked))]
            if root == NO_BATCH:
                about += [(ChainEvent.subject == certificate_hash) & (ChainEvent.event == "CertificateIssued"),
                          (ChainEvent.related == certificate_hash) & (ChainEvent.event == "CertificateSuperseded")]
        if batch_root and batch_root != certificate_hash:
            about.append((ChainEvent.subject == batch_root) & (ChainEvent.event == "BatchAnchored"))
        later = tuple_(ChainEvent.block_number, ChainEvent.log_index) > tuple_(*after)
        ordered = union_all(*(select(ChainEvent).where(way, later) for way in about)) \
            .order_by(text("block_number"), text("log_index")).limit(limit)
        return list(session.scalars(select(ChainEvent).from_statement(ordered)))

    @staticmethod
    def _accesses(session: Session, certificate_hash: str, before: int | None, limit: int) -> Page:
        query = select(AccessLogEntry) \
            .join(AccessedCertificate, AccessedCertificate.position == AccessLogEntry.position) \
            .where(AccessedCertificate.certificate_hash == certificate_hash)
        if before is not None:
            query = query.where(AccessedCertificate.position < before)
        rows = session.scalars(query.order_by(AccessedCertificate.position.desc()).limit(limit + 1)).all()
        page = rows[:limit]
        return Page([entry_view(row) for row in page],
                    encode_cursor("accesses", page[-1].position) if len(rows) > limit else None)

    def service_item_handlers(self) -> dict[str, list[str]]:
        """Per service item, the departments its owner added as handlers (and has not removed); a
        public read, so it waits for no department's operations."""
        handlers: dict[str, dict[str, None]] = {}
        with self.sessions() as session:
            for row in session.scalars(select(ChainEvent).where(ChainEvent.event == "ServiceItemHandlerChanged")
                                       .order_by(ChainEvent.block_number, ChainEvent.log_index)):
                added = handlers.setdefault(row.subject or "", {})
                if row.args["allowed"]:
                    added[row.department or ""] = None
                else:
                    added.pop(row.department or "", None)
        return {item: list(added) for item, added in handlers.items()}

    def events(self, caller: str | None, *, department: str | None = None, certificate_type: str | None = None,
               action: str | None = None, since: dt.datetime | None = None, until: dt.datetime | None = None,
               cursor: str | None = None, limit: int = 100) -> dict[str, Any]:
        """A page of events matching every filter given, in chain order, and the cursor of the next
        page; `caller`: the asking department (its operations are waited for), None for the public."""
        _checked_limit(limit)
        query = select(ChainEvent)
        if department:
            query = query.where(ChainEvent.department == department)
        if certificate_type:
            query = query.where(ChainEvent.certificate_type == certificate_type)
        if action:
            query = query.where(ChainEvent.event.in_(ACTIONS.get(action, (action,))))
        if since:
            query = query.where(ChainEvent.timestamp >= int(since.timestamp()))
        if until:
            query = query.where(ChainEvent.timestamp < int(until.timestamp()))
        if cursor:
            if not cursor.isdigit():
                raise InvalidInput("cursor is the `next` value of the previous page")
            query = query.where(ChainEvent.id > int(cursor))
        self._caught_up(caller)
        with self.sessions() as session:
            rows = session.scalars(query.order_by(ChainEvent.id).limit(limit + 1)).all()
        page = rows[:limit]
        return {"events": [event_view(row) for row in page],
                "next": str(page[-1].id) if len(rows) > limit else None}
