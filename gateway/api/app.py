"""The FastAPI application: routers, the one error mapping, metrics, the OpenAPI with its
credentials and error responses, and the gateway's lifetime."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline

from gateway.api import (audit, certificates, contexts, deps, directory, errors, gbt36906, health, log_privacy,
                         sharing)
from gateway.api.metrics import Metrics
from gateway.service import Gateway
from gateway import web
from gateway.settings import Settings

ROUTERS = (certificates, sharing, gbt36906, directory, audit, health, contexts)
DESCRIPTION = """Departments anchor electronic certificates, anyone verifies them, auditors trace them.

Authenticate as a department with a signature of one of its registered keys (headers
`X-CertNet-Timestamp`, `X-CertNet-Nonce`, `X-CertNet-Signature`) or, in development, with
`Authorization: Bearer <token>` from `certnet gateway token`. Errors are
`{"code", "message", "details"}`; every response carries `X-Request-Id`.

Limits: request bodies of at most 1 MiB by default (`POST /v1/batches` and `/v1/verify/batch`: 128 MiB), else 413; JSON
objects in bodies (subjects, documents, catalogs, consent records) at most 20 levels deep, strings
at most 4096 characters, keys at most 128, integers within ±(2^53 - 1)."""


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

    # Swagger UI's script and style come from the fastapi-offline package, served by the gateway
    # itself: /docs works on a network without internet.
    app = FastAPIOffline(title="CertNet gateway", version="1", description=DESCRIPTION, lifespan=lifespan,
                         redoc_url=None)
    app.state.gateway = gateway
    app.state.metrics = Metrics()
    errors.install(app)
    app.add_middleware(errors.RequestGuard, max_body_bytes=gateway.settings.max_request_bytes,
                       larger_bodies={path: gateway.settings.max_batch_request_bytes
                                      for path in ("/v1/batches", "/v1/verify/batch")})
    app.state.metrics.install(app)  # outside the guard: it counts the guard's 413s and 500s too
    for module in ROUTERS:
        app.include_router(module.router)
    web.install(app)  # the web pages, on the same port
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def app_from_environment() -> FastAPI:
    """The app of one uvicorn worker process (`certnet gateway serve --workers N`): a gateway of its own,
    from the settings in the environment (CERTNET_DATA_DIR and the rest), sharing the database."""
    return create_app(Gateway(Settings.load()))


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's OpenAPI plus what it cannot infer: the credentials each operation takes and the
    error responses (in the one error shape) it can give."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {})
        components["securitySchemes"] = deps.SECURITY_SCHEMES
        schemas = components.setdefault("schemas", {})
        schemas.pop("HTTPValidationError", None)  # 422 answers in the error shape, not FastAPI's
        schemas.pop("ValidationError", None)
        schemas["ErrorBody"] = errors.ErrorBody.model_json_schema()
        for route in (r for module in ROUTERS for r in module.router.routes):
            if not isinstance(route, APIRoute) or not route.include_in_schema or not route.path.startswith("/v1/"):
                continue  # /healthz and /metrics answer in their own formats, not the error shape
            access = deps.access_of(route)
            for method in route.methods:
                operation = schema["paths"][route.path_format][method.lower()]
                if access != "public":
                    operation["security"] = deps.security_of(access)
                statuses = errors.error_statuses(method=method, has_body=route.body_field is not None,
                                                 has_path_parameters=bool(route.dependant.path_params),
                                                 access=access)
                operation["responses"].update({str(s): errors.error_response(s) for s in statuses
                                               if s not in route.responses})  # what a route declares wins
        app.openapi_schema = schema
    return app.openapi_schema
