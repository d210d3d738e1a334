"""A GB/T 36906-shaped face of sharing: query a holder's certificates of a type with a reason for
use (事由), verify one certificate, retrieve one certificate — as the national e-licence sharing
service asks for them (docs/sharing-gbt36906.md, field by field, says which names come from where).

Nothing here decides who gets what. Each call becomes one sharing request (`Sharing.share`): the
same role, service-item, catalog and consent checks, the same refusals, one access-log entry with
the holder's pseudonym. The holder's citizen ID (GB 11643) or credit code (GB 32100) is turned into
that pseudonym at once and goes no further: not into the log, the access log or an answer. The
reason for use is free text a clerk types, which may name people, so the access log keeps its
SHA-256 only (the department keeps the text beside the hash in its own case file).
"""

from __future__ import annotations

import hashlib
import unicodedata
from typing import Annotated, Any, Callable, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from gateway.certificates.catalog import checked_code32, lookup
from gateway.certificates.document import IDENTIFIER, issuer_code, type_code
from gateway.certificates.identifier import LAYOUT, MAX_LENGTH, CertificateIdentifier
from gateway.certificates.identity import HolderId, IdScheme, pseudonym
from gateway.errors import InvalidInput, NotFound, Refused
from gateway.issuance import Issuance
from gateway.models import Code, Identity, ShareRequest
from gateway.sharing.share import WITHHELD_REASONS, Sharing

#: 持证主体代码类型: the code of the kind of number that names the holder. 111 (公民身份号码) is what the
#: national platform's published data shows; 001 for a unified social credit code is our choice.
HOLDER_ID_SCHEMES: dict[str, IdScheme] = {"111": IdScheme.RIC, "001": IdScheme.USCC}
HolderIdType = Literal["111", "001"]
#: The longest reason for use (事由) a request may carry, in characters.
MAX_USE_CAUSE = 256
#: How a verification answers (`verification_result`): the certificate is valid, or why it is not.
VerificationResult = Literal["valid", "revoked", "expired", "invalid"]
_RESULT_OF_REASON: dict[str, VerificationResult] = {"certificate_revoked": "revoked",
                                                    "certificate_expired": "expired"}


def _plain_text(text: str) -> str:
    if not text.strip():
        raise ValueError("the reason for use (事由) must say something")
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in text):
        raise ValueError("the reason for use (事由) must be plain text, without control characters")
    return text


class NationalRequest(BaseModel):
    """What every call names: the holder (持证主体代码 and its type), the certificate type (证照类型代码),
    the service item the certificate is used for (关联事项代码) and the reason for use (事由)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    certificate_holder_code: Identity = Field(description="持证主体代码: the holder's citizen ID number (GB 11643) or "
                                                          "unified social credit code (GB 32100); only its keyed "
                                                          "pseudonym is used, logged or stored")
    certificate_holder_type: HolderIdType = Field(description="持证主体代码类型: 111 citizen ID number (公民身份号码), "
                                                              "001 unified social credit code")
    certificate_type_code: Code = Field(description="证照类型代码: the certificate type's catalog code")
    related_item_code: Code = Field(description="关联事项代码: the service item (办件事项) the certificate is used "
                                                "for; the holder's consent names it")
    use_cause: Annotated[str, AfterValidator(_plain_text)] = Field(
        min_length=1, max_length=MAX_USE_CAUSE,
        description=f"用证事由: why the certificate is used, 1 to {MAX_USE_CAUSE} characters of plain text; the access "
                    "log keeps its SHA-256 only")


class NationalCertificateRequest(NationalRequest):
    """A call about one certificate: the request's fields and its identifier (证照标识)."""

    certificate_identifier: str = Field(max_length=MAX_LENGTH, description=f"证照标识: {LAYOUT}")


def use_cause_hash(use_cause: str) -> str:
    """What the access log keeps of a reason for use: SHA-256 of its UTF-8, 0x-hex."""
    return "0x" + hashlib.sha256(use_cause.encode("utf-8")).hexdigest()


