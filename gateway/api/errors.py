"""The one place where errors become HTTP responses: `{"code", "message", "details"}`.

Gateway errors map by class (a database that cannot take the request arrives as
`StorageUnavailable`, translated where SQLAlchemy raises it: `gateway.db`), the contracts' custom
errors by name, an unreachable chain to 503 with a Retry-After hint. Nothing else answers with an
error body. The outermost layer, `RequestGuard`, gives every request an id (the caller's
`X-Request-Id` when it is a sane token, so a load balancer's id carries through), refuses oversized
bodies with 413 before they are read, and turns an error nothing expected into a 500 in the same
shape (logged with its traceback). Every error body carries the request id in `details.requestId`.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.certificates.document import MAX_JSON_DEPTH, nested_deeper_than
from gateway.chain import CONNECTION_ERRORS
from gateway.errors import (ChainUnavailable, Conflict, Forbidden, GatewayError, InvalidInput, NotFound,
                            OperationFailed, StorageUnavailable, TooManyRequests, Unauthenticated)
from gateway.logs import REQUEST_ID, sane_request_id
from ledger_node.errors import LedgerError
from ledger_node.transactions import ContractReverted

STATUS_OF: dict[type[GatewayError], int] = {
    InvalidInput: 422,  # and its subclasses: holder IDs, schema violations, documents
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    OperationFailed: 409,
    TooManyRequests: 429,
    ChainUnavailable: 503,
    StorageUnavailable: 503,
}

#: The contracts' custom errors as HTTP statuses and stable codes (what a dry run or a failed
#: transaction reports); any other revert is a 409 "contract_reverted".
CONTRACT_ERRORS: dict[str, tuple[int, str]] = {
    "RegistryAlreadyAnchored": (409, "already_anchored"),
    "RegistryAlreadyRevoked": (409, "already_revoked"),
    "RegistryNotAnchored": (404, "not_anchored"),
    "RegistryInvalidProof": (422, "invalid_proof"),
    "RegistryInvalidValidity": (422, "invalid_validity"),
    "RegistryInvalidAnchor": (422, "invalid_anchor"),
    "RegistryNotIssuer": (403, "not_the_issuer"),
    "RegistryInvalidReason": (422, "invalid_reason"),
    "RegistryIsRetired": (409, "registry_retired"),
    "RegistryNotYetActive": (409, "registry_not_active"),
    "RegistryAnchoredInPredecessor": (409, "anchored_in_predecessor"),
    "CatalogIssuerNotAuthorised": (403, "issuer_not_authorised"),
    "CatalogUnknownType": (404, "unknown_type"),
    "CatalogTypeDeprecated": (409, "type_deprecated"),
    "CatalogZeroValue": (422, "zero_value"),
    "ConsortiumDepartmentNotActive": (403, "department_not_active"),
    "ConsortiumMissingRole": (403, "missing_role"),
    "ConsortiumUnknownKey": (403, "unknown_key"),
}
RETRY_AFTER_SECONDS = 5
REQUEST_ID_HEADER = "X-Request-Id"
#: Statuses Starlette and FastAPI raise themselves, as error codes.
HTTP_ERROR_CODES = {400: "malformed_json", 404: "not_found", 405: "method_not_allowed"}

log = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    """Every error response of the API."""

    code: str = Field(description="Stable machine-readable reason, e.g. `invalid_request`, `forbidden`")
    message: str = Field(description="What went wrong, for a person")
    details: dict[str, Any] = Field(description="Facts about the error (e.g. `problems`) and always `requestId`, "
                                                  "the response's `X-Request-Id`")


class BodyTooLarge(Exception):
    """The request body passes its limit (`RequestGuard` answers 413 before the app sees the request)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the request body is larger than {limit} bytes")


def status_of(error: GatewayError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]  # type: ignore[index]
    return 500


def contract_error(name: str) -> tuple[int, str]:
    return CONTRACT_ERRORS.get(name, (409, "contract_reverted"))


