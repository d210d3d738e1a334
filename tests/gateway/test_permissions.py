"""Who may call what: every endpoint against every kind of caller, and the signed-request rules
(replay, stale timestamp, tampering, unknown key). Roles come from the consortium contract."""

from __future__ import annotations

import json
import time
from typing import Any, Callable

import pytest
from eth_account import Account

from gateway.auth import signed_headers
from gateway.sharing.consent import new_holder_key
from ledger_node.types import DepartmentStatus, code32
from tests.conftest import DEMO_DEPARTMENTS, GatewayProcess, demo_account, marriage_request

pytestmark = pytest.mark.slow

MZ = DEMO_DEPARTMENTS["MZ"]


@pytest.fixture(scope="module")
def issued(gateway_http: GatewayProcess) -> dict[str, Any]:
    """A certificate civil affairs (MZ) issued, and the operation that anchored it."""
    response = gateway_http.client.post("/v1/certificates", json=marriage_request("PERM-1"),
                                        headers=gateway_http.auth("MZ"))
    assert response.status_code == 201, response.text
    return response.json()


def _hash(issued: dict[str, Any]) -> str:
    return issued["certificate"]["proof"]["certificateHash"]


#: endpoint name -> (method, path maker, body maker)
ENDPOINTS: dict[str, tuple[str, Callable[[dict], str], Callable[[dict], Any]]] = {
    "issue": ("POST", lambda i: "/v1/certificates", lambda i: marriage_request("PERM-X")),
    "batch": ("POST", lambda i: "/v1/batches",
              lambda i: {"type": "320100-MZ-001", "certificates": [
                  {k: v for k, v in marriage_request("PERM-B").items() if k != "type"}]}),
    "revoke": ("POST", lambda i: f"/v1/certificates/{_hash(i)}/revoke", lambda i: {"reason": 1}),
    "operation": ("GET", lambda i: f"/v1/operations/{i['operation']['id']}", lambda i: None),
    "by_identifier": ("GET", lambda i: f"/v1/certificates/by-identifier/{i['certificate']['certificateIdentifier']}",
                      lambda i: None),
    "history": ("GET", lambda i: f"/v1/certificates/{_hash(i)}/history", lambda i: None),
    "audit": ("GET", lambda i: "/v1/audit/events", lambda i: None),
    "snapshot": ("POST", lambda i: "/v1/catalog/snapshots", lambda i: {"catalog": {"x": 1}}),
    "verify": ("POST", lambda i: "/v1/verify", lambda i: {"document": i["certificate"]}),
    "status": ("GET", lambda i: f"/v1/certificates/{_hash(i)}", lambda i: None),
    "departments": ("GET", lambda i: "/v1/departments", lambda i: None),
    "types": ("GET", lambda i: "/v1/catalog/types", lambda i: None),
    "service_items": ("GET", lambda i: "/v1/catalog/service-items", lambda i: None),
    "holder_key": ("POST", lambda i: "/v1/holders/keys",
                   lambda i: {"holder": "RIC:11010519491231002X",
                              "publicKey": new_holder_key().get_verifying_key().to_pem().decode()}),
    "revoke_holder_key": ("DELETE", lambda i: "/v1/holders/keys/0x" + "00" * 32, lambda i: None),
    "share": ("POST", lambda i: "/v1/sharing/requests",
              lambda i: {"serviceItem": "320100-SX-ZJ-0001", "holder": i["certificate"]["credentialSubject"]["id"]}),
}

# Callers: MZ issues the marriage type; GA is an issuer of other types; ZWB a governor without
# the issuer role; SJ an auditor; None is unauthenticated.
MATRIX = [
    # endpoint, caller, expected status
    ("issue", None, 401), ("issue", "SJ", 403), ("issue", "ZWB", 403), ("issue", "GA", 403),
    ("batch", None, 401), ("batch", "SJ", 403), ("batch", "GA", 403), ("batch", "MZ", 202),
    ("revoke", None, 401), ("revoke", "SJ", 403), ("revoke", "GA", 403),
    ("operation", None, 401), ("operation", "GA", 403), ("operation", "MZ", 200),
    ("by_identifier", None, 401), ("by_identifier", "GA", 403), ("by_identifier", "SJ", 403),
    ("by_identifier", "MZ", 200),
    ("history", None, 401), ("history", "SJ", 200), ("history", "GA", 200),
    ("audit", None, 401), ("audit", "MZ", 403), ("audit", "GA", 403), ("audit", "SJ", 200), ("audit", "ZWB", 200),
    ("snapshot", None, 401), ("snapshot", "SJ", 201),
    ("verify", None, 200), ("status", None, 200), ("departments", None, 200), ("types", None, 200),
    ("service_items", None, 200),
    # ZWB runs the holder channel; ZJ handles the sharing item (its refusal here: no consent)
    ("holder_key", None, 401), ("holder_key", "MZ", 403), ("holder_key", "SJ", 403), ("holder_key", "ZWB", 201),
    ("revoke_holder_key", None, 401), ("revoke_holder_key", "GA", 403), ("revoke_holder_key", "ZWB", 404),
    ("share", None, 401), ("share", "GA", 403), ("share", "ZJ", 403),
]


