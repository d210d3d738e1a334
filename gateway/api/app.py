"""The FastAPI application: routers, the one error mapping, metrics, and the gateway's lifetime."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

from fastapi import FastAPI

from gateway.api import audit, certificates, directory, errors, health, log_privacy, sharing
from gateway.api.metrics import Metrics
from gateway.service import Gateway

DESCRIPTION = """Departments anchor electronic certificates, anyone verifies them, auditors trace them.

Authenticate as a department with a signature of one of its registered keys (headers
`X-CertNet-Timestamp`, `X-CertNet-Nonce`, `X-CertNet-Signature`) or, in development, with
`Authorization: Bearer <token>` from `certnet gateway token`. Errors are
`{"code", "message", "details"}`."""


def create_app(gateway: Gateway, *, run_background: bool = True) -> FastAPI:
    """The app serving `gateway`; with `run_background`, its outbox and index threads run while it serves."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        log_privacy.install()  # uvicorn has configured logging by now
        if run_background:
            gateway.start()
        try:
            yield
        finally:
            gateway.stop()

    app = FastAPI(title="CertNet gateway", version="1", description=DESCRIPTION, lifespan=lifespan)
    app.state.gateway = gateway
    app.state.metrics = Metrics()
    app.state.metrics.install(app)
    errors.install(app)
    for module in (certificates, sharing, directory, audit, health):
        app.include_router(module.router)
    return app
