"""Sharing with consent over HTTP: the housing bureau (ZJ) handles the property-registration item
that needs civil affairs' (MZ) marriage certificate; holders' keys come from the holder channel
(ZWB). Each refusal reason, consent expiry and withdrawal at once, and the access log's record."""

from __future__ import annotations

import datetime as dt
import itertools
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import httpx
import pytest
from web3.contract.contract import ContractFunction

from gateway.certificates.suites import SM2_SM3
from gateway.sharing.consent import (HolderSigningKey, holder_public_key, key_id, new_consent, new_holder_key,
                                     new_withdrawal, record_id, sign_record)
from gateway.sharing.share import SHARED_PER_TYPE
from ledger_node.transactions import transact
from ledger_node.types import code32
from tests.conftest import (DEMO_DEPARTMENTS, MZ_MARRIAGE, TEST_CRYPTO, GatewayProcess, citizen_id, demo_account,
                            marriage_request, wait_done)

pytestmark = pytest.mark.slow

ITEM = "320100-SX-ZJ-0001"  # 商品房买卖合同网签备案（夫妻共有产权）: owned by ZJ, also handled by GH; needs MZ_MARRIAGE
ZJ, GH = DEMO_DEPARTMENTS["ZJ"], DEMO_DEPARTMENTS["GH"]
_serials = itertools.count(100)
#: Holders consent with SM2 device keys where the consortium runs the national suite, with P-256 ones otherwise.
HOLDER_CURVE = "SM2" if TEST_CRYPTO == SM2_SM3.name else "P-256"


@dataclass
class Holder:
    id: str  # RIC:...
    key: HolderSigningKey
    pseudonym: str = ""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _register(gateway: GatewayProcess, holder: Holder) -> httpx.Response:
    return gateway.client.post("/v1/holders/keys", headers=gateway.auth("ZWB"), json={
        "holder": holder.id, "publicKey": holder_public_key(holder.key).to_pem().decode()})


@pytest.fixture
def holder(gateway_http: GatewayProcess) -> Holder:
    """A new holder whose device key the holder channel registered."""
    registered = Holder(citizen_id(next(_serials)), new_holder_key(HOLDER_CURVE))
    response = _register(gateway_http, registered)
    assert response.status_code == 201, response.text
    registered.pseudonym = response.json()["holder"]
    return registered


def _issue(gateway: GatewayProcess, holder: Holder, **changes: Any) -> dict[str, Any]:
    response = gateway.client.post("/v1/certificates", headers=gateway.auth("MZ"),
                                   json={**marriage_request(f"SHARE-{holder.id[-6:]}-{time.time_ns()}", holder.id),
                                         **changes})
    assert response.status_code == 201, response.text
    document = response.json()["certificate"]
    assert document["credentialSubject"]["id"] == holder.pseudonym
    return document


def _signed_consent(holder: Holder, *, grantee: str = ZJ, item: str = ITEM, types: tuple[str, ...] = (MZ_MARRIAGE,),
                    lasting: dt.timedelta = dt.timedelta(hours=1), key: HolderSigningKey | None = None) -> dict[str, Any]:
    start = _now() - dt.timedelta(minutes=1)
    record = new_consent(holder.pseudonym, grantee, item, list(types), not_before=start, not_after=start + lasting)
    return {"record": record, "signature": sign_record(key or holder.key, record)}


def _give(gateway: GatewayProcess, signed: dict[str, Any]) -> httpx.Response:
    return gateway.client.post("/v1/consents", json=signed)


def _consented(gateway: GatewayProcess, holder: Holder, **kwargs: Any) -> str:
    response = _give(gateway, _signed_consent(holder, **kwargs))
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _share(gateway: GatewayProcess, holder: Holder, caller: str = "ZJ", **body: Any) -> httpx.Response:
    return gateway.client.post("/v1/sharing/requests", headers=gateway.auth(caller),
                               json={"serviceItem": ITEM, "holder": holder.pseudonym, **body})


@contextmanager
def _switched_off(owner: str, switch: Callable[[bool], ContractFunction]) -> Iterator[None]:
    """A catalog permission turned off by its owning department for the block, then on again
    (the session's chain is shared)."""
    owner_key = demo_account(owner).address
    transact(switch(False), owner_key)
    try:
        yield
    finally:
        transact(switch(True), owner_key)


