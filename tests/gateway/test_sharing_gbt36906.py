"""The GB/T 36906-shaped sharing interface over HTTP (/v1/gbt36906/...): query, verify and retrieve
by the holder's citizen ID or credit code with a reason for use (事由), under the same consent rules,
refusals and access log as /v1/sharing/requests (tests/gateway/test_sharing.py covers those rules
in depth; here each reaches the adapter), and without the holder's number or the reason in any log."""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx
import pytest
from stdnum.cn import uscc

from gateway.sharing.consent import new_holder_key, new_withdrawal, sign_record
from gateway.sharing.gbt36906 import MAX_USE_CAUSE, use_cause_hash
from tests.conftest import DEMO_DEPARTMENTS, MZ_MARRIAGE, GatewayProcess, citizen_id
from tests.gateway.test_sharing import (ITEM, ZJ, Holder, _consented, _issue, _log, _now, _refused, _register)

pytestmark = pytest.mark.slow

USE_CAUSE = "办理商品房买卖合同网签备案"
_serials = itertools.count(900)  # citizen_id serials of their own (test_sharing.py counts from 100)


def _credit_code(serial: int) -> str:
    body = f"91320102MA0000{serial:03d}"
    return "USCC:" + body + uscc.calc_check_digit(body)


def _registered(gateway: GatewayProcess, holder_id: str) -> Holder:
    holder = Holder(holder_id, new_holder_key())
    response = _register(gateway, holder)
    assert response.status_code == 201, response.text
    holder.pseudonym = response.json()["holder"]
    return holder


@pytest.fixture
def citizen(gateway_http: GatewayProcess) -> Holder:
    """A holder named by a citizen ID number, with a registered device key."""
    return _registered(gateway_http, citizen_id(next(_serials)))


def _holder_fields(holder: Holder) -> dict[str, str]:
    scheme, _, number = holder.id.partition(":")
    return {"certificate_holder_code": number, "certificate_holder_type": {"RIC": "111", "USCC": "001"}[scheme]}


def _call(gateway: GatewayProcess, interface: str, holder: Holder, caller: str = "ZJ",
          **fields: Any) -> httpx.Response:
    body = {**_holder_fields(holder), "certificate_type_code": MZ_MARRIAGE, "related_item_code": ITEM,
            "use_cause": USE_CAUSE, **fields}
    return gateway.client.post(f"/v1/gbt36906/certificates/{interface}", headers=gateway.auth(caller),
                               json={k: v for k, v in body.items() if v is not None})


def _identifier(document: dict[str, Any]) -> str:
    return document["certificateIdentifier"]


def _adapter_entries(gateway: GatewayProcess, holder: Holder) -> list[dict[str, Any]]:
    return [e for e in _log(gateway, action="share") if e["holder"] == holder.pseudonym]


def _revoke(gateway: GatewayProcess, document: dict[str, Any]) -> None:
    response = gateway.client.post(f"/v1/certificates/{document['proof']['certificateHash']}/revoke",
                                   json={"reason": 3}, headers=gateway.auth("MZ"))
    assert response.status_code == 200, response.text


# ----- happy paths -----


def test_query_lists_the_holders_valid_certificates_of_the_type(gateway_http: GatewayProcess,
                                                                citizen: Holder) -> None:
    document = _issue(gateway_http, citizen)
    consent_id = _consented(gateway_http, citizen)
    response = _call(gateway_http, "query", citizen)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["related_item_code"], body["certificate_type_code"], body["consent_id"]) == (
        ITEM, MZ_MARRIAGE, consent_id)
    [entry] = body["certificates"]
    assert entry == {"certificate_identifier": _identifier(document), "certificate_name": entry["certificate_name"],
                     "certificate_type_code": MZ_MARRIAGE,
                     "certificate_issuing_authority_name": document["issuer"]["name"],
                     "certificate_issuing_authority_code": DEMO_DEPARTMENTS["MZ"],
                     "certificate_validate_start": document["validFrom"], "certificate_validate_end": None,
                     "certificate_hash": document["proof"]["certificateHash"]}


def test_query_names_a_company_by_its_credit_code(gateway_http: GatewayProcess) -> None:
    company = _registered(gateway_http, _credit_code(next(_serials)))
    document = _issue(gateway_http, company)
    _consented(gateway_http, company)
    response = _call(gateway_http, "query", company)
    assert response.status_code == 200, response.text
    assert [e["certificate_hash"] for e in response.json()["certificates"]] == [
        document["proof"]["certificateHash"]]


def test_verify_says_a_valid_certificate_is_valid(gateway_http: GatewayProcess, citizen: Holder) -> None:
    document = _issue(gateway_http, citizen)
    _consented(gateway_http, citizen)
    response = _call(gateway_http, "verify", citizen, certificate_identifier=_identifier(document))
    assert response.status_code == 200, response.text
    assert response.json() == {"certificate_identifier": _identifier(document), "verification_result": "valid",
                               "certificate_hash": document["proof"]["certificateHash"], "failed_check": None,
                               "reason": None}


