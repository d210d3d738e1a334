"""The GB/T 36906-shaped sharing interface (证照查询, 证照核验, 证照获取) for relying departments: a thin
face of `POST /v1/sharing/requests` with the national service's field names (docs/sharing-gbt36906.md).
Every call is a sharing request under the same rules, refusals and access-log entry
(`gateway.sharing.gbt36906`). The holder's number travels in the body only: never in a path or
query, which request logs keep."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from gateway.api.deps import RelyingParty, Services
from gateway.sharing.gbt36906 import NationalCertificateRequest, NationalRequest, VerificationResult

router = APIRouter(prefix="/v1/gbt36906", tags=["GB/T 36906"])


class CertificateEntry(BaseModel):
    """证照目录信息: one certificate as the query lists it."""

    certificate_identifier: str | None = Field(description="证照标识 (null for a certificate issued before "
                                                           "CertNet gave identifiers)")
    certificate_name: str | None = Field(description="证照名称: the type's name in the catalog (null until the "
                                                     "gateway's index has read it)")
    certificate_type_code: str = Field(description="证照类型代码")
    certificate_issuing_authority_name: str = Field(description="证照颁发机构 (name)")
    certificate_issuing_authority_code: str = Field(description="证照颁发机构代码: the issuing department's code")
    certificate_validate_start: str = Field(description="证照有效期起始: validFrom, ISO 8601 UTC")
    certificate_validate_end: str | None = Field(description="证照有效期截止: validUntil, ISO 8601 UTC; null: "
                                                             "no end")
    certificate_hash: str = Field(description="CertNet's certificate hash, anchored on chain")


class QueryResponse(BaseModel):
    related_item_code: str = Field(description="关联事项代码, as asked")
    certificate_type_code: str = Field(description="证照类型代码, as asked")
    consent_id: str = Field(description="The holder's consent that allowed the query (GET /v1/consents/{id})")
    certificates: list[CertificateEntry] = Field(description="The holder's valid certificates of the type, newest "
                                                             "first")


class VerifyResponse(BaseModel):
    certificate_identifier: str = Field(description="证照标识, as asked")
    verification_result: VerificationResult = Field(description="核验结果: valid, or revoked (also superseded), "
                                                                "expired, invalid (another check failed)")
    certificate_hash: str
    failed_check: str | None = Field(description="The first verification check it failed; null when valid")
    reason: str | None = Field(description="Why, for a person; null when valid")


class RetrieveResponse(BaseModel):
    certificate_identifier: str = Field(description="证照标识, as asked")
    certificate_file: dict[str, Any] = Field(description="证照文件: the issuing department's signed document with "
                                                         "its anchoring evidence (docs/certificate-format.md)")


@router.post("/certificates/query", summary="证照查询: a holder's valid certificates of a type, with a reason for use")
def query(body: NationalRequest, caller: RelyingParty, gateway: Services) -> QueryResponse:
    found = gateway.national_sharing.query(caller.department, body)
    return QueryResponse(related_item_code=body.related_item_code, certificate_type_code=body.certificate_type_code,
                         consent_id=found["consent"], certificates=found["certificates"])


@router.post("/certificates/verify", summary="证照核验: whether a holder's certificate is valid now")
def verify(body: NationalCertificateRequest, caller: RelyingParty, gateway: Services) -> VerifyResponse:
    return VerifyResponse(certificate_identifier=body.certificate_identifier,
                          **gateway.national_sharing.verify(caller.department, body))


@router.post("/certificates/retrieve", summary="证照获取: a holder's valid certificate, its signed document")
def retrieve(body: NationalCertificateRequest, caller: RelyingParty, gateway: Services) -> RetrieveResponse:
    return RetrieveResponse(certificate_identifier=body.certificate_identifier,
                            certificate_file=gateway.national_sharing.retrieve(caller.department, body))