@pytest.mark.parametrize(("endpoint", "caller", "expected"), MATRIX,
                         ids=[f"{e}-{c or 'anonymous'}" for e, c, _ in MATRIX])
def test_permission_matrix(gateway_http: GatewayProcess, issued: dict[str, Any], endpoint: str, caller: str | None,
                           expected: int) -> None:
    method, path, body = ENDPOINTS[endpoint]
    headers = gateway_http.auth(caller) if caller else {}
    gateway_http.wait_indexed()
    response = gateway_http.client.request(method, path(issued), json=body(issued), headers=headers)
    assert response.status_code == expected, response.text
    if expected >= 400:
        assert set(response.json()) == {"code", "message", "details"}


def test_another_issuer_cannot_revoke_and_the_contract_says_why(gateway_http: GatewayProcess,
                                                                 issued: dict[str, Any]) -> None:
    response = gateway_http.client.post(f"/v1/certificates/{_hash(issued)}/revoke", json={"reason": 1},
                                        headers=gateway_http.auth("GA"))
    assert response.json()["code"] == "not_the_issuer"


def test_an_issuer_not_authorised_for_the_type_is_refused_by_the_contract(gateway_http: GatewayProcess) -> None:
    response = gateway_http.client.post("/v1/certificates", json=marriage_request("GA-1"),
                                        headers=gateway_http.auth("GA"))
    assert (response.status_code, response.json()["code"]) == (403, "issuer_not_authorised")


def _signed(gateway: GatewayProcess, account: Any, body: dict[str, Any], **kwargs: Any) -> tuple[bytes, dict]:
    raw = json.dumps(body).encode()
    return raw, {**signed_headers(account, "POST", "/v1/certificates", raw, **kwargs),
                 "Content-Type": "application/json"}


def test_a_request_signed_by_a_department_key_is_accepted(gateway_http: GatewayProcess) -> None:
    raw, headers = _signed(gateway_http, demo_account("MZ"), marriage_request("SIG-1"))
    response = gateway_http.client.post("/v1/certificates", content=raw, headers=headers)
    assert response.status_code == 201, response.text


def test_a_replayed_signature_is_refused(gateway_http: GatewayProcess) -> None:
    raw, headers = _signed(gateway_http, demo_account("MZ"), marriage_request("SIG-2"))
    assert gateway_http.client.post("/v1/certificates", content=raw, headers=headers).status_code == 201
    replay = gateway_http.client.post("/v1/certificates", content=raw, headers=headers)
    assert (replay.status_code, replay.json()["code"]) == (401, "unauthenticated")
    assert "replay" in replay.json()["message"]


def test_a_stale_timestamp_is_refused(gateway_http: GatewayProcess) -> None:
    raw, headers = _signed(gateway_http, demo_account("MZ"), marriage_request("SIG-3"),
                           timestamp=int(time.time()) - 3600)
    response = gateway_http.client.post("/v1/certificates", content=raw, headers=headers)
    assert response.status_code == 401 and "clock" in response.json()["message"]


def test_a_signature_over_another_body_is_refused(gateway_http: GatewayProcess) -> None:
    _raw, headers = _signed(gateway_http, demo_account("MZ"), marriage_request("SIG-4"))
    tampered = json.dumps(marriage_request("SIG-4-TAMPERED")).encode()
    response = gateway_http.client.post("/v1/certificates", content=tampered, headers=headers)
    assert response.status_code == 401  # the recovered key is no department's


def test_a_key_of_no_department_is_refused(gateway_http: GatewayProcess) -> None:
    raw, headers = _signed(gateway_http, Account.create(), marriage_request("SIG-5"))
    response = gateway_http.client.post("/v1/certificates", content=raw, headers=headers)
    assert response.status_code == 401 and "not a current key" in response.json()["message"]


def test_an_unknown_token_is_refused(gateway_http: GatewayProcess) -> None:
    response = gateway_http.client.get("/v1/audit/events", headers={"Authorization": "Bearer cnt_nonsense"})
    assert (response.status_code, response.json()["code"]) == (401, "unauthenticated")


def test_a_suspended_department_is_refused_at_once(gateway_http: GatewayProcess) -> None:
    """Human resources (RS) is suspended by governance; its token stays valid but its requests are not."""
    rs_headers = gateway_http.auth("RS")
    assert gateway_http.client.get("/v1/audit/events", headers=rs_headers).status_code == 403  # no auditor role
    consortium = gateway_http.devnet.deployment.consortium
    gateway_http.devnet.govern(consortium.functions.setStatus(code32(DEMO_DEPARTMENTS["RS"]),
                                                              DepartmentStatus.SUSPENDED))
    response = gateway_http.client.post("/v1/certificates", json={**marriage_request(), "type": "320100-RS-001"},
                                        headers=rs_headers)
    assert (response.status_code, response.json()["details"].get("status")) == (403, "suspended")
