"""Liveness (`/healthz`: the process answers), readiness (`/readyz`: chain and database reachable,
the event index close to the head, with the outbox backlog and the access log's anchoring), and
Prometheus metrics. A load balancer sends requests only to gateways whose /readyz answers 200; a
service manager restarts one whose /healthz does not answer."""

from __future__ import annotations

import time
from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import Field
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.api.deps import Services
from gateway.api.metrics import Metrics, observe
from gateway.api.views import View

router = APIRouter()

NotReady = Literal["chain_unreachable", "database_unreachable", "index_lagging"]


class Liveness(View):
    status: Literal["ok"]
    uptime_seconds: float = Field(description="Since the gateway's services were made in this process")


class ChainHealth(View):
    reachable: bool
    chain_id: int
    head: int | None = Field(description="The chain's newest block; null when it does not answer")


class DatabaseHealth(View):
    reachable: bool


class IndexHealth(View):
    block: int | None = Field(description="The newest block the event index has read; null when the database "
                                          "does not answer")
    lag: int | None = Field(description="Blocks the index is behind the head; null when the chain or the "
                                        "database does not answer")
    confirmations: int
    max_lag: int = Field(description="Blocks beyond `confirmations` the index may lag while ready "
                                     "(CERTNET_READY_MAX_INDEX_LAG)")


class OutboxHealth(View):
    pending: int | None = Field(description="Operations accepted and not yet final; null when the database "
                                            "does not answer")


class CheckpointHealth(View):
    last_anchored_at: str | None = Field(description="Chain time of the newest checkpoint of the access log")
    anchored_size: int
    log_size: int
    interval_seconds: float
    overdue: bool | None = Field(description="An entry waited more than two intervals without a checkpoint; "
                                             "null when checkpoints are made on demand only")


class Readiness(View):
    status: Literal["ready", "not_ready"]
    reasons: list[NotReady] = Field(description="Why the gateway is not ready; empty when it is")
    chain: ChainHealth
    database: DatabaseHealth
    index: IndexHealth
    outbox: OutboxHealth
    checkpoints: CheckpointHealth | None = Field(description="Null when the chain or the database does not answer")


@router.get("/healthz", summary="Liveness: the process answers (no chain or database call)", response_model=Liveness)
def healthz(gateway: Services) -> Liveness:
    return Liveness(status="ok", uptime_seconds=round(time.time() - gateway.started_at, 3))


@router.get("/readyz", summary="Readiness: chain and database reachable, index lag under the limit; index, outbox "
                               "backlog and last access log checkpoint", response_model=Readiness,
            responses={503: {"model": Readiness, "description": "Not ready: `reasons` says why"}})
def readyz(gateway: Services, response: Response) -> Readiness:
    seen, settings = observe(gateway), gateway.settings
    reasons: list[NotReady] = []
    if seen.head is None:
        reasons.append("chain_unreachable")
    if seen.outbox is None:
        reasons.append("database_unreachable")
    if seen.index_lag is not None and seen.index_lag > settings.confirmations + settings.ready_max_index_lag:
        reasons.append("index_lagging")
    response.status_code = 503 if reasons else 200
    return Readiness(
        status="not_ready" if reasons else "ready", reasons=reasons,
        chain=ChainHealth(reachable=seen.head is not None, chain_id=gateway.chain.chain_id, head=seen.head),
        database=DatabaseHealth(reachable=seen.outbox is not None),
        index=IndexHealth(block=seen.indexed_block, lag=seen.index_lag, confirmations=settings.confirmations,
                          max_lag=settings.ready_max_index_lag),
        outbox=OutboxHealth(pending=None if seen.outbox is None else sum(seen.outbox.values())),
        checkpoints=CheckpointHealth(**seen.checkpoints) if seen.checkpoints is not None else None,
    )


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(gateway: Services, request: Request) -> Response:
    collected: Metrics = request.app.state.metrics
    collected.refresh(gateway)
    return Response(generate_latest(collected.registry), media_type=CONTENT_TYPE_LATEST)
