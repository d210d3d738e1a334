"""Request dependencies: the gateway parts, and who is asking (with the role an endpoint needs)."""

from __future__ import annotations

from typing import Annotated, Callable, Coroutine, Any

from fastapi import Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from gateway.auth import Caller
from gateway.errors import Unauthenticated
from gateway.service import Gateway
from ledger_node.types import Role


def gateway(request: Request) -> Gateway:
    return request.app.state.gateway


async def optional_caller(request: Request) -> Caller | None:
    body = await request.body()
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return await run_in_threadpool(gateway(request).authenticator.authenticate, request.method, path, body,
                                   dict(request.headers))


def requires(role: Role | None = None) -> Callable[..., Coroutine[Any, Any, Caller]]:
    """A dependency admitting an authenticated, active department holding `role` (any role when None)."""
    async def dependency(request: Request, caller: Caller | None = Depends(optional_caller)) -> Caller:
        if caller is None:
            raise Unauthenticated("this endpoint needs a signed request or an API token")
        await run_in_threadpool(gateway(request).chain.require_active, caller.department, role)
        return caller
    return dependency


IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200,
                                              description="Repeating a request with the same key returns the "
                                                          "first result instead of acting twice")]
Services = Annotated[Gateway, Depends(gateway)]
Issuer = Annotated[Caller, Depends(requires(Role.ISSUER))]
Auditor = Annotated[Caller, Depends(requires(Role.AUDITOR))]
RelyingParty = Annotated[Caller, Depends(requires(Role.RELYING_PARTY))]
HolderChannel = Annotated[Caller, Depends(requires(Role.HOLDER_CHANNEL))]
Member = Annotated[Caller, Depends(requires())]
