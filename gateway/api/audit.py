"""The auditors' view: contract events from the index, filtered and paginated."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Query

from gateway.api.deps import Auditor, Services
from gateway.provenance import ACTIONS, MAX_PAGE

router = APIRouter(prefix="/v1/audit")


@router.get("/events", summary="Indexed contract events for auditors, oldest first, with a cursor")
def events(_caller: Auditor, gateway: Services,
           department: str | None = Query(None, description="Department code the event is about or made by"),
           type: str | None = Query(None, description="Certificate type code"),
           action: str | None = Query(None, description=f"One of {', '.join(ACTIONS)}, or an event name"),
           since: dt.datetime | None = Query(None, description="Block time from (inclusive)"),
           until: dt.datetime | None = Query(None, description="Block time until (exclusive)"),
           cursor: str | None = Query(None, description="`next` of the previous page"),
           limit: int = Query(100, ge=1, le=MAX_PAGE)) -> dict[str, Any]:
    return gateway.provenance.events(department=department, certificate_type=type, action=action, since=since,
                                     until=until, cursor=cursor, limit=limit)
