"""Prometheus metrics of the gateway: requests by route and status, latency, outbox and index."""

from __future__ import annotations

import time
from typing import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from gateway.chain import CONNECTION_ERRORS
from gateway.service import Gateway


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("certnet_http_requests", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("certnet_http_request_seconds", "HTTP request latency", ["route"],
                                 registry=self.registry)
        self.outbox_pending = Gauge("certnet_outbox_pending", "Operations accepted and not yet final",
                                    registry=self.registry)
        self.index_lag = Gauge("certnet_index_lag_blocks", "Blocks between the chain head and the index",
                               registry=self.registry)
        self.chain_up = Gauge("certnet_chain_reachable", "1 when the chain answers", registry=self.registry)

    def refresh(self, gateway: Gateway) -> None:
        self.outbox_pending.set(gateway.outbox.pending_count())
        try:
            head = gateway.chain.w3.eth.block_number
            self.chain_up.set(1)
            self.index_lag.set(max(0, head - gateway.index.indexed_block()))
        except CONNECTION_ERRORS:
            self.chain_up.set(0)

    def install(self, app: FastAPI) -> None:
        @app.middleware("http")
        async def measure(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
            started = time.perf_counter()
            response = await call_next(request)
            route = request.scope.get("route")
            path = getattr(route, "path", "unmatched")
            self.requests.labels(request.method, path, str(response.status_code)).inc()
            self.latency.labels(path).observe(time.perf_counter() - started)
            return response
