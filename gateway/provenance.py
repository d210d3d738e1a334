"""Provenance and audit queries, answered from the event index (never by scanning the chain)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, Callable

from sqlalchemy import or_, select
from sqlalchemy.orm import sessionmaker

from gateway.audit.access_log import entry_view
from gateway.certificates.document import to_datetime_text
from gateway.db import AccessedCertificate, AccessLogEntry, ChainEvent, IssuedCertificate
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
                "CatalogSnapshotAnchored"),
    "membership": ("DepartmentAdmitted", "DepartmentRolesChanged", "DepartmentStatusChanged", "KeyAdded",
                   "KeyRemoved", "QuorumChanged"),
    "governance": ("ProposalCreated", "ProposalApproved", "ProposalExecuted"),
    "checkpoint": ("CheckpointAppended",),
}
MAX_PAGE = 1_000
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


#: How long a query waits, at most, for the index to read the blocks of this gateway's own mined
#: transactions (read-your-writes: a history right after an issuance shows it).
CATCH_UP_SECONDS = 5.0


class Provenance:
    def __init__(self, sessions: sessionmaker, index: EventIndex, mined_block: Callable[[], int]) -> None:
        self.sessions = sessions
        self.index = index
        self.mined_block = mined_block

    def _caught_up(self) -> None:
        self.index.wait_for(self.mined_block(), CATCH_UP_SECONDS)

    def history(self, certificate_hash: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Every indexed event about the certificate, oldest first: its anchoring (alone or in its
        batch, when the gateway knows the batch), revocation and supersession either way; and every
        access to it recorded in the access log."""
        self._caught_up()
        with self.sessions() as session:
            batch_root = session.scalar(select(IssuedCertificate.batch_root)
                                        .where(IssuedCertificate.certificate_hash == certificate_hash))
            about = [ChainEvent.subject == certificate_hash,
                     (ChainEvent.related == certificate_hash) & (ChainEvent.event == "CertificateSuperseded")]
            if batch_root:
                about.append((ChainEvent.subject == batch_root) & (ChainEvent.event == "BatchAnchored"))
            rows = session.scalars(select(ChainEvent).where(or_(*about))
                                   .order_by(ChainEvent.block_number, ChainEvent.log_index)).all()
            accesses = session.scalars(select(AccessLogEntry).join(
                AccessedCertificate, AccessedCertificate.position == AccessLogEntry.position)
                .where(AccessedCertificate.certificate_hash == certificate_hash)
                .order_by(AccessLogEntry.position)).all()
        if not rows:
            raise NotFound(f"no event about {certificate_hash} is indexed (unknown, or not yet confirmed)")
        return [event_view(row) for row in rows], [entry_view(a) for a in accesses]

    def service_item_handlers(self) -> dict[str, list[str]]:
        """Per service item, the departments its owner added as handlers (and has not removed)."""
        self._caught_up()
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

    def events(self, *, department: str | None = None, certificate_type: str | None = None,
               action: str | None = None, since: dt.datetime | None = None, until: dt.datetime | None = None,
               cursor: str | None = None, limit: int = 100) -> dict[str, Any]:
        """A page of events matching every filter given, in chain order, and the cursor of the next page."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be 1 to {MAX_PAGE}")
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
        self._caught_up()
        with self.sessions() as session:
            rows = session.scalars(query.order_by(ChainEvent.id).limit(limit + 1)).all()
        page = rows[:limit]
        return {"events": [event_view(row) for row in page],
                "next": str(page[-1].id) if len(rows) > limit else None}
