"""Liveness with the chain's reachability, the index lag and the access log's anchoring, and
Prometheus metrics."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import Field
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.api.deps import Services
from gateway.api.metrics import Metrics
from gateway.api.views import View
from gateway.chain import CONNECTION_ERRORS

router = APIRouter()


class ChainHealth(View):
    reachable: bool
    chain_id: int
    head: int | None = Field(description="The chain's newest block; null when it does not answer")


class IndexHealth(View):
    block: int = Field(description="The newest block the event index has read")
    lag: int | None = Field(description="Blocks the index is behind the head; null when the chain does not answer")
    confirmations: int


class OutboxHealth(View):
    pending: int = Field(description="Operations accepted and not yet final")


class CheckpointHealth(View):
    last_anchored_at: str | None = Field(description="Chain time of the newest checkpoint of the access log")
    anchored_size: int
    log_size: int
    interval_seconds: float
    overdue: bool | None = Field(description="An entry waited more than two intervals without a checkpoint; "
                                             "null when checkpoints are made on demand only")


class Health(View):
    status: Literal["ok", "chain_unreachable"]
    chain: ChainHealth
    index: IndexHealth
    outbox: OutboxHealth
    checkpoints: CheckpointHealth | None = Field(description="Null when the chain does not answer")


@router.get("/healthz", summary="Chain reachable, index lag, outbox backlog, last access log checkpoint",
            response_model=Health, responses={503: {"model": Health, "description": "The chain does not answer"}})
def healthz(gateway: Services, response: Response) -> Health:
    try:
        head = gateway.chain.w3.eth.block_number
        checkpoints = CheckpointHealth(**gateway.audit.checkpoint_status(gateway.settings.checkpoint_interval_seconds))
    except CONNECTION_ERRORS:
        head, checkpoints = None, None
    indexed = gateway.index.indexed_block()
    response.status_code = 200 if head is not None else 503
    return Health(
        status="ok" if head is not None else "chain_unreachable",
        chain=ChainHealth(reachable=head is not None, chain_id=gateway.chain.chain_id, head=head),
        index=IndexHealth(block=indexed, lag=max(0, head - indexed) if head is not None else None,
                          confirmations=gateway.settings.confirmations),
        outbox=OutboxHealth(pending=gateway.outbox.pending_count()),
        checkpoints=checkpoints,
    )


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(gateway: Services, request: Request) -> Response:
    collected: Metrics = request.app.state.metrics
    collected.refresh(gateway)
    return Response(generate_latest(collected.registry), media_type=CONTENT_TYPE_LATEST)
