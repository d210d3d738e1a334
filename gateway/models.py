"""Request bodies of the HTTP API (pydantic); response bodies are in `gateway.api.views`.

Every field is bounded, and the bounds are in the OpenAPI: codes as the catalog stores them,
identities by their format, free JSON (subjects, documents, catalogs, consent records) by
`gateway.certificates.document.JSON_BOUNDS`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from gateway.certificates.anchoring import REVOKE_REASONS
from gateway.certificates.document import (JSON_BOUNDS, MAX_KEY_LENGTH, MAX_SAFE_INTEGER, MAX_TEXT_LENGTH,
                                           MAX_TIMESTAMP, json_bounds_problem)
from gateway.certificates.identity import PSEUDONYM_PATTERN

#: Ids, positions, offsets and sizes: within a signed 64-bit column (SQLite, PostgreSQL bigint) and
#: within RFC 8785's exact integers, since the access log records the queries that name them.
MAX_ID = MAX_SAFE_INTEGER
#: Department, certificate type and service item codes: what `code32` stores, 1 to 32 printable ASCII.
CODE_PATTERN = r"^[!-~]{1,32}$"
HASH_PATTERN = r"^0x[0-9a-fA-F]{64}$"
#: `RIC:` or `USCC:` and 18 characters, with room for the spaces a person may type.
MAX_IDENTITY_LENGTH = 40
#: As many certificates as `CERTNET_MAX_BATCH_SIZE` may allow at most.
MAX_BATCH_CERTIFICATES = 100_000


def _within_json_bounds(value: dict[str, Any]) -> dict[str, Any]:
    problem = json_bounds_problem(value)
    if problem:
        raise ValueError(f"the object holds {problem}")
    return value


#: A JSON object within the bounds (depth, string and key lengths, exact integers), as the OpenAPI says.
JsonObject = Annotated[dict[str, Any], AfterValidator(_within_json_bounds), WithJsonSchema({
    "type": "object",
    "description": f"A JSON object: {JSON_BOUNDS}",
    "propertyNames": {"maxLength": MAX_KEY_LENGTH},
    "additionalProperties": {"anyOf": [
        {"type": "string", "maxLength": MAX_TEXT_LENGTH},
        {"type": "number", "minimum": -MAX_SAFE_INTEGER, "maximum": MAX_SAFE_INTEGER},
        {"type": "boolean"}, {"type": "null"}, {"type": "array"}, {"type": "object"},
    ]},
})]
def _within_document_years(moment: dt.datetime) -> dt.datetime:
    """The moment, in UTC when it names no zone; computed without the local clock, which fails before year 1."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
    if not 0 <= (aware - EPOCH).total_seconds() <= MAX_TIMESTAMP:
        raise ValueError("a date-time between 1970-01-01 and 9999-12-31 (UTC)")
    return aware


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
#: A date-time as certificates and the chain's clock can hold it (no zone: UTC).
Moment = Annotated[dt.datetime, AfterValidator(_within_document_years)]
Code = Annotated[str, Field(pattern=CODE_PATTERN, description="A catalog code: 1 to 32 printable ASCII characters")]
Identity = Annotated[str, Field(min_length=1, max_length=MAX_IDENTITY_LENGTH)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CertificateContent(_Body):
    """One certificate's holder and data; the gateway salts, hashes, signs and anchors it."""

    holder: Identity = Field(description="RIC:<citizen ID number> (GB 11643) or USCC:<unified social credit code> "
                                         "(GB 32100); only its keyed pseudonym enters the certificate")
    subject: JsonObject = Field(description="The certificate's fields, checked against its type's schema")
    valid_from: Moment | None = Field(None, alias="validFrom", description="Default: now")


class IssueRequest(CertificateContent):
    type: Code = Field(description="Certificate type code in the catalog")
    valid_until: Moment | None = Field(None, alias="validUntil")


class BatchRequest(_Body):
    type: Code
    valid_until: Moment | None = Field(None, alias="validUntil",
                                            description="Shared by every certificate of the batch")
    certificates: list[CertificateContent] = Field(min_length=1, max_length=MAX_BATCH_CERTIFICATES)


class RevokeRequest(_Body):
    reason: int = Field(0, ge=0, le=max(REVOKE_REASONS), description="0 unspecified, 1 issued in error, 2 holder request, "
                                    "3 holder no longer eligible (4 superseded: only through supersede)")
    document: JsonObject | None = Field(None, description="The anchored document, needed only for a "
                                                              "certificate this gateway did not issue")


class SupersedeRequest(CertificateContent):
    valid_until: Moment | None = Field(None, alias="validUntil")
    document: JsonObject | None = Field(None, description="The anchored document being replaced, needed only "
                                                              "for a certificate this gateway did not issue")


class SnapshotRequest(_Body):
    catalog: JsonObject = Field(description="The department's data catalog; its RFC 8785 keccak256 is anchored")
    uri: str = Field("", max_length=512, description="Where the catalog is published")


#: Documents per `POST /v1/verify/batch`.
MAX_VERIFY_BATCH = 10_000


class VerifyRequest(_Body):
    document: JsonObject
    holder: Identity | None = Field(None, description="The holder's disclosed RIC:/USCC: identity, to check against "
                                                      "the certificate's pseudonym; it is neither stored nor logged")


class VerifyBatchRequest(_Body):
    documents: list[JsonObject] = Field(min_length=1, max_length=MAX_VERIFY_BATCH,
                                        description=f"Up to {MAX_VERIFY_BATCH} certificate documents")


class HolderKeyRequest(_Body):
    holder: Identity = Field(description="RIC:<citizen ID number> or USCC:<unified social credit code>, as verified by "
                                         "the holder channel; only its pseudonym is stored and logged")
    public_key: str = Field(alias="publicKey", max_length=1000,
                            description="The device's ECDSA P-256 or SM2 public key, PEM (SubjectPublicKeyInfo)")


class SignedRecord(_Body):
    """A consent or withdrawal record (docs/sharing.md) with the holder's P-256 or SM2 signature."""

    record: JsonObject
    signature: str = Field(pattern="^0x[0-9a-fA-F]{128}$", description="0x + r||s over SHA-256 of the record's "
                                                                       "RFC 8785 JSON")


class ShareRequest(_Body):
    service_item: Code = Field(alias="serviceItem")
    holder: str = Field(pattern=PSEUDONYM_PATTERN,
                        description="The holder's pseudonym (credentialSubject.id of their certificates), never "
                                    "their identity: a request naming a holder otherwise is refused before it is "
                                    "logged")
    consent: SignedRecord | None = Field(None, description="The holder's signed consent, if not given before")
    consent_id: str | None = Field(None, alias="consentId", pattern=HASH_PATTERN, description="A consent given before; default: any in "
                                                                        "force for this department and item")
    certificate_types: list[Code] | None = Field(None, alias="certificateTypes", min_length=1, max_length=64,
                                                description="Default: every type the item needs and the holder "
                                                            "consented to")