def _refused(response: httpx.Response, code: str, status: int = 403) -> dict[str, Any]:
    assert (response.status_code, response.json()["code"]) == (status, code), response.text
    return response.json()


def _log(gateway: GatewayProcess, **filters: Any) -> list[dict[str, Any]]:
    """The access log's entries as an auditor reads them, every page."""
    entries: list[dict[str, Any]] = []
    after = -1
    while after is not None:
        page = gateway.client.get("/v1/audit/log/entries", headers=gateway.auth("SJ"),
                                  params={**filters, "after": after, "limit": 1000}).json()
        entries.extend(page["entries"])
        after = page["next"]
    return entries


def _key_id(holder: Holder) -> str:
    return key_id(holder_public_key(holder.key))


# ----- granted -----


def test_the_handling_department_with_consent_gets_the_certificate(gateway_http: GatewayProcess,
                                                                   holder: Holder) -> None:
    document = _issue(gateway_http, holder)
    consent_id = _consented(gateway_http, holder)
    shared = _share(gateway_http, holder)
    assert shared.status_code == 200, shared.text
    body = shared.json()
    assert (body["consent"], body["certificateTypes"], body["withheld"]) == (consent_id, [MZ_MARRIAGE], [])
    assert [c["proof"]["certificateHash"] for c in body["certificates"]] == [document["proof"]["certificateHash"]]


def test_of_many_certificates_of_a_type_the_newest_are_shared(gateway_http: GatewayProcess, holder: Holder) -> None:
    members = [{k: v for k, v in marriage_request(f"SHARE-MANY-{holder.id[-6:]}-{n}", holder.id).items()
                if k != "type"} for n in range(SHARED_PER_TYPE + 1)]
    accepted = gateway_http.client.post("/v1/batches", json={"type": MZ_MARRIAGE, "certificates": members},
                                        headers=gateway_http.auth("MZ"))
    assert accepted.status_code == 202, accepted.text
    batch = wait_done(gateway_http, f"/v1/batches/{accepted.json()['id']}")
    issued = [c["proof"]["certificateHash"] for c in batch["certificates"]]  # in the order composed
    _consented(gateway_http, holder)
    shared = _share(gateway_http, holder).json()["certificates"]
    assert [c["proof"]["certificateHash"] for c in shared] == issued[:0:-1]  # all but the oldest, newest first


def test_the_shared_certificate_verifies_with_the_usual_verifier(gateway_http: GatewayProcess, holder: Holder) -> None:
    _issue(gateway_http, holder)
    _consented(gateway_http, holder)
    certificate = _share(gateway_http, holder).json()["certificates"][0]
    report = gateway_http.client.post("/v1/verify", json={"document": certificate}).json()
    assert report["verdict"] == "valid"


def test_the_consent_may_come_with_the_request(gateway_http: GatewayProcess, holder: Holder) -> None:
    _issue(gateway_http, holder)
    shared = _share(gateway_http, holder, consent=_signed_consent(holder))
    assert shared.status_code == 200, shared.text


def test_only_the_valid_certificates_are_shared_and_the_others_say_why(gateway_http: GatewayProcess,
                                                                        holder: Holder) -> None:
    old = _issue(gateway_http, holder)
    new = _issue(gateway_http, holder)
    revoked = gateway_http.client.post(f"/v1/certificates/{old['proof']['certificateHash']}/revoke",
                                       json={"reason": 1}, headers=gateway_http.auth("MZ"))
    assert revoked.status_code == 200, revoked.text
    _consented(gateway_http, holder)
    body = _share(gateway_http, holder).json()
    assert [c["proof"]["certificateHash"] for c in body["certificates"]] == [new["proof"]["certificateHash"]]
    assert [(w["certificateHash"], w["check"]) for w in body["withheld"]] == [
        (old["proof"]["certificateHash"], "not_revoked")]


# ----- refused: the item and the catalog -----


