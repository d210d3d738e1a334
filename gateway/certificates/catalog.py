"""Reading what the consortium and catalog say about a department or certificate type, with the
contract's "unknown" errors turned into `NotFound`. Shared by the CLI and the HTTP gateway."""

from __future__ import annotations

from typing import Any

from web3.contract.contract import ContractFunction

from gateway.certificates.document import CertificateType, IssuerRef
from gateway.errors import InvalidInput, NotFound
from ledger_node.deploy import Deployment
from ledger_node.schemas import SchemaStore
from ledger_node.transactions import ContractReverted, read
from ledger_node.types import TypeStatus, code32

_UNKNOWN = ("CatalogUnknownType", "ConsortiumUnknownDepartment", "CatalogUnknownServiceItem", "CatalogUnknownSnapshot")


def lookup(view: ContractFunction, missing: str) -> Any:
    """A catalog or consortium record; `NotFound(missing)` when the contract says it is unknown."""
    try:
        return read(view)
    except ContractReverted as error:
        if error.error in _UNKNOWN:
            raise NotFound(missing) from None
        raise


def catalog_type(deployment: Deployment, code: str, store: SchemaStore,
                 schema: dict[str, Any] | None = None) -> CertificateType:
    """The current version of a catalog type with its schema (from `store` by the catalog's hash,
    or `schema` when given, which must then hash to the catalog's)."""
    _code, _id, _owner, version, status, _registered, schema_hash = \
        lookup(deployment.catalog.functions.certificateType(checked_code32(code, "certificate type")),
               f"no certificate type {code!r} in the catalog")
    if TypeStatus(status) is TypeStatus.DEPRECATED:
        raise InvalidInput(f"certificate type {code!r} is deprecated; no new certificates of it may be issued")
    certificate_type = CertificateType(code, version, schema if schema is not None else store.get(schema_hash))
    if certificate_type.schema_hash != schema_hash:
        raise InvalidInput(f"the schema given is not version {version} of {code} (its hash differs from the catalog's)")
    return certificate_type


def issuer_ref(deployment: Deployment, code: str) -> IssuerRef:
    """The department as a certificate names its issuer: code and registered name."""
    department = lookup(deployment.consortium.functions.department(checked_code32(code, "department")),
                        f"no department {code!r} in the consortium")
    return IssuerRef(code, department[6])


def checked_code32(text: str, what: str) -> bytes:
    """`code32`, with a bad code reported as `InvalidInput` naming what it was for."""
    try:
        return code32(text)
    except ValueError:
        raise InvalidInput(f"{what} code must be 1 to 32 ASCII characters: {text!r}") from None
