"""Request bodies of the HTTP API (pydantic); responses are plain JSON built by the services."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.certificates.identity import PSEUDONYM_PATTERN

#: Room for an identity as `HolderId.parse` reads it: scheme, 18 characters, separators.
IDENTITY_MAX_LENGTH = 64

class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CertificateContent(_Body):
    """One certificate's holder and data; the gateway salts, hashes, signs and anchors it."""

    holder: str = Field(max_length=IDENTITY_MAX_LENGTH,
                        description="RIC:<citizen ID number> (GB 11643) or USCC:<unified social credit code> "
                                    "(GB 32100); only its keyed pseudonym enters the certificate")
    subject: dict[str, Any] = Field(description="The certificate's fields, checked against its type's schema")
    valid_from: dt.datetime | None = Field(None, alias="validFrom", description="Default: now")


class IssueRequest(CertificateContent):
    type: str = Field(description="Certificate type code in the catalog")
    valid_until: dt.datetime | None = Field(None, alias="validUntil")


class BatchRequest(_Body):
    type: str
    valid_until: dt.datetime | None = Field(None, alias="validUntil",
                                            description="Shared by every certificate of the batch")
    certificates: list[CertificateContent] = Field(min_length=1)


class RevokeRequest(_Body):
    reason: int = Field(0, description="0 unspecified, 1 issued in error, 2 holder request, "
                                       "3 holder no longer eligible, 4 superseded")
    document: dict[str, Any] | None = Field(None, description="The anchored document, needed only for a "
                                                              "certificate this gateway did not issue")


class SupersedeRequest(CertificateContent):
    valid_until: dt.datetime | None = Field(None, alias="validUntil")
    document: dict[str, Any] | None = Field(None, description="The anchored document being replaced, needed only "
                                                              "for a certificate this gateway did not issue")


class SnapshotRequest(_Body):
    catalog: dict[str, Any] = Field(description="The department's data catalog; its RFC 8785 keccak256 is anchored")
    uri: str = Field("", max_length=512, description="Where the catalog is published")


class VerifyRequest(_Body):
    document: dict[str, Any]
    holder: str | None = Field(None, max_length=IDENTITY_MAX_LENGTH,
                               description="The holder's disclosed RIC:/USCC: identity, to check against the "
                                           "certificate's pseudonym; it is neither stored nor logged")


class HolderKeyRequest(_Body):
    holder: str = Field(max_length=IDENTITY_MAX_LENGTH,
                        description="RIC:<citizen ID number> or USCC:<unified social credit code>, as verified by the "
                                    "holder channel; only its pseudonym is stored and logged")
    public_key: str = Field(alias="publicKey", max_length=1000,
                            description="The device's ECDSA P-256 public key, PEM (SubjectPublicKeyInfo)")


class SignedRecord(_Body):
    """A consent or withdrawal record (docs/sharing.md) with the holder's P-256 signature."""

    record: dict[str, Any]
    signature: str = Field(pattern="^0x[0-9a-fA-F]{128}$", description="0x + r||s over SHA-256 of the record's "
                                                                       "RFC 8785 JSON")


class ShareRequest(_Body):
    service_item: str = Field(alias="serviceItem", min_length=1, max_length=32)
    holder: str = Field(pattern=PSEUDONYM_PATTERN,
                        description="The holder's pseudonym (credentialSubject.id of their certificates), never "
                                    "their identity: a request naming a holder otherwise is refused before it is "
                                    "logged")
    consent: SignedRecord | None = Field(None, description="The holder's signed consent, if not given before")
    consent_id: str | None = Field(None, alias="consentId", description="A consent given before; default: any in "
                                                                        "force for this department and item")
    certificate_types: list[str] | None = Field(None, alias="certificateTypes", min_length=1,
                                                description="Default: every type the item needs and the holder "
                                                            "consented to")