def test_a_department_not_handling_the_item_is_refused(gateway_http: GatewayProcess, holder: Holder) -> None:
    _issue(gateway_http, holder)
    _consented(gateway_http, holder)
    refusal = _refused(_share(gateway_http, holder, caller="GA"), "not_handling_service_item")
    assert refusal["details"]["owner"] == ZJ


def test_a_department_the_owner_added_as_handler_is_served(gateway_http: GatewayProcess, holder: Holder) -> None:
    _issue(gateway_http, holder)
    _consented(gateway_http, holder, grantee=GH)
    assert _share(gateway_http, holder, caller="GH").status_code == 200


def test_the_owner_can_stop_a_handler(gateway_http: GatewayProcess, holder: Holder) -> None:
    _issue(gateway_http, holder)
    _consented(gateway_http, holder, grantee=GH)
    catalog = gateway_http.devnet.deployment.catalog.functions
    with _switched_off("ZJ", lambda on: catalog.setServiceItemHandler(code32(ITEM), code32(GH), on)):
        _refused(_share(gateway_http, holder, caller="GH"), "not_handling_service_item")


def test_an_unknown_service_item_is_not_found(gateway_http: GatewayProcess, holder: Holder) -> None:
    response = _share(gateway_http, holder, serviceItem="320100-SX-NONE")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_a_malformed_service_item_code_is_invalid_input(gateway_http: GatewayProcess, holder: Holder) -> None:
    response = _share(gateway_http, holder, serviceItem="不动产登记")
    assert (response.status_code, response.json()["code"]) == (422, "invalid_request")  # the schema's pattern


def test_a_type_the_item_does_not_need_is_refused(gateway_http: GatewayProcess, holder: Holder) -> None:
    _issue(gateway_http, holder)
    _consented(gateway_http, holder)
    refusal = _refused(_share(gateway_http, holder, certificateTypes=["320100-GA-001"]), "type_not_needed")
    assert refusal["details"]["needed"] == [MZ_MARRIAGE]


def test_a_type_the_holder_did_not_consent_to_is_refused(gateway_http: GatewayProcess, holder: Holder) -> None:
    """An item that needs two types, of which the holder consented to one: asking for the other is refused."""
    item = f"320100-SX-TEST-{next(_serials)}"
    transact(gateway_http.devnet.deployment.catalog.functions.registerServiceItem(
        code32(item), "两证办理", [code32(MZ_MARRIAGE), code32("320100-GA-001")]), demo_account("ZJ").address)
    _issue(gateway_http, holder)
    _consented(gateway_http, holder, item=item)
    refusal = _refused(_share(gateway_http, holder, serviceItem=item, certificateTypes=["320100-GA-001", MZ_MARRIAGE]),
                       "type_not_consented")
    assert refusal["details"]["certificateType"] == "320100-GA-001"


@pytest.mark.parametrize(("switch", "refusal"), [
    (lambda catalog, on: catalog.setRelyingDepartment(code32(MZ_MARRIAGE), code32(ZJ), on), "department_not_relying"),
    (lambda catalog, on: catalog.setServiceItemUse(code32(MZ_MARRIAGE), code32(ITEM), on), "item_not_allowed_for_type"),
], ids=["relying-department", "item-use"])
def test_the_type_owner_can_stop_sharing_at_once(gateway_http: GatewayProcess, holder: Holder,
                                                 switch: Callable[[Any, bool], ContractFunction], refusal: str) -> None:
    _issue(gateway_http, holder)
    _consented(gateway_http, holder)
    catalog = gateway_http.devnet.deployment.catalog.functions
    with _switched_off("MZ", lambda on: switch(catalog, on)):
        _refused(_share(gateway_http, holder), refusal)
    assert _share(gateway_http, holder).status_code == 200


# ----- refused: consent -----


@pytest.mark.parametrize(("change", "code"), [
    ({"item": "320100-SX-NONE"}, "unknown_service_item"),
    ({"grantee": DEMO_DEPARTMENTS["GA"]}, "grantee_not_handling_service_item"),
    ({"types": (MZ_MARRIAGE, "320100-GA-001")}, "type_not_needed"),
], ids=["unknown-item", "grantee-not-handling", "type-not-needed"])
def test_a_consent_that_could_never_be_used_is_refused_when_given(gateway_http: GatewayProcess, holder: Holder,
                                                                  change: dict[str, Any], code: str) -> None:
    _refused(_give(gateway_http, _signed_consent(holder, **change)), code, status=422)