def test_verify_says_a_revoked_certificate_is_revoked(gateway_http: GatewayProcess, citizen: Holder) -> None:
    document = _issue(gateway_http, citizen)
    _revoke(gateway_http, document)
    _consented(gateway_http, citizen)
    response = _call(gateway_http, "verify", citizen, certificate_identifier=_identifier(document))
    assert response.status_code == 200, response.text
    assert (response.json()["verification_result"], response.json()["failed_check"]) == ("revoked", "not_revoked")


def test_verify_of_an_older_revoked_certificate_beside_a_valid_one_says_revoked(gateway_http: GatewayProcess,
                                                                              citizen: Holder) -> None:
    revoked = _issue(gateway_http, citizen)
    _revoke(gateway_http, revoked)
    _issue(gateway_http, citizen)
    _consented(gateway_http, citizen)
    response = _call(gateway_http, "verify", citizen, certificate_identifier=_identifier(revoked))
    assert response.json()["verification_result"] == "revoked", response.text


def test_retrieve_returns_the_signed_document_which_verifies(gateway_http: GatewayProcess, citizen: Holder) -> None:
    document = _issue(gateway_http, citizen)
    _consented(gateway_http, citizen)
    response = _call(gateway_http, "retrieve", citizen, certificate_identifier=_identifier(document))
    assert response.status_code == 200, response.text
    retrieved = response.json()["certificate_file"]
    assert (retrieved["proof"]["certificateHash"], response.json()["certificate_identifier"]) == (
        document["proof"]["certificateHash"], _identifier(document))
    report = gateway_http.client.post("/v1/verify", json={"document": retrieved}).json()
    assert report["verdict"] == "valid", report


def test_retrieving_a_revoked_certificate_is_refused(gateway_http: GatewayProcess, citizen: Holder) -> None:
    revoked = _issue(gateway_http, citizen)
    _revoke(gateway_http, revoked)
    _issue(gateway_http, citizen)
    _consented(gateway_http, citizen)
    refusal = _refused(_call(gateway_http, "retrieve", citizen, certificate_identifier=_identifier(revoked)),
                       "certificate_revoked")
    assert refusal["details"]["withheld"][0]["certificateHash"] == revoked["proof"]["certificateHash"]


@pytest.mark.parametrize("interface", ["verify", "retrieve"])
def test_another_holders_certificate_is_not_found(gateway_http: GatewayProcess, citizen: Holder,
                                                  interface: str) -> None:
    other = _registered(gateway_http, citizen_id(next(_serials)))
    others = _issue(gateway_http, other)
    _issue(gateway_http, citizen)
    _consented(gateway_http, citizen)
    response = _call(gateway_http, interface, citizen, certificate_identifier=_identifier(others))
    assert (response.status_code, response.json()["code"]) == (404, "not_found"), response.text


# ----- refused: consent and the catalog, as a sharing request is -----


@pytest.mark.parametrize("interface", ["query", "verify", "retrieve"])
def test_without_consent_each_call_is_refused(gateway_http: GatewayProcess, citizen: Holder, interface: str) -> None:
    document = _issue(gateway_http, citizen)
    _refused(_call(gateway_http, interface, citizen, certificate_identifier=(
        None if interface == "query" else _identifier(document))), "no_consent")


@pytest.mark.parametrize("interface", ["query", "verify", "retrieve"])
def test_a_withdrawn_consent_refuses_each_call(gateway_http: GatewayProcess, citizen: Holder, interface: str) -> None:
    document = _issue(gateway_http, citizen)
    consent_id = _consented(gateway_http, citizen)
    withdrawal = new_withdrawal(consent_id, _now())
    assert gateway_http.client.post(f"/v1/consents/{consent_id}/withdraw", json={
        "record": withdrawal, "signature": sign_record(citizen.key, withdrawal)}).status_code == 200
    _refused(_call(gateway_http, interface, citizen, certificate_identifier=(
        None if interface == "query" else _identifier(document))), "consent_withdrawn")


def test_a_department_not_handling_the_item_is_refused(gateway_http: GatewayProcess, citizen: Holder) -> None:
    _issue(gateway_http, citizen)
    _consented(gateway_http, citizen)
    refusal = _refused(_call(gateway_http, "query", citizen, caller="GA"), "not_handling_service_item")
    assert refusal["details"]["owner"] == ZJ


def test_a_consent_to_another_department_does_not_serve_this_one(gateway_http: GatewayProcess,
                                                                 citizen: Holder) -> None:
    _issue(gateway_http, citizen)
    _consented(gateway_http, citizen, grantee=DEMO_DEPARTMENTS["GH"])
    _refused(_call(gateway_http, "query", citizen), "no_consent")


def test_a_call_without_credentials_is_unauthenticated(gateway_http: GatewayProcess, citizen: Holder) -> None:
    response = gateway_http.client.post("/v1/gbt36906/certificates/query", json={
        **_holder_fields(citizen), "certificate_type_code": MZ_MARRIAGE, "related_item_code": ITEM,
        "use_cause": USE_CAUSE})
    assert (response.status_code, response.json()["code"]) == (401, "unauthenticated")


