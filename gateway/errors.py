"""The gateway's exception tree. Every error carries a stable machine-readable `code`; the HTTP
layer maps the classes below to status codes in one place, the CLI prints `str(error)` on one line.
"""

from __future__ import annotations

from typing import Any


class GatewayError(Exception):
    """Base of every error raised by the gateway and the certificate library."""

    code = "gateway_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(GatewayError):
    """The request or document is malformed or breaks a rule; nothing was sent to the chain."""

    code = "invalid_input"


class InvalidHolderId(InvalidInput):
    """A citizen ID number (GB 11643) or unified social credit code (GB 32100) is not valid."""

    code = "invalid_holder_id"


class SchemaViolation(InvalidInput):
    """A certificate's subject does not match its type's JSON schema."""

    code = "schema_violation"


class ReasonCoded:
    """Mixin for a family of errors documented together: each is raised with its own reason, which
    becomes its `code`; the family's class still decides the HTTP status."""

    def __init__(self, reason: str, message: str, **details: Any) -> None:
        super().__init__(message, **details)  # type: ignore[call-arg]  # the GatewayError beside it in the MRO
        self.code = reason


class UnusableConsent(ReasonCoded, InvalidInput):
    """A consent that could never be used, refused when it is given: `code` names why (unknown
    service item, a grantee that does not handle it, a type it does not need; docs/sharing.md)."""

    code = "unusable_consent"


class InvalidDocument(InvalidInput):
    """A certificate document is not in the CertNet format, or an operation does not apply to it."""

    code = "invalid_document"


class InvalidIdentifier(InvalidDocument):
    """A national e-certificate identifier (证照标识) is malformed or its check character is wrong."""

    code = "invalid_identifier"


class NotFound(GatewayError):
    """A certificate, type or department the request names does not exist."""

    code = "not_found"


class Unauthenticated(GatewayError):
    """The request carries no valid credentials: no signature or token, a bad one, or a replay."""

    code = "unauthenticated"


class TokensDisabled(Unauthenticated):
    """API tokens are for development; this gateway accepts signed requests only (CERTNET_DEV_TOKENS)."""

    code = "tokens_disabled"


class InvalidSetting(GatewayError):
    """A CERTNET_* setting (environment or `.env`) does not parse; the message names each."""

    code = "invalid_setting"


class UnsupportedSetup(GatewayError):
    """The gateway cannot run as started (a second process on a SQLite database); the message says
    what to do instead."""

    code = "unsupported_setup"


class UnsafeConfiguration(GatewayError):
    """Production mode refuses to start with a development secret, key or token setting; the message
    names the settings to provide."""

    code = "unsafe_configuration"


class Forbidden(GatewayError):
    """The caller is known but its department may not do this (role, status, or another department's)."""

    code = "forbidden"


class Conflict(GatewayError):
    """The request contradicts the state: already anchored or revoked, an idempotency key reused."""

    code = "conflict"


class RegistryRetired(Conflict):
    """The certificate is anchored in a retired registry version, which anchors nothing new (no successor)."""

    code = "registry_retired"


class TooManyRequests(GatewayError):
    """The gateway's outbox is full; retry after the hinted delay."""

    code = "too_many_requests"


class ChainUnavailable(GatewayError):
    """The chain's JSON-RPC endpoint does not answer; nothing was accepted, retry later."""

    code = "chain_unavailable"


class StorageUnavailable(GatewayError):
    """The gateway's database cannot take the request now (its disk is full or read-only, its file or
    server cannot be reached, or it stays locked); nothing was changed, retry later."""

    code = "storage_unavailable"


class UnknownSchema(GatewayError):
    """The database's schema is at a revision this gateway does not know: a newer gateway upgraded it."""

    code = "unknown_schema"


class OperationFailed(GatewayError):
    """The operation was accepted but its transaction failed on the chain; `details.reason` says why."""

    code = "operation_failed"


class Refused(ReasonCoded, Forbidden):
    """A sharing request that the catalog, the holder's consent or the certificates' state does not
    allow; `code` names the reason (docs/sharing.md lists them)."""

    code = "refused"