def test_a_refused_consent_is_not_stored_and_its_refusal_is_logged(gateway_http: GatewayProcess,
                                                                   holder: Holder) -> None:
    signed = _signed_consent(holder, grantee=DEMO_DEPARTMENTS["GA"])
    _refused(_give(gateway_http, signed), "grantee_not_handling_service_item", status=422)
    consent_id = record_id(signed["record"])
    assert gateway_http.client.get(f"/v1/consents/{consent_id}", headers=gateway_http.auth("SJ")).status_code == 404
    assert [(e["department"], e["key"], e["outcome"]) for e in _log(gateway_http, action="consent_give")
            if e["consent"] == consent_id] == [(None, _key_id(holder), "grantee_not_handling_service_item")]


def test_an_unusable_consent_passed_on_with_a_request_is_refused(gateway_http: GatewayProcess,
                                                                 holder: Holder) -> None:
    _issue(gateway_http, holder)
    response = _share(gateway_http, holder, consent=_signed_consent(holder, types=(MZ_MARRIAGE, "320100-GA-001")))
    _refused(response, "type_not_needed", status=422)
    assert [e["outcome"] for e in _log(gateway_http, action="share") if e["holder"] == holder.pseudonym] == [
        "type_not_needed"]



def test_without_consent_the_request_is_refused(gateway_http: GatewayProcess, holder: Holder) -> None:
    _issue(gateway_http, holder)
    _refused(_share(gateway_http, holder), "no_consent")


def test_a_consent_for_another_department_does_not_count(gateway_http: GatewayProcess, holder: Holder) -> None:
    _issue(gateway_http, holder)
    other = _signed_consent(holder, grantee=GH)
    assert _give(gateway_http, other).status_code == 201
    _refused(_share(gateway_http, holder), "no_consent")
    _refused(_share(gateway_http, holder, consent=other), "consent_mismatch")


def test_a_consent_signed_by_an_unregistered_key_is_refused(gateway_http: GatewayProcess, holder: Holder) -> None:
    forged = _signed_consent(holder, key=new_holder_key())
    _refused(_give(gateway_http, forged), "invalid_consent_signature")
    _refused(_share(gateway_http, holder, consent=forged), "invalid_consent_signature")


def test_a_malformed_consent_is_invalid_input(gateway_http: GatewayProcess, holder: Holder) -> None:
    signed = _signed_consent(holder)
    signed["record"]["holder"] = "RIC:11010519491231002X"  # personal data instead of the pseudonym
    response = _give(gateway_http, signed)
    assert (response.status_code, response.json()["code"]) == (422, "invalid_input")


def test_consent_expiry_takes_effect_at_once(gateway_http: GatewayProcess, holder: Holder) -> None:
    _issue(gateway_http, holder)
    start = _now() - dt.timedelta(minutes=1)
    end = _now() + dt.timedelta(seconds=8)  # room for giving it and one share on a loaded machine
    record = new_consent(holder.pseudonym, ZJ, ITEM, [MZ_MARRIAGE], not_before=start, not_after=end)
    assert _give(gateway_http, {"record": record, "signature": sign_record(holder.key, record)}).status_code == 201
    assert _share(gateway_http, holder).status_code == 200
    time.sleep(max(0.0, (end - _now()).total_seconds()) + 1)
    _refused(_share(gateway_http, holder), "consent_expired")


def test_a_consent_not_yet_in_force_is_refused(gateway_http: GatewayProcess, holder: Holder) -> None:
    _issue(gateway_http, holder)
    start = _now() + dt.timedelta(days=1)
    record = new_consent(holder.pseudonym, ZJ, ITEM, [MZ_MARRIAGE], not_before=start,
                         not_after=start + dt.timedelta(days=1))
    assert _give(gateway_http, {"record": record, "signature": sign_record(holder.key, record)}).status_code == 201
    _refused(_share(gateway_http, holder), "consent_not_yet_valid")


