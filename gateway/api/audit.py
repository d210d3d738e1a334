"""The auditors' view: contract events from the index, and the access log with its proofs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from gateway.api.views import (CheckpointsView, ConsistencyProof, EventsPage, InclusionProof, LogEntriesPage,
                               OperationView, UpToDate)
from gateway.api.deps import Auditor, Cursor, DepartmentFilter, PositionPath, Services, TypeFilter, issuing
from gateway.audit.access_log import Action
from gateway.models import MAX_ID, Moment
from gateway.provenance import ACTIONS, MAX_PAGE, EventAction

router = APIRouter(prefix="/v1/audit")



@router.get("/events", summary="Indexed contract events for auditors, oldest first, with a cursor")
def events(caller: Auditor, gateway: Services,
           department: DepartmentFilter, type: TypeFilter,
           action: EventAction | None = Query(None, description=f"One of {', '.join(ACTIONS)}, or an event name"),
           since: Moment | None = Query(None, description="Block time from (inclusive)"),
           until: Moment | None = Query(None, description="Block time until (exclusive)"),
           cursor: Cursor = None, limit: int = Query(100, ge=1, le=MAX_PAGE)) -> EventsPage:
    action_name = action.value if action else None
    page = gateway.provenance.events(caller.department, department=department, certificate_type=type,
                                     action=action_name, since=since, until=until, cursor=cursor, limit=limit)
    # Cursors are not logged: any number is one, an ID number too.
    gateway.audit.record(caller.department, "audit_query", query={"events": {
        "department": department, "type": type, "action": action_name}}, outcome="read")
    return EventsPage.model_validate(page)


@router.get("/log/entries", summary="The access log, oldest first, with a cursor")
def log_entries(caller: Auditor, gateway: Services,
                department: DepartmentFilter,
                action: Action | None = Query(None, description="What the entries record"),
                since: Moment | None = Query(None), until: Moment | None = Query(None),
                after: int = Query(-1, ge=-1, le=MAX_ID, description="`next` of the previous page"),
                limit: int = Query(100, ge=1, le=MAX_PAGE)) -> LogEntriesPage:
    page = gateway.audit.entries(department=department, action=action, since=since, until=until, after=after,
                                 limit=limit)
    gateway.audit.record(caller.department, "audit_query", query={"log": {"department": department,
                                                                          "action": action}}, outcome="read")
    return LogEntriesPage.model_validate(page)


@router.get("/log/checkpoints", summary="The access log's checkpoints anchored on chain")
def log_checkpoints(_caller: Auditor, gateway: Services) -> CheckpointsView:
    return CheckpointsView.model_validate({"checkpoints": gateway.audit.checkpoints()})


@router.post("/log/checkpoints", status_code=202, summary="Anchor the access log's tree head now",
             responses={200: {"model": UpToDate, "description": "Nothing new to anchor"}})
async def anchor_checkpoint(_caller: Auditor, gateway: Services, response: Response) -> UpToDate | OperationView:
    operation = await issuing(gateway.audit.request_checkpoint)
    if operation is None:
        response.status_code = 200
        return UpToDate(up_to_date=True)
    return OperationView.of(await gateway.outbox.settled(operation.id, gateway.settings.issue_wait_seconds))


@router.get("/log/entries/{position}/inclusion", summary="Inclusion proof of an entry in the tree of treeSize")
def inclusion(position: PositionPath, caller: Auditor, gateway: Services,
              tree_size: Annotated[int, Query(alias="treeSize", ge=1, le=MAX_ID)]) -> InclusionProof:
    proof = gateway.audit.inclusion(position, tree_size)  # it carries the entry: a read of the log
    gateway.audit.record(caller.department, "audit_query", query={"inclusion": {"position": position,
                                                                              "treeSize": tree_size}},
                         outcome="read")
    return InclusionProof.model_validate(proof)


@router.get("/log/consistency", summary="Consistency proof between two tree sizes (e.g. two checkpoints)")
def consistency(_caller: Auditor, gateway: Services, old_size: Annotated[int, Query(alias="from", ge=1, le=MAX_ID)],
                new_size: Annotated[int, Query(alias="to", ge=1, le=MAX_ID)]) -> ConsistencyProof:
    return ConsistencyProof.model_validate(gateway.audit.consistency(old_size, new_size))
