"""The certificate document: a W3C Verifiable Credential (data model 2.0 field names) whose
subject fields are salted and hashed one by one, so a holder can redact fields and it still verifies.

    field hash        = H(JCS({"name": field, "salt": salt, "value": value}))
    certificate hash  = H(JCS({"metadata": {<the credential's fields but the subject and the proof>},
                               "fields": [<every field hash, hex, sorted>]}))

H is the hash of the document's crypto suite (`proof.cryptosuite`, `gateway.certificates.suites`):
keccak-256, or SM3 under `sm2-sm3`.

JCS is RFC 8785 canonical JSON. A redacted field leaves its hash in `proof.redactedFields` and
nothing else, so the certificate hash is unchanged. Only the certificate hash ever goes on chain.
The format is described, with a full example, in docs/certificate-format.md.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import os
import re
import uuid
from dataclasses import dataclass
from typing import Any, Iterable

import jsonschema
import rfc8785

from gateway.certificates.identifier import CertificateIdentifier, type_segment
from gateway.certificates.suites import DEFAULT_SUITE, CryptoSuite, suite_of
from gateway.errors import InvalidDocument, InvalidIdentifier, SchemaViolation
from ledger_node.canonical import content_hash

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
#: Where CertNet's JSON-LD context lives under a base URL (`CERTNET_CONTEXT_BASE_URL`); the gateway serves it there.
CERTNET_CONTEXT_PATH = "/ns/certificate/v1"
DEFAULT_CONTEXT_BASE_URL = "https://certnet.example"
CONTEXT = [VC_CONTEXT, DEFAULT_CONTEXT_BASE_URL + CERTNET_CONTEXT_PATH]
DOCUMENT_TYPES = ["VerifiableCredential", "CertNetCertificate"]
PROOF_TYPE = "CertNetSaltedFields2026"
SCHEMA_TYPE = "CertNetCatalogType"
DEPARTMENT_PREFIX = "urn:certnet:department:"
TYPE_PREFIX = "urn:certnet:type:"
#: Top-level fields the certificate hash commits to as metadata (the subject is committed field by field).
SUBJECT = "credentialSubject"
#: The national e-certificate identifier (`gateway.certificates.identifier`): in every document the gateway issues,
#: absent from those issued before it was introduced.
IDENTIFIER = "certificateIdentifier"
METADATA_FIELDS = ("@context", "type", "id", IDENTIFIER, "issuer", "validFrom", "validUntil", "credentialSchema")
SALT_BYTES = 16

# Bounds on any JSON a certificate carries and the gateway accepts: hashing, schema checks and
# storage stay cheap and never recurse without end, and RFC 8785 (the hash's canonical JSON) can
# serialise every number exactly — it takes only I-JSON integers, within ±(2^53 - 1).
MAX_JSON_DEPTH = 20  # nested objects/arrays, the outermost counting as 1
MAX_TEXT_LENGTH = 4096  # characters of one string: a subject field's value, a name, a URI
MAX_KEY_LENGTH = 128  # characters of one object key (a subject field's name)
MAX_SAFE_INTEGER = 2**53 - 1
MAX_TYPE_VERSION = 2**32 - 1  # the catalog's uint32
#: 9999-12-31T23:59:59Z: the latest date-time a document may state.
MAX_TIMESTAMP = 253_402_300_799
JSON_BOUNDS = (f"at most {MAX_JSON_DEPTH} levels of nesting, strings of at most {MAX_TEXT_LENGTH} characters, "
               f"keys of at most {MAX_KEY_LENGTH}, integers within ±(2^53 - 1), no NaN or infinity")


def json_bounds_problem(value: Any) -> str | None:
    """What breaks the JSON bounds in `value` (first found), or None. Iterative, so any depth is safe."""
    pending: list[tuple[Any, int, str]] = [(value, 1, "")]
    while pending:
        item, depth, where = pending.pop()
        if isinstance(item, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                return f"nested deeper than {MAX_JSON_DEPTH} levels{where}"
            if isinstance(item, dict):
                for key, child in item.items():
                    if not isinstance(key, str) or len(key) > MAX_KEY_LENGTH:
                        return f"a key longer than {MAX_KEY_LENGTH} characters{where}"
                    pending.append((child, depth + 1, f" at {key!r}"))
            else:
                pending.extend((child, depth + 1, where) for child in item)
        elif isinstance(item, str) and len(item) > MAX_TEXT_LENGTH:
            return f"a string of {len(item)} characters (at most {MAX_TEXT_LENGTH}){where}"
        elif isinstance(item, int) and not isinstance(item, bool) and abs(item) > MAX_SAFE_INTEGER:
            return f"an integer beyond ±(2^53 - 1){where}"
        elif isinstance(item, float) and not math.isfinite(item):
            return f"a number that is not finite{where}"
    return None


_JSON_STRING = re.compile(rb'"(?:[^"\\]+|\\.)*"', re.S)
_NOT_A_BRACKET = re.compile(rb"[^\[\]{}]+")


def nested_deeper_than(text: bytes, max_depth: int) -> bool:
    """Whether JSON text nests arrays and objects deeper than `max_depth`, found without parsing it.
    Needed before `json.loads` of untrusted text: web3 imports py_ecc, which raises Python's recursion
    limit to 100 000, so text nested that deep would overflow the C stack and kill the process."""
    if text.count(b"[") + text.count(b"{") <= max_depth:
        return False  # too few brackets to nest deeper: no scan
    depth = 0
    for bracket in _NOT_A_BRACKET.sub(b"", _JSON_STRING.sub(b"", text)):  # brackets outside strings
        depth += 1 if bracket in b"[{" else -1
        if depth > max_depth:
            return True
    return False


@dataclass(frozen=True)
class CertificateType:
    """A catalog type at one version, with the JSON schema whose hash the catalog records."""

    code: str
    version: int
    schema: dict[str, Any]

    @property
    def schema_hash(self) -> bytes:
        return content_hash(self.schema)


@dataclass(frozen=True)
class IssuerRef:
    code: str  # the department code as registered in the consortium
    name: str


def field_hash(name: str, value: Any, salt: str, suite: CryptoSuite = DEFAULT_SUITE) -> bytes:
    return suite.hash(rfc8785.dumps({"name": name, "salt": salt, "value": value}))


def to_timestamp(text: str) -> int:
    """Seconds since the epoch of an RFC 3339 date-time (`validFrom`, `validUntil`)."""
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        raise InvalidDocument(f"not an RFC 3339 date-time: {text!r}") from None
    if moment.tzinfo is None:
        raise InvalidDocument(f"date-time needs a time zone: {text!r}")
    timestamp = int(moment.timestamp())
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise InvalidDocument(f"date-time outside 1970-01-01 to 9999-12-31: {text!r}")
    return timestamp


def to_datetime_text(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def new_certificate(subject: dict[str, Any], holder: str, certificate_type: CertificateType, issuer: IssuerRef, *,
                    valid_from: dt.datetime, valid_until: dt.datetime | None = None,
                    context: list[str] = CONTEXT, identifier: CertificateIdentifier | None = None,
                    suite: CryptoSuite = DEFAULT_SUITE) -> dict[str, Any]:
    """An unsigned, unanchored certificate whose subject is `subject` plus the holder's pseudonym
    as `id`; the subject is checked against the type's schema first. `context` is the JSON-LD
    `@context` (`contexts_at` of the base URL the issuing gateway serves CertNet's context from);
    `identifier` its national identifier (the gateway allocates one; a document made offline has none);
    `suite` the consortium's crypto suite (stated in the proof unless it is the original one)."""
    if "id" in subject:
        raise InvalidDocument("the subject's `id` is the holder's pseudonym; pass the holder's identity instead")
    if valid_until is not None and valid_until <= valid_from:
        raise InvalidDocument("validUntil must be after validFrom")
    full_subject = {"id": holder, **subject}
    check_subject(full_subject, certificate_type.schema)
    document: dict[str, Any] = {
        "@context": list(context),
        "type": DOCUMENT_TYPES,
        "id": f"urn:uuid:{uuid.uuid4()}",
        **({IDENTIFIER: str(identifier)} if identifier else {}),
        "issuer": {"id": DEPARTMENT_PREFIX + issuer.code, "name": issuer.name},
        "validFrom": to_datetime_text(valid_from),
        **({"validUntil": to_datetime_text(valid_until)} if valid_until else {}),
        "credentialSchema": {
            "id": TYPE_PREFIX + certificate_type.code,
            "type": SCHEMA_TYPE,
            "version": certificate_type.version,
            "schemaHash": "0x" + certificate_type.schema_hash.hex(),
        },
        "credentialSubject": full_subject,
        "proof": {
            "type": PROOF_TYPE,
            **({"cryptosuite": suite.name} if suite is not DEFAULT_SUITE else {}),
            "salts": {name: os.urandom(SALT_BYTES).hex() for name in full_subject},
            "redactedFields": [],
        },
    }
    document["proof"]["certificateHash"] = "0x" + certificate_hash(document).hex()
    return document


def contexts_at(base_url: str) -> list[str]:
    """A document's `@context` when CertNet's context is served from `base_url`."""
    return [VC_CONTEXT, base_url.rstrip("/") + CERTNET_CONTEXT_PATH]


def check_subject(subject: dict[str, Any], schema: dict[str, Any]) -> None:
    """Raises `SchemaViolation` listing every place where `subject` breaks `schema`."""
    validator_class = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    problems = sorted(validator.iter_errors(subject), key=lambda e: list(e.absolute_path))
    if problems:
        listed = "; ".join(f"{'/'.join(map(str, p.absolute_path)) or 'subject'}: {p.message}" for p in problems)
        raise SchemaViolation(f"subject does not match the type's schema: {listed}",
                              problems=[p.message for p in problems])


def certificate_hash(document: dict[str, Any], *, shape_checked: bool = False) -> bytes:
    """The hash the issuer signs and anchors, recomputed from what the document shows (checking its
    shape first unless the caller just did)."""
    if not shape_checked:
        check_shape(document)
    subject, proof, suite = document["credentialSubject"], document["proof"], suite_of(document)
    fields = [field_hash(name, value, proof["salts"][name], suite) for name, value in subject.items()]
    fields += [bytes.fromhex(h.removeprefix("0x")) for h in proof["redactedFields"]]
    metadata = {name: document[name] for name in METADATA_FIELDS if name in document}
    return suite.hash(rfc8785.dumps({"metadata": metadata, "fields": sorted("0x" + f.hex() for f in fields)}))


def fields_changed(document: dict[str, Any], signed: dict[str, Any]) -> list[str]:
    """Where `document` differs from `signed`, the same certificate as its issuer signed it: each metadata
    field whose value changed (its name), and each subject field (`credentialSubject.<name>`) whose hash
    (value and salt) is not the signed one, that is missing without being redacted, or that was added.
    Empty when no field can be named (only redacted hashes or the proof changed)."""
    changed = [name for name in METADATA_FIELDS if document.get(name) != signed.get(name)]
    suite = suite_of(signed)
    signed_hashes = {name: field_hash(name, value, signed["proof"]["salts"][name], suite)
                     for name, value in signed["credentialSubject"].items()}
    subject, salts = document["credentialSubject"], document["proof"]["salts"]
    redacted = {bytes.fromhex(h.removeprefix("0x")) for h in document["proof"]["redactedFields"]}
    names = [name for name, value in subject.items()
             if signed_hashes.get(name) != field_hash(name, value, salts[name], suite)]
    names += [name for name, hashed in signed_hashes.items() if name not in subject and hashed not in redacted]
    return changed + [f"{SUBJECT}.{name}" for name in names]


def check_shape(document: Any) -> None:
    """Raises `InvalidDocument` naming the first way `document` is not a CertNet certificate."""
    if not isinstance(document, dict):
        raise InvalidDocument("a certificate is a JSON object")
    problem = json_bounds_problem(document)
    if problem:
        raise InvalidDocument(f"the document holds {problem}")
    allowed = set(METADATA_FIELDS) | {"credentialSubject", "proof"}
    unknown = sorted(set(document) - allowed)
    if unknown:
        raise InvalidDocument(f"unknown top-level fields {unknown}: the certificate hash would not cover them")
    for name in ("@context", "type", "id", "issuer", "validFrom", "credentialSchema", "credentialSubject", "proof"):
        if name not in document:
            raise InvalidDocument(f"missing `{name}`")
    subject, proof, schema = document["credentialSubject"], document["proof"], document["credentialSchema"]
    if not isinstance(subject, dict) or not isinstance(proof, dict) or not isinstance(schema, dict):
        raise InvalidDocument("`credentialSubject`, `credentialSchema` and `proof` are JSON objects")
    if proof.get("type") != PROOF_TYPE:
        raise InvalidDocument(f"proof type must be {PROOF_TYPE}")
    suite_of(document)  # a known suite, if stated
    salts, redacted = proof.get("salts"), proof.get("redactedFields")
    if not isinstance(salts, dict) or not isinstance(redacted, list):
        raise InvalidDocument("proof needs `salts` (an object) and `redactedFields` (a list)")
    if set(salts) != set(subject):
        raise InvalidDocument("every shown subject field needs exactly one salt, and no other salts may be present")
    if not all(isinstance(s, str) for s in salts.values()) or not all(_is_hash(h) for h in redacted):
        raise InvalidDocument("salts are strings and redacted fields are 0x-prefixed 32-byte hashes")
    if not isinstance(document["issuer"], dict) or not str(document["issuer"].get("id", "")).startswith(DEPARTMENT_PREFIX):
        raise InvalidDocument(f"issuer.id must start with {DEPARTMENT_PREFIX}")
    if not str(schema.get("id", "")).startswith(TYPE_PREFIX) or not _is_integer(schema.get("version"), 1, MAX_TYPE_VERSION) \
            or not _is_hash(schema.get("schemaHash")):
        raise InvalidDocument(f"credentialSchema needs id ({TYPE_PREFIX}...), an integer version (1 to "
                              f"{MAX_TYPE_VERSION}) and a schemaHash")
    signature = proof.get("signature")
    if isinstance(signature, dict) and "chainId" in signature and not _is_integer(signature["chainId"], 0,
                                                                                  MAX_SAFE_INTEGER):
        raise InvalidDocument("proof.signature.chainId must be an integer")
    to_timestamp(document["validFrom"])
    if "validUntil" in document:
        to_timestamp(document["validUntil"])
    if IDENTIFIER in document:
        _check_identifier(document)


def _check_identifier(document: dict[str, Any]) -> None:
    """`InvalidIdentifier` naming the field when the document's identifier is malformed, has a wrong check
    character, or names another department or type than the document does."""
    try:
        identifier = CertificateIdentifier.parse(document[IDENTIFIER])
    except InvalidIdentifier as error:
        raise InvalidIdentifier(f"{IDENTIFIER}: {error.message}", **error.details) from None
    if identifier.issuer != issuer_code(document):
        raise InvalidIdentifier(f"{IDENTIFIER} names the department {identifier.issuer}, the document's issuer is "
                                f"{issuer_code(document)}", identifier=document[IDENTIFIER])
    if identifier.type_segment != type_segment(type_code(document)):
        raise InvalidIdentifier(f"{IDENTIFIER} names the type {identifier.type_segment}, the document's type is "
                                f"{type_code(document)}", identifier=document[IDENTIFIER])


def _is_integer(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _is_hash(value: Any) -> bool:
    if not isinstance(value, str) or not value.startswith("0x") or len(value) != 66:
        return False
    try:
        bytes.fromhex(value[2:])
    except ValueError:
        return False
    return True


def redact(document: dict[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """A copy of `document` with `fields` of the subject replaced by their hashes. Signature and
    anchoring evidence stay valid, since the certificate hash does not change."""
    check_shape(document)
    redacted = copy.deepcopy(document)
    subject, proof, suite = redacted["credentialSubject"], redacted["proof"], suite_of(document)
    for name in dict.fromkeys(fields):
        if name not in subject:
            raise InvalidDocument(f"no shown subject field {name!r} to redact", field=name)
        proof["redactedFields"].append("0x" + field_hash(name, subject.pop(name), proof["salts"].pop(name), suite).hex())
    proof["redactedFields"].sort()
    return redacted


# ----- accessors used by signing, anchoring and verification -----

def stated_hash(document: dict[str, Any]) -> bytes:
    """The certificate hash the document claims (`proof.certificateHash`)."""
    value = document["proof"].get("certificateHash")
    if not _is_hash(value):
        raise InvalidDocument("proof.certificateHash is missing or not a 32-byte hash")
    return bytes.fromhex(value[2:])


def issuer_code(document: dict[str, Any]) -> str:
    return document["issuer"]["id"].removeprefix(DEPARTMENT_PREFIX)


def type_code(document: dict[str, Any]) -> str:
    return document["credentialSchema"]["id"].removeprefix(TYPE_PREFIX)


def type_version(document: dict[str, Any]) -> int:
    return int(document["credentialSchema"]["version"])


def schema_hash(document: dict[str, Any]) -> bytes:
    return bytes.fromhex(document["credentialSchema"]["schemaHash"][2:])


def valid_until(document: dict[str, Any]) -> int:
    """`validUntil` in seconds, 0 when the certificate does not expire (as the registry stores it)."""
    return to_timestamp(document["validUntil"]) if "validUntil" in document else 0
