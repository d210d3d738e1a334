"""Liveness with the chain's reachability, the index lag and the access log's anchoring, and
Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.api.deps import Services
from gateway.api.metrics import Metrics
from gateway.chain import CONNECTION_ERRORS

router = APIRouter()


@router.get("/healthz", summary="Chain reachable, index lag, outbox backlog, last access log checkpoint")
def healthz(gateway: Services, response: Response) -> dict[str, Any]:
    try:
        head = gateway.chain.w3.eth.block_number
        checkpoints = gateway.audit.checkpoint_status(gateway.settings.checkpoint_interval_seconds)
    except CONNECTION_ERRORS:
        head, checkpoints = None, None
    indexed = gateway.index.indexed_block()
    response.status_code = 200 if head is not None else 503
    return {
        "status": "ok" if head is not None else "chain_unreachable",
        "chain": {"reachable": head is not None, "chainId": gateway.chain.chain_id, "head": head},
        "index": {"block": indexed, "lag": max(0, head - indexed) if head is not None else None,
                  "confirmations": gateway.settings.confirmations},
        "outbox": {"pending": gateway.outbox.pending_count()},
        "checkpoints": checkpoints,
    }


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(gateway: Services, request: Request) -> Response:
    collected: Metrics = request.app.state.metrics
    collected.refresh(gateway)
    return Response(generate_latest(collected.registry), media_type=CONTENT_TYPE_LATEST)
