"""Prometheus metrics of the gateway: requests by route template and status, latency per route
template, outbox depth per state, index lag, the access log's checkpoint age, and which background
duties this process leads; and the access line of each request (`gateway.logs`)."""

from __future__ import annotations

import datetime as dt
import math
import time
from collections import Counter as Tally
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.chain import CONNECTION_ERRORS, OUTAGES
from gateway.logs import log_request
from gateway.db import OPEN_STATES
from gateway.errors import StorageUnavailable
from gateway.service import Gateway

#: The route label of a request no route matched (a 404, or the guard's 413 before routing): the
#: raw path would make a label per path, and paths may carry hashes.
UNMATCHED = "unmatched"


@dataclass(frozen=True)
class Observation:
    """What /readyz and /metrics report, read once: None where the chain or the database did not answer."""

    head: int | None
    indexed_block: int | None
    outbox: dict[str, int] | None  # operations not yet final, per state
    checkpoints: dict[str, Any] | None  # `AuditTrail.checkpoint_status`

    @property
    def index_lag(self) -> int | None:
        return None if self.head is None or self.indexed_block is None else max(0, self.head - self.indexed_block)


def observe(gateway: Gateway) -> Observation:
    try:
        head: int | None = gateway.chain.w3.eth.block_number
    except CONNECTION_ERRORS:
        head = None
    try:
        depth = Tally({state.value: 0 for state in OPEN_STATES})
        for account in gateway.outbox.backlog():
            depth.update(account.states)
        outbox: dict[str, int] | None = dict(depth)
        indexed: int | None = gateway.index.indexed_block()
    except StorageUnavailable:
        outbox, indexed = None, None
    checkpoints = None
    if head is not None and outbox is not None:
        try:
            checkpoints = gateway.audit.checkpoint_status(gateway.settings.checkpoint_interval_seconds)
        except OUTAGES:
            pass  # either went away since: the next reading tells
    return Observation(head=head, indexed_block=indexed, outbox=outbox, checkpoints=checkpoints)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("certnet_http_requests", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("certnet_http_request_seconds", "HTTP request latency per route template",
                                 ["route"], registry=self.registry)
        self.outbox_pending = Gauge("certnet_outbox_pending", "Operations accepted and not yet final",
                                    registry=self.registry)
        self.outbox_depth = Gauge("certnet_outbox_operations", "Operations not yet final, per state",
                                  ["state"], registry=self.registry)
        self.index_lag = Gauge("certnet_index_lag_blocks", "Blocks between the chain head and the index",
                               registry=self.registry)
        self.chain_up = Gauge("certnet_chain_reachable", "1 when the chain answers", registry=self.registry)
        self.database_up = Gauge("certnet_database_reachable", "1 when the gateway's database answers",
                                 registry=self.registry)
        self.checkpoint_age = Gauge("certnet_checkpoint_age_seconds",
                                    "Seconds since the access log's newest checkpoint was anchored (chain time); "
                                    "NaN before the first", registry=self.registry)
        self.unanchored = Gauge("certnet_access_log_unanchored_entries",
                                "Access log entries no checkpoint on chain covers yet", registry=self.registry)
        self.leader = Gauge("certnet_leader", "1 while this process holds the lease of a background duty",
                            ["duty"], registry=self.registry)

    def refresh(self, gateway: Gateway) -> None:
        seen = observe(gateway)
        self.chain_up.set(seen.head is not None)
        self.database_up.set(seen.outbox is not None)
        if seen.outbox is not None:
            for state, count in seen.outbox.items():
                self.outbox_depth.labels(state).set(count)
            self.outbox_pending.set(sum(seen.outbox.values()))
        if seen.index_lag is not None:
            self.index_lag.set(seen.index_lag)
        if seen.checkpoints is not None:
            anchored_at = seen.checkpoints["lastAnchoredAt"]
            self.checkpoint_age.set(time.time() - dt.datetime.fromisoformat(anchored_at).timestamp()
                                    if anchored_at else math.nan)
            self.unanchored.set(seen.checkpoints["logSize"] - seen.checkpoints["anchoredSize"])
        for duty in gateway.leases.duties:  # 1: this process does it now; 0: another process does
            self.leader.labels(duty).set(1 if gateway.leases.holds(duty) else 0)

    def install(self, app: FastAPI) -> None:
        app.add_middleware(MeasureRequests, metrics=self)


class MeasureRequests:
    """ASGI layer counting requests by route template and status, timing them and writing each one's
    access line (plain ASGI: Starlette's `BaseHTTPMiddleware` would add a task and a stream per request).
    The line is written before the response's last part is sent: a client that has its answer finds the
    line in the log."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless the app answers
        recorded = False

        def record() -> None:
            nonlocal recorded
            recorded = True
            seconds = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", UNMATCHED)  # set by the router that matched
            self.metrics.requests.labels(scope["method"], route, str(status)).inc()
            self.metrics.latency.labels(route).observe(seconds)
            log_request(method=scope["method"], route=route, status=status, seconds=seconds,
                        request_id=scope.get("state", {}).get("request_id"))  # the guard's, inside this layer

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                record()
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            if not recorded:  # no complete answer: the app failed, or the client went away
                record()
