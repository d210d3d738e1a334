"""Holder consent records and their ECDSA P-256 or SM2 signatures (docs/sharing.md is the format's reference).

A consent is a JSON object the holder's device signs: which relying department (`grantee`) may
receive the holder's certificates of which types, for which service item, between `notBefore`
and `notAfter`. The holder appears only as the pseudonym of their certificates. The signature is
ECDSA P-256 with SHA-256 over the record's RFC 8785 (JCS) serialisation, as `0x` + r‖s (64
bytes, as JWS ES256) — what phones' secure elements and ID cards produce; or, from a holder whose
device holds an SM2 key (the national algorithm), SM2 with the default user ID over the same bytes (SM3
inside the signature), also `0x` + r‖s. The record's id is the
SHA-256 of that same serialisation. A withdrawal is a second record, signed the same way, naming
the consent's id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path
from typing import Any, Callable, Literal

import rfc8785
from ecdsa import NIST256p, BadSignatureError, SigningKey, VerifyingKey
from ecdsa.util import sigdecode_string, sigencode_string
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.certificates.document import to_datetime_text
from gateway.certificates.identity import PSEUDONYM_PATTERN
from gateway.errors import InvalidInput
from ledger_node.sm2 import Sm2KeyError, Sm2PrivateKey, Sm2PublicKey

CONSENT_TYPE = "CertNetConsent"
WITHDRAWAL_TYPE = "CertNetConsentWithdrawal"
#: The longest a consent may last: it is for one service item's handling, not a standing permission.
MAX_CONSENT_DAYS = 366
_CODE = Field(min_length=1, max_length=32)


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConsentRecord(_Record):
    type: Literal["CertNetConsent"]
    version: Literal[1]
    holder: str = Field(pattern=PSEUDONYM_PATTERN)
    grantee: str = _CODE
    serviceItem: str = _CODE
    certificateTypes: list[str] = Field(min_length=1, max_length=32)
    notBefore: dt.datetime
    notAfter: dt.datetime
    nonce: str = Field(min_length=16, max_length=64)


class WithdrawalRecord(_Record):
    type: Literal["CertNetConsentWithdrawal"]
    version: Literal[1]
    consent: str = Field(pattern="^0x[0-9a-f]{64}$")
    withdrawnAt: dt.datetime


def record_id(record: dict[str, Any]) -> str:
    """The record's id: SHA-256 of its RFC 8785 serialisation (what the signature covers)."""
    return "0x" + hashlib.sha256(rfc8785.dumps(record)).hexdigest()


def parse_consent(record: dict[str, Any]) -> ConsentRecord:
    consent = _parse(ConsentRecord, record, "consent")
    if consent.notBefore.tzinfo is None or consent.notAfter.tzinfo is None:
        raise InvalidInput("notBefore and notAfter need a time zone (e.g. 2026-11-24T08:00:00Z)")
    if not consent.notBefore < consent.notAfter <= consent.notBefore + dt.timedelta(days=MAX_CONSENT_DAYS):
        raise InvalidInput(f"notAfter must follow notBefore by at most {MAX_CONSENT_DAYS} days")
    return consent


def parse_withdrawal(record: dict[str, Any]) -> WithdrawalRecord:
    return _parse(WithdrawalRecord, record, "withdrawal")


def _parse(model: type[_Record], record: dict[str, Any], what: str) -> Any:
    try:
        return model.model_validate(record)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'record'}: {e['msg']}" for e in error.errors())
        raise InvalidInput(f"not a {what} record: {problems}") from None


def new_consent(holder: str, grantee: str, service_item: str, certificate_types: list[str], *,
                not_before: dt.datetime, not_after: dt.datetime) -> dict[str, Any]:
    """A consent record ready to sign (with a fresh nonce, so that equal grants have distinct ids)."""
    return {"type": CONSENT_TYPE, "version": 1, "holder": holder, "grantee": grantee, "serviceItem": service_item,
            "certificateTypes": list(certificate_types), "notBefore": to_datetime_text(not_before),
            "notAfter": to_datetime_text(not_after), "nonce": os.urandom(16).hex()}


