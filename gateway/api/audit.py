"""The auditors' view: contract events from the index, and the access log with its proofs."""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from gateway.api.certificates import operation_view
from gateway.api.deps import Auditor, Services
from gateway.audit.access_log import Action
from gateway.provenance import ACTIONS, MAX_PAGE

router = APIRouter(prefix="/v1/audit")


#: Event filters: the friendly actions and every event's own name.
EventAction = Enum("EventAction", {name: name for name in sorted({*ACTIONS, *(e for names in ACTIONS.values()
                                                                                 for e in names)})}, type=str)
#: A department or type code as the chain keys it (printable ASCII, at most 32 bytes).
CODE = "^[!-~]{1,32}$"
#: Positions and tree sizes are 64-bit in the database.
MAX_POSITION = 2**63 - 1


@router.get("/events", summary="Indexed contract events for auditors, oldest first, with a cursor")
def events(caller: Auditor, gateway: Services,
           department: str | None = Query(None, pattern=CODE, description="Code of a department in the consortium "
                                                                          "the event is about or made by"),
           type: str | None = Query(None, pattern=CODE, description="Code of a certificate type in the catalog"),
           action: EventAction | None = Query(None, description=f"One of {', '.join(ACTIONS)}, or an event name"),
           since: dt.datetime | None = Query(None, description="Block time from (inclusive)"),
           until: dt.datetime | None = Query(None, description="Block time until (exclusive)"),
           cursor: str | None = Query(None, description="`next` of the previous page"),
           limit: int = Query(100, ge=1, le=MAX_PAGE)) -> dict[str, Any]:
    gateway.audit.check_filters(department=department, certificate_type=type)
    page = gateway.provenance.events(department=department, certificate_type=type,
                                     action=action.value if action else None, since=since, until=until,
                                     cursor=cursor, limit=limit)
    gateway.audit.record(caller.department, "audit_query", query={"events": {
        "department": department, "type": type, "action": action.value if action else None}}, outcome="read")
    return page


@router.get("/log/entries", summary="The access log, oldest first, with a cursor")
def log_entries(caller: Auditor, gateway: Services,
                department: str | None = Query(None, pattern=CODE, description="Code of a department in the "
                                                                               "consortium"),
                action: Action | None = Query(None, description="What the entries record"),
                since: dt.datetime | None = Query(None), until: dt.datetime | None = Query(None),
                after: int = Query(-1, ge=-1, le=MAX_POSITION, description="`next` of the previous page"),
                limit: int = Query(100, ge=1, le=MAX_PAGE)) -> dict[str, Any]:
    gateway.audit.check_filters(department=department)
    page = gateway.audit.entries(department=department, action=action, since=since, until=until, after=after,
                                 limit=limit)
    gateway.audit.record(caller.department, "audit_query", query={"log": {"department": department,
                                                                          "action": action}}, outcome="read")
    return page


@router.get("/log/checkpoints", summary="The access log's checkpoints anchored on chain")
def log_checkpoints(_caller: Auditor, gateway: Services) -> dict[str, Any]:
    return {"checkpoints": gateway.audit.checkpoints()}


@router.post("/log/checkpoints", status_code=202, summary="Anchor the access log's tree head now")
def anchor_checkpoint(_caller: Auditor, gateway: Services, response: Response) -> dict[str, Any]:
    operation = gateway.audit.request_checkpoint()
    if operation is None:
        response.status_code = 200
        return {"upToDate": True}
    return operation_view(gateway.outbox.wait(operation.id, gateway.settings.issue_wait_seconds))


@router.get("/log/entries/{position}/inclusion", summary="Inclusion proof of an entry in the tree of treeSize")
def inclusion(position: Annotated[int, Path(ge=0, le=MAX_POSITION)], caller: Auditor, gateway: Services,
              tree_size: int = Query(..., alias="treeSize", ge=1, le=MAX_POSITION)) -> dict[str, Any]:
    proof = gateway.audit.inclusion(position, tree_size)  # it carries the entry: a read of the log
    gateway.audit.record(caller.department, "audit_query", query={"inclusion": {"position": position,
                                                                              "treeSize": tree_size}},
                         outcome="read")
    return proof


@router.get("/log/consistency", summary="Consistency proof between two tree sizes (e.g. two checkpoints)")
def consistency(_caller: Auditor, gateway: Services,
                old_size: int = Query(..., alias="from", ge=1, le=MAX_POSITION),
                new_size: int = Query(..., alias="to", ge=1, le=MAX_POSITION)) -> dict[str, Any]:
    return gateway.audit.consistency(old_size, new_size)