def test_withdrawal_takes_effect_at_once_and_for_good(gateway_http: GatewayProcess, holder: Holder) -> None:
    _issue(gateway_http, holder)
    signed = _signed_consent(holder)
    consent_id = _give(gateway_http, signed).json()["id"]
    assert _share(gateway_http, holder).status_code == 200
    withdrawal = new_withdrawal(consent_id, _now())
    withdrawn = gateway_http.client.post(f"/v1/consents/{consent_id}/withdraw",
                                         json={"record": withdrawal, "signature": sign_record(holder.key, withdrawal)})
    assert withdrawn.json()["state"] == "withdrawn", withdrawn.text
    _refused(_share(gateway_http, holder), "consent_withdrawn")
    assert _give(gateway_http, signed).json()["state"] == "withdrawn"  # submitting it again revives nothing
    _refused(_share(gateway_http, holder, consent=signed), "consent_withdrawn")


def test_the_grantee_and_auditors_read_a_consent_with_its_signed_record(gateway_http: GatewayProcess,
                                                                      holder: Holder) -> None:
    signed = _signed_consent(holder)
    consent_id = _give(gateway_http, signed).json()["id"]
    for reader in ("ZJ", "SJ"):
        read = gateway_http.client.get(f"/v1/consents/{consent_id}", headers=gateway_http.auth(reader)).json()
        assert (read["record"], read["signature"], read["state"]) == (signed["record"], signed["signature"], "active")


def test_other_departments_cannot_read_a_consent(gateway_http: GatewayProcess, holder: Holder) -> None:
    consent_id = _consented(gateway_http, holder)
    response = gateway_http.client.get(f"/v1/consents/{consent_id}", headers=gateway_http.auth("GA"))
    assert (response.status_code, response.json()["code"]) == (403, "forbidden")
    assert gateway_http.client.get(f"/v1/consents/{consent_id}").status_code == 401


def test_only_the_holder_can_withdraw(gateway_http: GatewayProcess, holder: Holder) -> None:
    consent_id = _consented(gateway_http, holder)
    withdrawal = new_withdrawal(consent_id, _now())
    response = gateway_http.client.post(f"/v1/consents/{consent_id}/withdraw",
                                        json={"record": withdrawal, "signature": sign_record(new_holder_key(),
                                                                                             withdrawal)})
    _refused(response, "invalid_consent_signature")


def test_revoking_the_device_key_voids_its_consents(gateway_http: GatewayProcess, holder: Holder) -> None:
    _issue(gateway_http, holder)
    _consented(gateway_http, holder)
    key_id = _register(gateway_http, holder).json()["keyId"]  # registering again changes nothing, names the key
    revoked = gateway_http.client.delete(f"/v1/holders/keys/{key_id}", headers=gateway_http.auth("ZWB"))
    assert revoked.json()["revokedAt"] is not None, revoked.text
    _refused(_share(gateway_http, holder), "consent_key_revoked")
    _refused(_give(gateway_http, _signed_consent(holder)), "invalid_consent_signature")


# ----- refused: the certificates -----


def test_no_certificate_of_the_holder_is_refused(gateway_http: GatewayProcess, holder: Holder) -> None:
    _consented(gateway_http, holder)
    _refused(_share(gateway_http, holder), "no_certificate")


def test_a_revoked_certificate_is_refused(gateway_http: GatewayProcess, holder: Holder) -> None:
    document = _issue(gateway_http, holder)
    assert gateway_http.client.post(f"/v1/certificates/{document['proof']['certificateHash']}/revoke",
                                    json={"reason": 3}, headers=gateway_http.auth("MZ")).status_code == 200
    _consented(gateway_http, holder)
    refusal = _refused(_share(gateway_http, holder), "certificate_revoked")
    assert refusal["details"]["withheld"][0]["certificateHash"] == document["proof"]["certificateHash"]


def test_an_expired_certificate_is_refused(gateway_http: GatewayProcess, holder: Holder) -> None:
    end = _now() + dt.timedelta(seconds=10)  # room for anchoring it (1-second blocks) on a loaded machine
    _issue(gateway_http, holder, validUntil=end.isoformat())
    _consented(gateway_http, holder)
    time.sleep(max(0.0, (end - _now()).total_seconds()) + 1)
    _refused(_share(gateway_http, holder), "certificate_expired")