def new_withdrawal(consent_id: str, withdrawn_at: dt.datetime) -> dict[str, Any]:
    return {"type": WITHDRAWAL_TYPE, "version": 1, "consent": consent_id, "withdrawnAt": to_datetime_text(withdrawn_at)}


# ----- keys and signatures -----

#: The curves a holder's device key may be on.
HOLDER_CURVES = ("P-256", "SM2")
#: A holder's device key: ECDSA P-256 (ecdsa) or SM2 (`ledger_node.sm2`, Tongsuo); both have `to_pem`, `to_der`.
HolderSigningKey = SigningKey | Sm2PrivateKey
HolderPublicKey = VerifyingKey | Sm2PublicKey


def new_holder_key(curve: str = "P-256") -> HolderSigningKey:
    """A key as a holder's device would hold it (development and tests: the real one never leaves the device)."""
    if curve == "SM2":
        return Sm2PrivateKey.generate()
    return SigningKey.generate(curve=NIST256p, hashfunc=hashlib.sha256)


def holder_public_key(key: HolderSigningKey) -> HolderPublicKey:
    return key.verifying_key() if isinstance(key, Sm2PrivateKey) else key.get_verifying_key()


def load_signing_key(path: Path) -> HolderSigningKey:
    """A holder's private key from a PEM file (for development: a real one never leaves the device)."""
    try:
        return Sm2PrivateKey.from_pem(path.read_bytes())
    except (Sm2KeyError, OSError):
        pass  # a P-256 key, or what `_p256` reports
    return _p256(lambda: SigningKey.from_pem(path.read_bytes(), hashfunc=hashlib.sha256),
                 f"{path}: not a PEM private key")


def load_public_key(pem: str) -> HolderPublicKey:
    """A holder's public key from PEM (SubjectPublicKeyInfo): P-256 or SM2."""
    try:
        return Sm2PublicKey.from_pem(pem.encode())
    except Sm2KeyError:
        pass  # a P-256 key, or what `_p256` reports
    return _p256(lambda: VerifyingKey.from_pem(pem, hashfunc=hashlib.sha256), "not a PEM public key")


def _p256(load: Callable[[], Any], malformed: str) -> Any:
    try:
        key = load()
    except FileNotFoundError as error:
        raise InvalidInput(f"{error.filename}: no such file") from None
    except Exception as error:  # ecdsa raises several unrelated types for malformed input
        raise InvalidInput(f"{malformed}: {error}") from None
    if key.curve != NIST256p:
        raise InvalidInput(f"holder keys are ECDSA P-256 or SM2, not {key.curve.name}")
    return key


def key_id(key: HolderPublicKey) -> str:
    """SHA-256 of the key's DER SubjectPublicKeyInfo."""
    return "0x" + hashlib.sha256(key.to_der()).hexdigest()


def sign_record(key: HolderSigningKey, record: dict[str, Any]) -> str:
    if isinstance(key, Sm2PrivateKey):
        return "0x" + key.sign(rfc8785.dumps(record)).hex()
    return "0x" + key.sign_deterministic(rfc8785.dumps(record), hashfunc=hashlib.sha256,
                                         sigencode=sigencode_string).hex()


def signed_by(key: HolderPublicKey, record: dict[str, Any], signature: str) -> bool:
    try:
        raw = bytes.fromhex(signature.removeprefix("0x"))
        if isinstance(key, Sm2PublicKey):
            return key.verify(rfc8785.dumps(record), raw)
        return len(raw) == 64 and key.verify(raw, rfc8785.dumps(record), hashfunc=hashlib.sha256,
                                             sigdecode=sigdecode_string)
    except (ValueError, BadSignatureError):
        return False