class NationalSharing:
    def __init__(self, sharing: Sharing, issuance: Issuance, type_name: Callable[[str], str | None], *,
                 pseudonym_key: bytes) -> None:
        self.sharing = sharing
        self.issuance = issuance
        self.type_name = type_name
        self.pseudonym_key = pseudonym_key

    def query(self, department: str, request: NationalRequest) -> dict[str, Any]:
        """证照查询: the catalog entries (目录信息) of the holder's currently valid certificates of the
        type, and the consent that allowed it; or `Refused`."""
        shared = self._share(department, request, "query")
        return {"consent": shared["consent"], "certificates": [self._entry(d) for d in shared["certificates"]]}

    def retrieve(self, department: str, request: NationalCertificateRequest) -> dict[str, Any]:
        """证照获取: the certificate (its document with its anchoring evidence) when it is the holder's,
        of the type, and valid now; `Refused` when it is not valid, `NotFound` when it is none of theirs."""
        shared = self._share(department, request, "retrieve")
        document = _shared_document(shared, request.certificate_identifier)
        if document is None:
            withheld = self._withheld(shared, request)
            raise Refused(_reason(withheld), f"certificate {request.certificate_identifier} is not valid now: "
                                             f"{withheld['reason']}", withheld=[withheld])
        return document

    def verify(self, department: str, request: NationalCertificateRequest) -> dict[str, Any]:
        """证照核验: whether the holder's certificate with this identifier is valid now, and if not why."""
        try:
            shared = self._share(department, request, "verify")
        except Refused as refusal:
            if "withheld" not in refusal.details:  # refused before any certificate was verified
                raise
            shared = {"certificates": [], "withheld": refusal.details["withheld"]}
        document = _shared_document(shared, request.certificate_identifier)
        if document is not None:
            return {"verification_result": "valid", "certificate_hash": document["proof"]["certificateHash"],
                    "failed_check": None, "reason": None}
        withheld = self._withheld(shared, request)
        return {"verification_result": _RESULT_OF_REASON.get(_reason(withheld), "invalid"),
                "certificate_hash": withheld["certificateHash"], "failed_check": withheld["check"],
                "reason": withheld["reason"]}

    def _entry(self, document: dict[str, Any]) -> dict[str, Any]:
        """A certificate's catalog entry: what the national service lists before a certificate is retrieved."""
        code = type_code(document)
        return {"certificate_identifier": document.get(IDENTIFIER), "certificate_name": self.type_name(code),
                "certificate_type_code": code,
                "certificate_issuing_authority_name": document["issuer"]["name"],
                "certificate_issuing_authority_code": issuer_code(document),
                "certificate_validate_start": document["validFrom"],
                "certificate_validate_end": document.get("validUntil"),
                "certificate_hash": document["proof"]["certificateHash"]}

    def _share(self, department: str, request: NationalRequest, interface: str) -> dict[str, Any]:
        """The sharing request `request` stands for, logged with the interface and the reason's hash; the
        holder's number and the names are checked first (422, nothing logged)."""
        holder = pseudonym(self.pseudonym_key, HolderId.of(HOLDER_ID_SCHEMES[request.certificate_holder_type],
                                                           request.certificate_holder_code))
        self._check_type(request.certificate_type_code)
        noted = {"interface": f"gbt36906/{interface}", "useCauseHash": use_cause_hash(request.use_cause)}
        if isinstance(request, NationalCertificateRequest):
            CertificateIdentifier.parse(request.certificate_identifier)
            noted["certificateIdentifier"] = request.certificate_identifier
        return self.sharing.share(department, ShareRequest(service_item=request.related_item_code, holder=holder,
                                                           certificate_types=[request.certificate_type_code]),
                                  noted=noted)

    def _check_type(self, code: str) -> None:
        """`InvalidInput` for a type the catalog does not have (a mistake in the request, not a refusal)."""
        try:
            lookup(self.sharing.chain.deployment.catalog.functions.certificateType(
                checked_code32(code, "certificate type")), "")
        except NotFound:
            raise InvalidInput(f"certificate_type_code: no certificate type {code!r} in the catalog",
                               certificate_type_code=code) from None

    def _withheld(self, shared: dict[str, Any], request: NationalCertificateRequest) -> dict[str, Any]:
        """The withheld entry (which check failed) of the certificate the request names; `NotFound` when the
        sharing request did not look at it (not this gateway's, another holder's or type's, or older than
        the newest it looks at)."""
        identifier = request.certificate_identifier
        issued = self.issuance.issued_as(CertificateIdentifier.parse(identifier))
        certificate_hash = issued[0].certificate_hash if issued else None
        withheld = next((w for w in shared["withheld"] if w["certificateHash"] == certificate_hash), None)
        if certificate_hash is None or withheld is None:
            raise NotFound(f"no certificate {identifier} of type {request.certificate_type_code} among the holder's "
                           "newest this gateway issued", certificate_identifier=identifier)
        return withheld


def _shared_document(shared: dict[str, Any], identifier: str) -> dict[str, Any] | None:
    """The valid document with `identifier` among those a sharing request gave, if any."""
    return next((d for d in shared["certificates"] if d.get(IDENTIFIER) == identifier), None)


def _reason(withheld: dict[str, Any]) -> str:
    """The refusal code of a withheld certificate, as a sharing request gives it."""
    return WITHHELD_REASONS.get(withheld["check"], "no_valid_certificate")