# ----- keys, the catalog, the log -----


def test_only_the_holder_channel_registers_keys(gateway_http: GatewayProcess) -> None:
    stranger = Holder(citizen_id(next(_serials)), new_holder_key())
    body = {"holder": stranger.id, "publicKey": stranger.key.get_verifying_key().to_pem().decode()}
    assert gateway_http.client.post("/v1/holders/keys", json=body).status_code == 401
    for department in ("MZ", "ZJ", "SJ"):
        response = gateway_http.client.post("/v1/holders/keys", json=body, headers=gateway_http.auth(department))
        assert (response.status_code, response.json()["code"]) == (403, "forbidden"), department


def test_a_key_registered_for_one_holder_cannot_serve_another(gateway_http: GatewayProcess, holder: Holder) -> None:
    impostor = Holder(citizen_id(next(_serials)), holder.key)
    response = _register(gateway_http, impostor)
    assert (response.status_code, response.json()["code"]) == (409, "conflict")


def test_a_service_item_names_its_handlers_and_needed_types(gateway_http: GatewayProcess) -> None:
    gateway_http.wait_indexed()
    assert gateway_http.client.get(f"/v1/catalog/service-items/{ITEM}").json() == {
        "code": ITEM, "owner": ZJ, "handlers": [ZJ, GH], "requiredTypes": [MZ_MARRIAGE]}


def test_service_items_are_listed_by_handling_department(gateway_http: GatewayProcess) -> None:
    gateway_http.wait_indexed()
    listed = gateway_http.client.get("/v1/catalog/service-items", params={"handler": GH}).json()["serviceItems"]
    assert all(GH in item["handlers"] for item in listed)
    assert next(item for item in listed if item["code"] == ITEM)["name"] == "商品房买卖合同网签备案（夫妻共有产权）"


def test_every_sharing_request_is_logged_with_its_outcome(gateway_http: GatewayProcess, holder: Holder) -> None:
    document = _issue(gateway_http, holder)
    _refused(_share(gateway_http, holder), "no_consent")
    consent_id = _consented(gateway_http, holder)
    assert _share(gateway_http, holder).status_code == 200
    entries = gateway_http.client.get("/v1/audit/log/entries", params={"action": "share", "department": ZJ, "limit": 1000},
                                      headers=gateway_http.auth("SJ")).json()["entries"]
    mine = [e for e in entries if e["holder"] == holder.pseudonym]
    certificate_hash = document["proof"]["certificateHash"]
    assert [(e["outcome"], e.get("consent"), e["certificates"]) for e in mine] == [
        ("no_consent", None, []), ("shared", consent_id, [certificate_hash])]
    assert all(e["serviceItem"] == ITEM for e in mine)
    gateway_http.wait_indexed()
    history = gateway_http.client.get(f"/v1/certificates/{certificate_hash}/history",
                                      headers=gateway_http.auth("SJ")).json()
    assert [(a["action"], a["department"], a["outcome"]) for a in history["accesses"]["latest"]][-1:] == [
        ("share", ZJ, "shared")]  # the oldest access


@pytest.mark.parametrize("spelling", [
    lambda holder: holder.id,  # RIC:<number>
    lambda holder: holder.id.removeprefix("RIC:"),
    lambda holder: holder.pseudonym.upper(),
], ids=["identity", "bare-number", "upper-case-pseudonym"])
def test_a_request_naming_the_holder_otherwise_than_by_pseudonym_is_refused_unlogged(
        gateway_http: GatewayProcess, holder: Holder, spelling: Callable[[Holder], str]) -> None:
    _issue(gateway_http, holder)
    _consented(gateway_http, holder)
    response = gateway_http.client.post("/v1/sharing/requests", headers=gateway_http.auth("ZJ"),
                                        json={"serviceItem": ITEM, "holder": spelling(holder)})
    assert (response.status_code, response.json()["code"]) == (422, "invalid_request"), response.text
    assert [e for e in _log(gateway_http, action="share", department=ZJ)
            if e["holder"] in (spelling(holder), holder.pseudonym)] == []