def test_a_type_the_item_does_not_need_is_refused(gateway_http: GatewayProcess, citizen: Holder) -> None:
    _consented(gateway_http, citizen)
    _refused(_call(gateway_http, "query", citizen, certificate_type_code="320100-GA-001"), "type_not_needed")


# ----- bad input: 422 before anything is logged -----


@pytest.mark.parametrize(("fields", "code"), [
    ({"use_cause": None}, "invalid_request"),
    ({"use_cause": ""}, "invalid_request"),
    ({"use_cause": "   "}, "invalid_request"),
    ({"use_cause": "用" * (MAX_USE_CAUSE + 1)}, "invalid_request"),
    ({"use_cause": "办理\u0000备案"}, "invalid_request"),
    ({"certificate_holder_code": "320102199001019991"}, "invalid_holder_id"),  # wrong check character
    ({"certificate_holder_type": "112"}, "invalid_request"),
    ({"certificate_holder_type": "001"}, "invalid_holder_id"),  # a citizen ID number is no credit code
    ({"certificate_type_code": "320100-NO-SUCH-TYPE"}, "invalid_input"),
    ({"certificate_type_code": "结婚证"}, "invalid_request"),
    ({"certificate_identifier": "1.2.156.3005.2.320100MZ001.11320100MB0000027A.000000000001.001.X"},
     "invalid_identifier"),
    ({"surplus": 1}, "invalid_request"),
], ids=["no-use-cause", "empty-use-cause", "blank-use-cause", "oversized-use-cause", "control-character",
        "bad-check-character", "unknown-holder-type", "holder-type-mismatch", "unknown-type", "malformed-type",
        "bad-identifier", "unknown-field"])
def test_bad_input_is_refused_unlogged(gateway_http: GatewayProcess, citizen: Holder, fields: dict[str, Any],
                                       code: str) -> None:
    document = _issue(gateway_http, citizen)
    _consented(gateway_http, citizen)
    interface = "verify" if "certificate_identifier" in fields else "query"
    response = _call(gateway_http, interface, citizen, **{"certificate_identifier": (
        _identifier(document) if interface == "verify" else None), **fields})
    assert (response.status_code, response.json()["code"]) == (422, code), response.text
    assert _adapter_entries(gateway_http, citizen) == []


def test_a_use_cause_of_the_longest_length_is_accepted(gateway_http: GatewayProcess, citizen: Holder) -> None:
    _issue(gateway_http, citizen)
    _consented(gateway_http, citizen)
    assert _call(gateway_http, "query", citizen, use_cause="用" * MAX_USE_CAUSE).status_code == 200


# ----- the access log and privacy -----


def test_each_call_is_logged_with_its_interface_reason_hash_and_outcome(gateway_http: GatewayProcess,
                                                                       citizen: Holder) -> None:
    document = _issue(gateway_http, citizen)
    _refused(_call(gateway_http, "query", citizen), "no_consent")
    consent_id = _consented(gateway_http, citizen)
    identifier = _identifier(document)
    for interface in ("query", "verify", "retrieve"):
        assert _call(gateway_http, interface, citizen, certificate_identifier=(
            None if interface == "query" else identifier)).status_code == 200
    certificate_hash = document["proof"]["certificateHash"]
    assert [(e["department"], e["interface"], e["useCauseHash"], e.get("certificateIdentifier"), e.get("consent"),
             e["certificates"], e["outcome"]) for e in _adapter_entries(gateway_http, citizen)] == [
        (ZJ, "gbt36906/query", use_cause_hash(USE_CAUSE), None, None, [], "no_consent"),
        (ZJ, "gbt36906/query", use_cause_hash(USE_CAUSE), None, consent_id, [certificate_hash], "shared"),
        (ZJ, "gbt36906/verify", use_cause_hash(USE_CAUSE), identifier, consent_id, [certificate_hash], "shared"),
        (ZJ, "gbt36906/retrieve", use_cause_hash(USE_CAUSE), identifier, consent_id, [certificate_hash], "shared")]
    assert all(e["serviceItem"] == ITEM for e in _adapter_entries(gateway_http, citizen))


def test_no_holder_number_or_reason_reaches_the_logs(gateway_http: GatewayProcess, citizen: Holder) -> None:
    document = _issue(gateway_http, citizen)
    reason = f"核验 {citizen.id} 的婚姻状况"  # a clerk typing the number into the reason
    _call(gateway_http, "query", citizen, use_cause=reason)  # refused: no consent
    _consented(gateway_http, citizen)
    _call(gateway_http, "query", citizen, use_cause=reason)
    _call(gateway_http, "retrieve", citizen, use_cause=reason, certificate_identifier=_identifier(document))
    _call(gateway_http, "query", citizen, certificate_holder_code=citizen.id.removeprefix("RIC:") + "0")  # malformed
    number = citizen.id.removeprefix("RIC:")
    access_log = json.dumps(_log(gateway_http), ensure_ascii=False)
    assert number not in access_log and "婚姻状况" not in access_log and "张三" not in access_log
    assert number not in gateway_http.log
