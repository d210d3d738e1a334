"""The one place where errors become HTTP responses: `{"code", "message", "details"}`.

Gateway errors map by class, the contracts' custom errors by name, an unreachable chain to 503
with a Retry-After hint. Nothing else answers with an error body.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway.chain import CONNECTION_ERRORS
from gateway.errors import (ChainUnavailable, Conflict, Forbidden, GatewayError, InvalidInput, NotFound,
                            OperationFailed, TooManyRequests, Unauthenticated)
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
    "CatalogIssuerNotAuthorised": (403, "issuer_not_authorised"),
    "CatalogUnknownType": (404, "unknown_type"),
    "CatalogTypeDeprecated": (409, "type_deprecated"),
    "CatalogZeroValue": (422, "zero_value"),
    "ConsortiumDepartmentNotActive": (403, "department_not_active"),
    "ConsortiumMissingRole": (403, "missing_role"),
    "ConsortiumUnknownKey": (403, "unknown_key"),
}
RETRY_AFTER_SECONDS = 5


def status_of(error: GatewayError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]  # type: ignore[index]
    return 500


def contract_error(name: str) -> tuple[int, str]:
    return CONTRACT_ERRORS.get(name, (409, "contract_reverted"))


def body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "details": details or {}}


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
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        return JSONResponse(body(code, str(error.detail)), status_code=error.status_code)


def _plain(value: Any) -> Any:
    return "0x" + value.hex() if isinstance(value, bytes) else value