def test_key_registration_and_revocation_are_logged(gateway_http: GatewayProcess, holder: Holder) -> None:
    _register(gateway_http, holder)  # again: changes nothing
    revoked = gateway_http.client.delete(f"/v1/holders/keys/{_key_id(holder)}", headers=gateway_http.auth("ZWB"))
    assert revoked.status_code == 200, revoked.text
    assert [(e["action"], e["department"], e["key"], e["outcome"]) for e in _log(gateway_http)
            if e.get("holder") == holder.pseudonym] == [
        ("holder_key_register", DEMO_DEPARTMENTS["ZWB"], _key_id(holder), "registered"),
        ("holder_key_register", DEMO_DEPARTMENTS["ZWB"], _key_id(holder), "unchanged"),
        ("holder_key_revoke", DEMO_DEPARTMENTS["ZWB"], _key_id(holder), "revoked")]


def test_a_channel_registering_a_key_for_someone_else_is_logged(gateway_http: GatewayProcess, holder: Holder) -> None:
    impostor = Holder(citizen_id(next(_serials)), holder.key)
    assert _register(gateway_http, impostor).status_code == 409
    attempts = [e for e in _log(gateway_http, action="holder_key_register") if e["key"] == _key_id(holder)]
    assert [(e["holder"] == holder.pseudonym, e["outcome"]) for e in attempts] == [(True, "registered"),
                                                                                    (False, "conflict")]


def test_revoking_an_unknown_key_is_logged_and_a_malformed_key_id_is_invalid(gateway_http: GatewayProcess) -> None:
    unknown = "0x" + "0e" * 32
    response = gateway_http.client.delete(f"/v1/holders/keys/{unknown}", headers=gateway_http.auth("ZWB"))
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert [e["outcome"] for e in _log(gateway_http, action="holder_key_revoke") if e["key"] == unknown] == [
        "not_found"]
    malformed = gateway_http.client.delete("/v1/holders/keys/RIC:11010519491231002X", headers=gateway_http.auth("ZWB"))
    assert (malformed.status_code, malformed.json()["code"]) == (422, "invalid_request")


def test_consents_given_and_withdrawn_are_logged_with_the_signing_key(gateway_http: GatewayProcess,
                                                                      holder: Holder) -> None:
    consent_id = _consented(gateway_http, holder)
    withdrawal = new_withdrawal(consent_id, _now())
    assert gateway_http.client.post(f"/v1/consents/{consent_id}/withdraw", json={
        "record": withdrawal, "signature": sign_record(holder.key, withdrawal)}).status_code == 200
    assert [(e["action"], e["department"], e["holder"], e["key"], e["outcome"]) for e in _log(gateway_http)
            if e.get("consent") == consent_id] == [
        ("consent_give", None, holder.pseudonym, _key_id(holder), "given"),
        ("consent_withdraw", None, holder.pseudonym, _key_id(holder), "withdrawn")]


def test_a_consent_passed_on_with_a_request_is_logged_as_given_through_the_department(
        gateway_http: GatewayProcess, holder: Holder) -> None:
    _issue(gateway_http, holder)
    signed = _signed_consent(holder)
    assert _share(gateway_http, holder, consent=signed).status_code == 200
    assert [(e["department"], e["outcome"]) for e in _log(gateway_http, action="consent_give")
            if e["consent"] == record_id(signed["record"])] == [(ZJ, "given")]


def test_a_badly_signed_consent_leaves_no_entry(gateway_http: GatewayProcess, holder: Holder) -> None:
    """Nobody without a holder's key can add entries to the log."""
    forged = _signed_consent(holder, key=new_holder_key())
    _refused(_give(gateway_http, forged), "invalid_consent_signature")
    assert [e for e in _log(gateway_http) if e.get("consent") == record_id(forged["record"])] == []


def test_the_log_holds_no_personal_data_in_clear(gateway_http: GatewayProcess, holder: Holder) -> None:
    _issue(gateway_http, holder)
    _consented(gateway_http, holder)
    _share(gateway_http, holder)
    entries = gateway_http.client.get("/v1/audit/log/entries", params={"action": "share", "limit": 1000},
                                      headers=gateway_http.auth("SJ")).text
    assert holder.id.removeprefix("RIC:") not in entries and "张三" not in entries