def body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The error shape; inside a request (every error answer is), with its id in `details.requestId`."""
    request_id = REQUEST_ID.get()
    return {"code": code, "message": message,
            "details": {**(details or {}), **({"requestId": request_id} if request_id else {})}}


def install(app: FastAPI) -> None:
    @app.exception_handler(GatewayError)
    async def gateway_error(_request: Request, error: GatewayError) -> JSONResponse:
        status = status_of(error)
        headers = {"Retry-After": str(error.details.get("retry_after_seconds", RETRY_AFTER_SECONDS))} \
            if status in (429, 503) else None
        return JSONResponse(body(error.code, error.message, error.details), status_code=status, headers=headers)

    @app.exception_handler(ContractReverted)
    async def contract_reverted(_request: Request, error: ContractReverted) -> JSONResponse:
        status, code = contract_error(error.error)
        return JSONResponse(body(code, f"the contract refuses: {error}",
                                 {"contractError": error.error, "args": [_plain(a) for a in error.args_]}),
                            status_code=status)

    @app.exception_handler(LedgerError)
    async def ledger_error(_request: Request, error: LedgerError) -> JSONResponse:
        return JSONResponse(body(error.code, str(error)), status_code=500)

    for connection_error in CONNECTION_ERRORS:
        @app.exception_handler(connection_error)
        async def chain_down(_request: Request, error: Exception) -> JSONResponse:
            return JSONResponse(body(ChainUnavailable.code, "the chain does not answer; nothing was accepted, "
                                     "retry later", {"retry_after_seconds": RETRY_AFTER_SECONDS}),
                                status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, error: RequestValidationError) -> JSONResponse:
        problems = [{"location": list(e["loc"]), "message": e["msg"], "type": e["type"]} for e in error.errors()]
        if any(p["type"] == "json_invalid" for p in problems):
            return JSONResponse(body("malformed_json", "the request body is not JSON", {"problems": problems}),
                                status_code=400)
        return JSONResponse(body("invalid_request", "the request does not match the API: "
                                 + "; ".join(f"{'.'.join(map(str, p['location']))}: {p['message']}"
                                             for p in problems[:5]), {"problems": problems}), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        code = HTTP_ERROR_CODES.get(error.status_code, "http_error")
        return JSONResponse(body(code, str(error.detail)), status_code=error.status_code)


#: How deeply a request body may nest before it is parsed: twice the JSON bounds of what bodies carry
#: (`MAX_JSON_DEPTH`, checked with a clear message after parsing), far below what overflows the stack.
MAX_BODY_DEPTH = 2 * MAX_JSON_DEPTH


class RequestGuard:
    """ASGI layer around the app: a request id on every response (`X-Request-Id`: the caller's when it is
    a sane token, else a new one; in `scope["state"]` and `gateway.logs.REQUEST_ID`), 413 for a body
    over its limit (by `Content-Length` before anything is read, else while it streams in), 422 for
    a body nested deeper than MAX_BODY_DEPTH (before anything parses it), and a 500 in the error
    shape with the request id for any error nothing else handled."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, larger_bodies: Mapping[str, int]) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.larger_bodies = larger_bodies  # path -> its own limit (e.g. batches)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = sane_request_id(Headers(scope=scope).get(REQUEST_ID_HEADER)) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        REQUEST_ID.set(request_id)  # this request's task only: each request runs in a task of its own
        limit = self.larger_bodies.get(scope["path"], self.max_body_bytes)
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []),
                                      (REQUEST_ID_HEADER.lower().encode(), request_id.encode())]
            await send(message)

        declared = Headers(scope=scope).get("content-length", "")
        try:
            if declared.isascii() and declared.isdigit() and int(declared) > limit:
                raise BodyTooLarge(limit)
            content = await _read_body(receive, limit)
            if nested_deeper_than(content, MAX_BODY_DEPTH):
                await _send_error(send_with_id, 422, body("invalid_request", f"the body nests arrays and objects "
                                                          f"deeper than {MAX_BODY_DEPTH} levels",
                                                          {"maxDepth": MAX_BODY_DEPTH}))
                return
            await self.app(scope, _replay(content, receive), send_with_id)
        except BodyTooLarge as error:  # raised before the app ran: nothing was answered yet
            await _send_error(send_with_id, 413, body("payload_too_large", str(error), {"limitBytes": limit}))
        except Exception:
            log.exception("unexpected error answering request %s (%s %s)", request_id, scope["method"],
                          scope["path"])
            if not started:
                await _send_error(send_with_id, 500, body("internal_error", "the gateway failed unexpectedly; "
                                                          "quote the request id when reporting it"))


async def _read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body, refused (BodyTooLarge) as soon as it passes `limit` bytes."""
    chunks, received = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            return b"".join(chunks)
        chunk = message.get("body", b"")
        received += len(chunk)
        if received > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(content: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the app the body already read, then waits on the client (disconnects)."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": content, "more_body": False}
    return replay


async def _send_error(send: Send, status: int, content: dict[str, Any]) -> None:
    payload = json.dumps(content).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


def _plain(value: Any) -> Any:
    return "0x" + value.hex() if isinstance(value, bytes) else value


#: When each error status can answer an operation (`responses_of`), for the OpenAPI.
ERROR_STATUSES: dict[int, str] = {
    400: "The body is not JSON",
    401: "No valid credentials (missing, bad, stale or replayed)",
    403: "The department may not do this (role, status, another department's, or a refusal)",
    404: "What the request names does not exist",
    409: "The request contradicts the state (already done, idempotency key reused, transaction failed)",
    413: "The body is larger than the limit",
    422: "The request or the document it carries is invalid",
    429: "The gateway's outbox is full; retry after `Retry-After`",
    503: "The chain does not answer (`chain_unavailable`) or the gateway's database cannot take the request "
         "(`storage_unavailable`); nothing was accepted, retry after `Retry-After`",
}


def error_statuses(*, method: str, has_body: bool, has_path_parameters: bool, access: str) -> list[int]:
    """The error statuses an operation can answer, from what it takes: any operation can find the
    chain down (503) or get invalid parameters (422); a body can be malformed or too large; a
    credential can be bad (401) and, when required, lack the role (403); a named thing can be
    missing (404); a change can conflict (409) or find the outbox full (429)."""
    statuses = {422, 503}
    if has_body:
        statuses |= {400, 413}
    if access != "public":
        statuses.add(401)
    if access == "required" or method in ("POST", "DELETE"):
        statuses |= {403, 404}
    if has_path_parameters:
        statuses.add(404)
    if method in ("POST", "DELETE"):
        statuses |= {409, 429}
    return sorted(statuses)


def error_response(status: int) -> dict[str, Any]:
    return {"description": ERROR_STATUSES[status],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
