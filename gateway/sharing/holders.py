"""Holders' device keys and the consents they sign.

A department with the holder-channel role (the city's service app, which has verified the
citizen or company in person or by ID card) registers a holder's P-256 public key for the holder's
pseudonym; it never learns more than the gateway already knows. Consents and withdrawals need no
department credential: the holder's signature with a registered, unrevoked key is the
authentication. A consent's id is its content hash, so a withdrawn consent stays withdrawn however
often it is submitted again.

Each change is an access-log entry committed with it (who, the holder's pseudonym, the key or
consent id, the outcome): every registration or revocation a holder channel asks for, refusals
included, and every consent given or withdrawn by a valid signature. Unsigned or badly signed
submissions are not logged, so nobody without a holder's key can fill the log.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.audit.trail import AuditTrail
from gateway.certificates.document import to_datetime_text
from gateway.certificates.identity import HolderId, pseudonym
from gateway.db import Consent, HolderKey
from gateway.errors import Conflict, NotFound, Refused
from gateway.sharing.consent import (ConsentRecord, key_id, load_public_key, parse_consent, parse_withdrawal,
                                     record_id, signed_by)


def _time(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return to_datetime_text(dt.datetime.fromtimestamp(seconds, dt.timezone.utc))


def key_view(row: HolderKey) -> dict[str, Any]:
    return {"keyId": row.key_id, "holder": row.holder, "registeredBy": row.registered_by,
            "registeredAt": _time(row.registered_at), "revokedAt": _time(row.revoked_at)}


def consent_state(row: Consent, now: float) -> str:
    """withdrawn | expired | pending (not yet valid) | active, at `now`."""
    if row.withdrawn_at is not None:
        return "withdrawn"
    if now >= row.not_after:
        return "expired"
    return "pending" if now < row.not_before else "active"


def consent_view(row: Consent, now: float) -> dict[str, Any]:
    return {"id": row.id, "state": consent_state(row, now), "holder": row.holder, "grantee": row.grantee,
            "serviceItem": row.service_item, "certificateTypes": row.record["certificateTypes"],
            "notBefore": row.record["notBefore"], "notAfter": row.record["notAfter"], "keyId": row.key_id,
            "withdrawnAt": _time(row.withdrawn_at)}


class Holders:
    def __init__(self, sessions: sessionmaker, audit: AuditTrail, *, pseudonym_key: bytes) -> None:
        self.sessions = sessions
        self.audit = audit
        self.pseudonym_key = pseudonym_key

    # ----- keys (the holder channel) -----

    def register_key(self, channel: str, holder: HolderId, public_key_pem: str) -> dict[str, Any]:
        """Registers the key for the holder's pseudonym; repeating it changes nothing."""
        with self.audit.recorded(channel, "holder_key_register",
                                 holder=pseudonym(self.pseudonym_key, holder)) as (session, entry):
            key = load_public_key(public_key_pem)
            entry["key"] = key_id(key)
            row = session.get(HolderKey, entry["key"])
            if row is not None and (row.holder != entry["holder"] or row.revoked_at is not None):
                raise Conflict("this key is registered to another holder or was revoked; a device makes a new key",
                               keyId=row.key_id)
            entry["outcome"] = "unchanged" if row else "registered"
            if row is None:
                row = HolderKey(key_id=entry["key"], holder=entry["holder"], public_key=key.to_pem().decode(),
                                registered_by=channel)
                session.add(row)
        return key_view(row)

    def revoke_key(self, channel: str, key: str) -> dict[str, Any]:
        """Revokes a lost or replaced device key: consents it signed are no longer honoured."""
        with self.audit.recorded(channel, "holder_key_revoke", key=key) as (session, entry):
            row = session.get(HolderKey, key)
            if row is None:
                raise NotFound(f"no holder key {key}")
            entry["holder"], entry["outcome"] = row.holder, "unchanged" if row.revoked_at else "revoked"
            row.revoked_at = row.revoked_at or time.time()
        return key_view(row)

    # ----- consents (the holder, by signature) -----

    def accept_consent(self, record: dict[str, Any], signature: str, submitted_by: str | None,
                       usable: Callable[[ConsentRecord], None]) -> Consent:
        """Stores a consent signed by a registered key of its holder (once: its id is its hash),
        unless `usable` refuses it. `submitted_by`: the department that passed it on, or None when
        the holder gave it directly."""
        consent, consent_id = parse_consent(record), record_id(record)
        with self.sessions() as session:
            found = session.get(Consent, consent_id)
            if found is not None:
                return found
            signer = self._signer(session, consent.holder, record, signature, "consent")
        with self.audit.recorded(submitted_by, "consent_give", holder=consent.holder, key=signer.key_id,
                                 consent=consent_id, grantee=consent.grantee, serviceItem=consent.serviceItem,
                                 certificateTypes=consent.certificateTypes) as (session, entry):
            usable(consent)
            row = session.get(Consent, consent_id)
            entry["outcome"] = "unchanged" if row else "given"
            if row is None:
                row = Consent(id=consent_id, holder=consent.holder, grantee=consent.grantee,
                              service_item=consent.serviceItem, not_before=consent.notBefore.timestamp(),
                              not_after=consent.notAfter.timestamp(), record=record, signature=signature,
                              key_id=signer.key_id)
                session.add(row)
        return row

    def withdraw(self, consent_id: str, record: dict[str, Any], signature: str) -> Consent:
        """Withdraws a consent at once; the withdrawal must be signed by a key of the same holder."""
        withdrawal = parse_withdrawal(record)
        if withdrawal.consent != consent_id:
            raise Refused("withdrawal_mismatch", "the withdrawal record names another consent",
                          consent=withdrawal.consent)
        with self.sessions() as session:
            row = self._consent(session, consent_id)
            signer = self._signer(session, row.holder, record, signature, "withdrawal")
        if row.withdrawn_at is not None:
            return row
        with self.audit.recorded(None, "consent_withdraw", holder=row.holder, key=signer.key_id,
                                 consent=consent_id) as (session, entry):
            row = self._consent(session, consent_id)
            entry["outcome"] = "unchanged" if row.withdrawn_at else "withdrawn"
            if row.withdrawn_at is None:
                row.withdrawn_at = time.time()
                row.withdrawal = {"record": record, "signature": signature}
        return row

    @staticmethod
    def _consent(session: Session, consent_id: str) -> Consent:
        row = session.get(Consent, consent_id)
        if row is None:
            raise NotFound(f"no consent {consent_id}")
        return row

    def consent(self, consent_id: str) -> Consent:
        with self.sessions() as session:
            return self._consent(session, consent_id)

    def consents_for(self, holder: str, grantee: str, service_item: str) -> list[Consent]:
        with self.sessions() as session:
            return list(session.scalars(select(Consent).where(
                Consent.holder == holder, Consent.grantee == grantee, Consent.service_item == service_item)
                .order_by(Consent.received_at.desc())))

    def key_revoked(self, key: str) -> bool:
        with self.sessions() as session:
            row = session.get(HolderKey, key)
        return row is None or row.revoked_at is not None

    def _signer(self, session: Session, holder: str, record: dict[str, Any], signature: str,
                what: str) -> HolderKey:
        for row in session.scalars(select(HolderKey).where(HolderKey.holder == holder,
                                                           HolderKey.revoked_at.is_(None))):
            if signed_by(load_public_key(row.public_key), record, signature):
                return row
        raise Refused("invalid_consent_signature", f"the {what} is not signed by a registered, unrevoked key of "
                                                   "its holder")
