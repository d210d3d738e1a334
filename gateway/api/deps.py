"""Request dependencies: the gateway parts, who is asking (with the role an endpoint needs), and the
path and query parameter types every router shares, with the constraints the OpenAPI publishes."""

from __future__ import annotations

from typing import Annotated, Any, Callable, Coroutine, Literal, TypeVar

from anyio import CapacityLimiter, to_thread
from fastapi import Depends, Header, Path, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from gateway.auth import NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, Caller, presents_credentials
from gateway.certificates.catalog import lookup
from gateway.certificates.identifier import LAYOUT, MAX_LENGTH
from gateway.errors import InvalidInput, NotFound, Unauthenticated
from gateway.models import CODE_PATTERN, HASH_PATTERN, MAX_ID
from gateway.provenance import MAX_PAGE
from gateway.service import Gateway
from ledger_node.types import Role, code32

DepartmentPath = Annotated[str, Path(pattern=CODE_PATTERN, description="Department code (1-32 printable ASCII)")]
ServiceItemPath = Annotated[str, Path(pattern=CODE_PATTERN, description="Service item code (1-32 printable ASCII)")]
CertificateHashPath = Annotated[str, Path(pattern=r"^(0x)?[0-9a-fA-F]{64}$",
                                          description="Certificate hash: 0x and 64 hex digits")]
IdentifierPath = Annotated[str, Path(max_length=MAX_LENGTH, description=f"Certificate identifier: {LAYOUT}")]
RecordIdPath = Annotated[str, Path(pattern=HASH_PATTERN, description="0x and 64 hex digits (SHA-256)")]
OperationIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="Operation id")]
PositionPath = Annotated[int, Path(ge=0, le=MAX_ID, description="Entry position in the access log")]
Cursor = Annotated[str | None, Query(pattern=r"^[0-9]{1,18}$", description="`next` of the previous page")]
PageCursor = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,80}$",
                                         description="`next` of the previous page (opaque)")]
PageLimit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Items per page")]
Offset = Annotated[int, Query(ge=0, le=MAX_ID)]

#: The credentials an operation takes, as the OpenAPI declares them (`security_of`).
SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "bearerToken": {"type": "http", "scheme": "bearer",
                    "description": "Development: an API token from `certnet gateway token <department>`"},
    "signature": {"type": "apiKey", "in": "header", "name": SIGNATURE_HEADER,
                  "description": "0x EIP-191 signature, by a current key of the department, of "
                                 "CERTNET-REQUEST-V1\\n<METHOD>\\n<path?query>\\n<sha256 hex of body>\\n"
                                 "<timestamp>\\n<nonce>"},
    "timestamp": {"type": "apiKey", "in": "header", "name": TIMESTAMP_HEADER,
                  "description": "Unix seconds (1 to 12 ASCII digits), within the gateway's allowed skew"},
    "nonce": {"type": "apiKey", "in": "header", "name": NONCE_HEADER,
              "description": "16 to 128 characters, never reused"},
}
_CREDENTIALS: list[dict[str, list[str]]] = [{"bearerToken": []}, {"signature": [], "timestamp": [], "nonce": []}]
NEEDS_CREDENTIALS = "this endpoint needs a signed request or an API token"


#: Pool threads that requests changing the chain's state use at once: a burst of them (a dry run and
#: signing each, tens of milliseconds of the one interpreter's time) leaves the other threads, and a
#: share of the interpreter, to the other requests.
ISSUING = CapacityLimiter(8)
T = TypeVar("T")


async def issuing(function: Callable[..., T], *args: Any) -> T:
    """`function(*args)` in the thread pool, as one of at most ISSUING such calls at a time."""
    return await to_thread.run_sync(function, *args, limiter=ISSUING)


def services_of(request: Request) -> Gateway:
    return request.app.state.gateway


async def gateway(request: Request) -> Gateway:
    """The `Services` dependency: async, so that resolving it takes no thread-pool call."""
    return services_of(request)


