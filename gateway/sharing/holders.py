"""Holders' device keys and the consents they sign.

A department with the holder-channel role (the city's service app, which has verified the
citizen or company in person or by ID card) registers a holder's P-256 public key for the holder's
pseudonym; it never learns more than the gateway already knows. Consents and withdrawals need no
department credential: the holder's signature with a registered, unrevoked key is the
authentication. A consent's id is its content hash, so a withdrawn consent stays withdrawn however
often it is submitted again.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.certificates.document import to_datetime_text
from gateway.certificates.identity import HolderId, pseudonym
from gateway.db import Consent, HolderKey
from gateway.errors import Conflict, NotFound, Refused
from gateway.sharing.consent import key_id, load_public_key, parse_consent, parse_withdrawal, record_id, signed_by


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
    def __init__(self, sessions: sessionmaker, *, pseudonym_key: bytes) -> None:
        self.sessions = sessions
        self.pseudonym_key = pseudonym_key

    # ----- keys (the holder channel) -----

    def register_key(self, channel: str, holder: HolderId, public_key_pem: str) -> dict[str, Any]:
        """Registers the key for the holder's pseudonym; repeating it changes nothing."""
        key = load_public_key(public_key_pem)
        holder_pseudonym = pseudonym(self.pseudonym_key, holder)
        with self.sessions.begin() as session:
            row = session.get(HolderKey, key_id(key))
            if row is not None and (row.holder != holder_pseudonym or row.revoked_at is not None):
                raise Conflict("this key is registered to another holder or was revoked; a device makes a new key",
                               keyId=row.key_id)
            if row is None:
                row = HolderKey(key_id=key_id(key), holder=holder_pseudonym, public_key=key.to_pem().decode(),
                                registered_by=channel)
                session.add(row)
        return key_view(row)

    def revoke_key(self, key: str) -> dict[str, Any]:
        """Revokes a lost or replaced device key: consents it signed are no longer honoured."""
        with self.sessions.begin() as session:
            row = session.get(HolderKey, key)
            if row is None:
                raise NotFound(f"no holder key {key}")
            row.revoked_at = row.revoked_at or time.time()
        return key_view(row)

    # ----- consents (the holder, by signature) -----

    def accept_consent(self, record: dict[str, Any], signature: str) -> Consent:
        """Stores a consent signed by a registered key of its holder (once: its id is its hash)."""
        consent = parse_consent(record)
        with self.sessions.begin() as session:
            found = session.get(Consent, record_id(record))
            if found is not None:
                return found
            signer = self._signer(session, consent.holder, record, signature, "consent")
            row = Consent(id=record_id(record), holder=consent.holder, grantee=consent.grantee,
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
        with self.sessions.begin() as session:
            row = session.get(Consent, consent_id)
            if row is None:
                raise NotFound(f"no consent {consent_id}")
            self._signer(session, row.holder, record, signature, "withdrawal")
            if row.withdrawn_at is None:
                row.withdrawn_at = time.time()
                row.withdrawal = {"record": record, "signature": signature}
        return row

    def consent(self, consent_id: str) -> Consent:
        with self.sessions() as session:
            row = session.get(Consent, consent_id)
        if row is None:
            raise NotFound(f"no consent {consent_id}")
        return row

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
