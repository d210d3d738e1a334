"""Sharing: holders' device keys (holder channel), consents (the holder, by signature) and sharing
requests (relying departments). Rules and refusal codes: `gateway.sharing.share`, docs/sharing.md."""

from __future__ import annotations

import time

from fastapi import APIRouter

from gateway.api.deps import HolderChannel, Member, RecordIdPath, RelyingParty, Services
from gateway.api.views import ConsentView, HolderKeyView, SharedCertificates, SignedConsentView
from gateway.certificates.identity import HolderId
from gateway.errors import Forbidden
from gateway.models import HolderKeyRequest, ShareRequest, SignedRecord
from gateway.sharing.holders import consent_view
from ledger_node.types import Role

router = APIRouter(prefix="/v1")


@router.post("/holders/keys", status_code=201, summary="Register a holder's device key (holder channel)")
def register_key(body: HolderKeyRequest, caller: HolderChannel, gateway: Services) -> HolderKeyView:
    return HolderKeyView.model_validate(gateway.holders.register_key(caller.department, HolderId.parse(body.holder),
                                                                     body.public_key))


@router.delete("/holders/keys/{key_id}", summary="Revoke a holder's lost or replaced device key (holder channel)")
def revoke_key(key_id: RecordIdPath, caller: HolderChannel, gateway: Services) -> HolderKeyView:
    return HolderKeyView.model_validate(gateway.holders.revoke_key(caller.department, key_id))


@router.post("/consents", status_code=201, summary="Give a consent signed by the holder (the signature authenticates)")
def give_consent(body: SignedRecord, gateway: Services) -> ConsentView:
    return ConsentView.model_validate(consent_view(gateway.sharing.give_consent(body), time.time()))


@router.get("/consents/{consent_id}", summary="A consent with its signed record (its grantee, or auditors)")
def read_consent(consent_id: RecordIdPath, caller: Member, gateway: Services) -> SignedConsentView:
    consent = gateway.holders.consent(consent_id)
    if consent.grantee != caller.department and not gateway.chain.department(caller.department).roles & Role.AUDITOR:
        raise Forbidden("only the department the consent is for, or an auditor, may read it")
    gateway.audit.record(caller.department, "consent_read", consent=consent.id, holder=consent.holder,
                         outcome="read")
    return SignedConsentView.model_validate({**consent_view(consent, time.time()), "record": consent.record,
                                             "signature": consent.signature, "withdrawal": consent.withdrawal})


@router.post("/consents/{consent_id}/withdraw", summary="Withdraw a consent, with a withdrawal signed by the holder")
def withdraw_consent(consent_id: RecordIdPath, body: SignedRecord, gateway: Services) -> ConsentView:
    return ConsentView.model_validate(consent_view(gateway.holders.withdraw(consent_id, body.record, body.signature),
                                                   time.time()))


@router.post("/sharing/requests", summary="A holder's certificates for a service item the caller handles")
def share(body: ShareRequest, caller: RelyingParty, gateway: Services) -> SharedCertificates:
    return SharedCertificates.model_validate(gateway.sharing.share(caller.department, body))