async def optional_caller(request: Request) -> Caller | None:
    """The department asking, None for a request without credentials (answered without a thread)."""
    if not presents_credentials(request.headers):
        return None
    return await run_in_threadpool(services_of(request).authenticator.authenticate, request.method, _path(request),
                                   await request.body(), dict(request.headers))


def requires(role: Role | None = None) -> Callable[..., Coroutine[Any, Any, Caller]]:
    """A dependency admitting an authenticated, active department holding `role` (any role when None):
    the credentials and the department's status are checked in one thread-pool call."""
    async def dependency(request: Request) -> Caller:
        if not presents_credentials(request.headers):
            raise Unauthenticated(NEEDS_CREDENTIALS)
        return await run_in_threadpool(_admitted, services_of(request), request.method, _path(request),
                                       await request.body(), dict(request.headers), role)
    dependency.admits_role = role  # type: ignore[attr-defined]  # read by `access_of`
    return dependency


def _path(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def _admitted(services: Gateway, method: str, path: str, body: bytes, headers: dict[str, str],
              role: Role | None) -> Caller:
    caller = services.authenticator.authenticate(method, path, body, headers)
    if caller is None:
        raise Unauthenticated(NEEDS_CREDENTIALS)
    services.chain.require_active(caller.department, role)
    return caller


Access = Literal["public", "optional", "required"]


def access_of(route: APIRoute) -> Access:
    """Whether the route needs credentials, takes them when given (and logs who asked), or neither."""
    calls = _calls(route.dependant)
    if any(hasattr(call, "admits_role") for call in calls):
        return "required"
    return "optional" if optional_caller in calls else "public"


def security_of(access: Access) -> list[dict[str, list[str]]]:
    """The OpenAPI `security` of a route: either credential; `{}` too when anonymous calls are allowed."""
    return [*_CREDENTIALS, {}] if access == "optional" else list(_CREDENTIALS)


def _calls(dependant: Dependant) -> list[Any]:
    return [call for sub in dependant.dependencies for call in (sub.call, *_calls(sub))]


def known_department(name: str, description: str) -> Callable[..., str | None]:
    """The query parameter `name` as a filter on a department the consortium knows: an unknown one is
    a mistake to report (422), not a filter that silently matches nothing."""
    def dependency(request: Request, code: str | None = Query(None, alias=name, pattern=CODE_PATTERN,
                                                              description=description)) -> str | None:
        if code is not None:
            try:
                services_of(request).chain.department(code)
            except NotFound:
                raise InvalidInput(f"{name}: no department {code!r} in the consortium") from None
        return code
    return dependency


def known_type(request: Request, code: Annotated[str | None, Query(alias="type", pattern=CODE_PATTERN,
                                                                   description="Certificate type code")] = None
               ) -> str | None:
    """`type=` as a filter on a certificate type the catalog has (else 422, like `known_department`)."""
    if code is not None:
        try:
            lookup(services_of(request).chain.deployment.catalog.functions.certificateType(code32(code)), "")
        except NotFound:
            raise InvalidInput(f"type: no certificate type {code!r} in the catalog") from None
    return code


DepartmentFilter = Annotated[str | None, Depends(known_department("department", "Department code"))]
HandlerFilter = Annotated[str | None, Depends(known_department("handler", "Handling department's code"))]
TypeFilter = Annotated[str | None, Depends(known_type)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200,
                                              description="Repeating a request with the same key returns the "
                                                          "first result instead of acting twice")]
Services = Annotated[Gateway, Depends(gateway)]
Issuer = Annotated[Caller, Depends(requires(Role.ISSUER))]
Auditor = Annotated[Caller, Depends(requires(Role.AUDITOR))]
RelyingParty = Annotated[Caller, Depends(requires(Role.RELYING_PARTY))]
HolderChannel = Annotated[Caller, Depends(requires(Role.HOLDER_CHANNEL))]
Member = Annotated[Caller, Depends(requires())]
