"""Prometheus metrics of the gateway: requests by route and status, latency, outbox and index."""

from __future__ import annotations

import time

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
        app.add_middleware(MeasureRequests, metrics=self)


class MeasureRequests:
    """ASGI layer counting requests by route and status and timing them (plain ASGI: Starlette's
    `BaseHTTPMiddleware` would add a task and a stream per request)."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless the app answers

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")  # set by the router that matched
            self.metrics.requests.labels(scope["method"], path, str(status)).inc()
            self.metrics.latency.labels(path).observe(time.perf_counter() - started)
