"""Sharing requests: a relying department handling a service item asks for a holder's certificates.

Every rule is checked on each request, against the chain and the consents as they are at that
moment, in this order (the first that fails is the refusal's code, docs/sharing.md):

1. the service item exists and the caller's department handles it: its owner or a department the
   owner added (`not_handling_service_item`);
2. a consent of the holder for this department and item is in force (`no_consent`,
   `consent_mismatch`, `consent_not_yet_valid`, `consent_expired`, `consent_withdrawn`,
   `consent_key_revoked`, `invalid_consent_signature`); a consent given with the request that could
   never be used is invalid input (422: `unknown_service_item`, `grantee_not_handling_service_item`,
   `type_not_needed`), as when it is given on its own;
3. each type asked for is one the item needs (`type_not_needed`) and the holder consented to
   (`type_not_consented`); the type's owner lets this department (`department_not_relying`) and
   this item (`item_not_allowed_for_type`) use it;
4. at least one of the holder's certificates of those types verifies as valid now
   (`no_certificate`, `certificate_revoked`, `certificate_expired`, `no_valid_certificate`); of
   each type, only the holder's newest SHARED_PER_TYPE are looked at, so that an answer is bounded.

The certificates returned are the issuing departments' stored documents with their anchoring
evidence; the relying department verifies them like any other. Each request, granted or refused,
is appended to the access log with the certificates it named.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Mapping

from gateway.audit.trail import AuditTrail
from gateway.certificates.catalog import checked_code32, lookup
from gateway.certificates.verification import Outcome, Verdict, Verifier
from gateway.chain import Chain
from gateway.db import Consent
from gateway.errors import GatewayError, NotFound, Refused, UnusableConsent
from gateway.issuance import Issuance
from gateway.models import ShareRequest, SignedRecord
from gateway.sharing.consent import ConsentRecord
from gateway.sharing.holders import Holders, consent_state
from ledger_node.chainstate import code_text
from ledger_node.types import code32

#: How many of a holder's certificates of one type a sharing request looks at (the newest): a
#: holder's current certificate of a type is among its newest, and each one looked at is verified.
SHARED_PER_TYPE = 10
#: Which failed verification check withholds a certificate for which refusal reason.
WITHHELD_REASONS = {"not_revoked": "certificate_revoked", "not_superseded": "certificate_revoked",
                    "validity": "certificate_expired"}


@dataclass(frozen=True)
class ServiceItem:
    code: str
    owner: str  # the department that registered it; it may add other handling departments
    required_types: tuple[str, ...]


@dataclass(frozen=True)
class Permissions:
    """What the catalog lets one department do with one service item now: handle it, and, per type
    the item needs, rely on the type and use it for this item."""

    handles: bool
    relying: dict[str, bool]
    item_allowed: dict[str, bool]


class Sharing:
    def __init__(self, chain: Chain, holders: Holders, issuance: Issuance, verifier: Verifier,
                 audit: AuditTrail) -> None:
        self.chain = chain
        self.holders = holders
        self.issuance = issuance
        self.verifier = verifier
        self.audit = audit
        self._items: dict[str, ServiceItem] = {}

    def service_item(self, code: str) -> ServiceItem:
        """The item as the catalog has it (kept: an item's owner and needed types never change);
        `NotFound` for an unknown code."""
        if code not in self._items:
            _code, owner, _registered, required = lookup(self.chain.deployment.catalog.functions.serviceItem(
                checked_code32(code, "service item")), f"no service item {code!r} in the catalog")
            self._items[code] = ServiceItem(code, code_text(owner), tuple(code_text(t) for t in required))
        return self._items[code]

    def give_consent(self, signed: SignedRecord, submitted_by: str | None = None) -> Consent:
        """Stores a holder's signed consent (`Holders.accept_consent`), unless it could never be
        used: `UnusableConsent` (422) for an unknown service item, a grantee that does not handle
        it, or a type it does not need — the holder learns at once, not at the department's request."""
        return self.holders.accept_consent(signed.record, signed.signature, submitted_by, self._usable)

    def _usable(self, consent: ConsentRecord) -> None:
        try:
            item = self.service_item(consent.serviceItem)
        except NotFound:
            raise UnusableConsent("unknown_service_item", f"no service item {consent.serviceItem!r} in the "
                                                          "catalog") from None
        grantee = checked_code32(consent.grantee, "grantee department")
        if not self.chain.calls.read([self.chain.deployment.catalog.functions.isServiceItemHandler(code32(item.code),
                                                                                              grantee)])[0]:
            raise UnusableConsent("grantee_not_handling_service_item", f"{consent.grantee} does not handle service "
                                  f"item {item.code} (owned by {item.owner})", owner=item.owner)
        unneeded = [code for code in consent.certificateTypes if code not in item.required_types]
        if unneeded:
            raise UnusableConsent("type_not_needed", f"service item {item.code} does not need certificates of type "
                                  f"{', '.join(unneeded)}", certificateTypes=unneeded, needed=list(item.required_types))

    def share(self, department: str, request: ShareRequest, *, noted: Mapping[str, str] | None = None
              ) -> dict[str, Any]:
        """The holder's currently valid certificates this department may have for this item, or `Refused`.
        `noted`: more fields for the access-log entry (the GB/T 36906 adapter's interface and reason hash)."""
        entry: dict[str, Any] = {"serviceItem": request.service_item, "holder": request.holder, **(noted or {}),
                                 "certificates": []}
        try:
            result = self._share(department, request, entry)
        except GatewayError as error:
            self.audit.record(department, "share", **entry, outcome=error.code)
            raise
        self.audit.record(department, "share", **entry, outcome="shared")
        return result

    def _share(self, department: str, request: ShareRequest, entry: dict[str, Any]) -> dict[str, Any]:
        item = self.service_item(request.service_item)
        permissions = self._permissions(department, item)
        if not permissions.handles:
            raise Refused("not_handling_service_item", f"{department} does not handle service item {item.code} "
                                                       f"(owned by {item.owner})", owner=item.owner)
        consent = self._consent_in_force(department, request)
        entry["consent"] = consent.id
        types = self._types(department, item, request, consent, permissions)
        certificates, withheld = [], []
        for document in self.issuance.held_by(request.holder, types, newest=SHARED_PER_TYPE):
            report = self.verifier.verify(document)
            entry["certificates"].append(report.certificate_hash)
            if report.verdict is Verdict.VALID:
                certificates.append(document)
            else:
                failed = next(c for c in report.checks if c.outcome is not Outcome.VALID)
                withheld.append({"certificateHash": report.certificate_hash, "check": failed.name,
                                 "reason": failed.reason})
        if not certificates:
            raise _nothing_valid(types, withheld)
        return {"serviceItem": item.code, "holder": request.holder, "consent": consent.id,
                "certificateTypes": list(types), "certificates": certificates, "withheld": withheld}

    def _consent_in_force(self, department: str, request: ShareRequest) -> Consent:
        if request.consent is not None:
            candidates = [self.give_consent(request.consent, department)]
        elif request.consent_id is not None:
            candidates = [self.holders.consent(request.consent_id)]
        else:
            candidates = self.holders.consents_for(request.holder, department, request.service_item)
        if not candidates:
            raise Refused("no_consent", f"the holder has given {department} no consent for service item "
                                        f"{request.service_item}")
        now = time.time()
        for consent in candidates:
            if (consent.holder, consent.grantee, consent.service_item) != \
                    (request.holder, department, request.service_item):
                raise Refused("consent_mismatch", "the consent is for another holder, department or service item",
                              consent=consent.id)
            if consent_state(consent, now) == "active" and not self.holders.key_revoked(consent.key_id):
                return consent
        newest = candidates[0]
        state = consent_state(newest, now)
        if state == "active":
            raise Refused("consent_key_revoked", "the key that signed the consent has been revoked",
                          consent=newest.id)
        reason = {"withdrawn": "consent_withdrawn", "expired": "consent_expired",
                  "pending": "consent_not_yet_valid"}[state]
        raise Refused(reason, f"the holder's consent {newest.id} is {state}", consent=newest.id)

    def _permissions(self, department: str, item: ServiceItem) -> Permissions:
        """The catalog's permissions for `department` and `item`, read from the chain's head in one
        request (a type owner's or item owner's change applies to the next request)."""
        catalog, item_code, caller = self.chain.deployment.catalog.functions, code32(item.code), code32(department)
        handles, *per_type = self.chain.calls.read([
            catalog.isServiceItemHandler(item_code, caller),
            *(check for code in item.required_types for check in (
                catalog.isRelyingDepartment(code32(code), caller), catalog.isServiceItemAllowed(code32(code), item_code)))])
        return Permissions(handles, dict(zip(item.required_types, per_type[0::2])),
                           dict(zip(item.required_types, per_type[1::2])))

    def _types(self, department: str, item: ServiceItem, request: ShareRequest, consent: Consent,
               permissions: Permissions) -> tuple[str, ...]:
        consented = consent.record["certificateTypes"]
        asked = request.certificate_types or [t for t in item.required_types if t in consented]
        for code in asked:
            if code not in item.required_types:
                raise Refused("type_not_needed", f"service item {item.code} does not need certificates of type "
                                                 f"{code}", certificateType=code, needed=list(item.required_types))
            if code not in consented:
                raise Refused("type_not_consented", f"the holder did not consent to sharing type {code}",
                              certificateType=code)
            if not permissions.relying[code]:
                raise Refused("department_not_relying", f"the owner of type {code} does not let {department} use it",
                              certificateType=code)
            if not permissions.item_allowed[code]:
                raise Refused("item_not_allowed_for_type", f"the owner of type {code} does not allow service item "
                                                           f"{item.code} to use it", certificateType=code)
        if not asked:
            raise Refused("type_not_consented", "the consent covers none of the types the service item needs",
                          needed=list(item.required_types))
        return tuple(asked)


def _nothing_valid(types: tuple[str, ...], withheld: list[dict[str, Any]]) -> Refused:
    if not withheld:
        return Refused("no_certificate", f"this gateway holds no anchored certificate of {', '.join(types)} for "
                                         "the holder", certificateTypes=list(types))
    reasons = {WITHHELD_REASONS.get(w["check"], "no_valid_certificate") for w in withheld}
    reason = reasons.pop() if len(reasons) == 1 else "no_valid_certificate"
    return Refused(reason, f"none of the holder's {len(withheld)} certificates of {', '.join(types)} is valid now",
                   withheld=withheld)
