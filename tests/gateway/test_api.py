"""The gateway's API over real HTTP against anvil: issue, verify, status, history, revoke,
supersede, idempotency and the error shape."""

from __future__ import annotations

import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from gateway.db import Operation, OperationState, make_engine, session_factory

from tests.conftest import Devnet, GatewayProcess, issued_marriage, marriage_request, signing_keys

pytestmark = pytest.mark.slow


def test_issuing_returns_the_signed_document_with_its_anchor(gateway_http: GatewayProcess) -> None:
    issued = issued_marriage(gateway_http)
    anchor = issued["certificate"]["proof"]["anchor"]
    assert issued["operation"]["state"] == "done"
    assert anchor["transactionHash"] == issued["operation"]["transactionHash"]
    assert issued["certificate"]["proof"]["signature"]["signer"] == signing_keys(
        gateway_http.devnet, issued["certificate"]["issuer"]["id"].split(":")[-1])[0]


def test_an_issued_certificate_verifies_valid(gateway_http: GatewayProcess) -> None:
    document = issued_marriage(gateway_http)["certificate"]
    report = gateway_http.client.post("/v1/verify", json={"document": document,
                                                          "holder": "RIC:11010519491231002X"}).json()
    assert report["verdict"] == "valid", report


def test_a_changed_subject_value_is_named_by_the_gateway_that_signed_it(gateway_http: GatewayProcess) -> None:
    document = issued_marriage(gateway_http)["certificate"]
    document["credentialSubject"]["holderName"] = "张四"
    integrity = gateway_http.client.post("/v1/verify", json={"document": document}).json()["checks"][0]
    assert (integrity["name"], integrity["outcome"]) == ("integrity", "invalid")
    assert integrity["details"]["changedFields"] == ["credentialSubject.holderName"]


def test_a_verification_says_which_chain_state_it_was_checked_against(gateway_http: GatewayProcess) -> None:
    document = issued_marriage(gateway_http)["certificate"]
    gateway_http.wait_indexed()
    checked_at = gateway_http.client.post("/v1/verify", json={"document": document}).json()["checkedAt"]
    head = gateway_http.devnet.w3.eth.get_block(checked_at["block"])
    assert (checked_at["source"], checked_at["blockHash"]) == ("index", head["hash"].to_0x_hex())


def test_a_fresh_verification_reads_the_chains_head(gateway_http: GatewayProcess) -> None:
    document = issued_marriage(gateway_http)["certificate"]
    report = gateway_http.client.post("/v1/verify?fresh=true", json={"document": document}).json()
    assert (report["verdict"], report["checkedAt"]["source"]) == ("valid", "chain")


def test_batch_verification_reports_each_document_in_the_order_sent(gateway_http: GatewayProcess) -> None:
    valid = issued_marriage(gateway_http, number="J320100-2026-BATCH-1")["certificate"]
    tampered = {**valid, "credentialSubject": {**valid["credentialSubject"], "holderName": "王五"}}
    reports = gateway_http.client.post("/v1/verify/batch", json={"documents": [valid, tampered, {"not": "one"}]}) \
        .json()["reports"]
    assert [(r["certificateHash"], r["verdict"]) for r in reports] == [
        (valid["proof"]["certificateHash"], "valid"), (valid["proof"]["certificateHash"], "invalid"), (None, "invalid")]


def test_a_batch_verification_of_more_than_10_000_documents_is_a_422(gateway_http: GatewayProcess) -> None:
    response = gateway_http.client.post("/v1/verify/batch", json={"documents": [{}] * 10_001})
    assert (response.status_code, response.json()["code"]) == (422, "invalid_request")


def test_status_is_public_and_reads_the_chain(gateway_http: GatewayProcess) -> None:
    certificate_hash = issued_marriage(gateway_http)["certificate"]["proof"]["certificateHash"]
    status = gateway_http.client.get(f"/v1/certificates/{certificate_hash}").json()
    assert (status["status"], status["certificateType"]) == ("valid", "320100-MZ-001")


def test_revocation_shows_in_status_history_and_verification(gateway_http: GatewayProcess) -> None:
    document = issued_marriage(gateway_http)["certificate"]
    certificate_hash = document["proof"]["certificateHash"]
    revoked = gateway_http.client.post(f"/v1/certificates/{certificate_hash}/revoke", json={"reason": 1},
                                       headers=gateway_http.auth("MZ"))
    assert revoked.status_code == 200, revoked.text
    assert gateway_http.client.get(f"/v1/certificates/{certificate_hash}").json()["status"] == "revoked"
    gateway_http.wait_indexed()
    history = gateway_http.client.get(f"/v1/certificates/{certificate_hash}/history",
                                      headers=gateway_http.auth("SJ")).json()["events"]
    assert [e["event"] for e in history] == ["CertificateIssued", "CertificateRevoked"]
    assert history[1]["transactionHash"] == revoked.json()["transactionHash"]
    assert gateway_http.client.post("/v1/verify", json={"document": document}).json()["verdict"] == "invalid"


def test_superseded_is_not_a_reason_a_revocation_gives(gateway_http: GatewayProcess) -> None:
    certificate_hash = issued_marriage(gateway_http, number="J320100-2026-000091")["certificate"]["proof"][
        "certificateHash"]
    refused = gateway_http.client.post(f"/v1/certificates/{certificate_hash}/revoke", json={"reason": 4},
                                       headers=gateway_http.auth("MZ"))
    assert (refused.status_code, refused.json()["code"]) == (422, "invalid_request")
    assert gateway_http.client.get(f"/v1/certificates/{certificate_hash}").json()["status"] == "valid"


def test_superseding_anchors_the_successor_and_links_both(gateway_http: GatewayProcess) -> None:
    old_hash = issued_marriage(gateway_http)["certificate"]["proof"]["certificateHash"]
    body = {k: v for k, v in marriage_request("J320100-2026-000002").items() if k != "type"}
    response = gateway_http.client.post(f"/v1/certificates/{old_hash}/supersede", json=body,
                                        headers=gateway_http.auth("MZ"))
    assert response.status_code == 201, response.text
    successor = response.json()["certificate"]["proof"]["certificateHash"]
    assert gateway_http.client.get(f"/v1/certificates/{old_hash}").json()["supersededBy"] == successor
    gateway_http.wait_indexed()
    events = gateway_http.client.get(f"/v1/certificates/{successor}/history", headers=gateway_http.auth("SJ")).json()
    assert sorted(e["event"] for e in events["events"]) == ["CertificateIssued", "CertificateSuperseded"]


def test_pages_of_a_certificates_events_hold_each_event_once_in_chain_order(gateway_http: GatewayProcess) -> None:
    old_hash = issued_marriage(gateway_http, number="J320100-2026-000003")["certificate"]["proof"]["certificateHash"]
    body = {k: v for k, v in marriage_request("J320100-2026-000004").items() if k != "type"}
    successor = gateway_http.client.post(f"/v1/certificates/{old_hash}/supersede", json=body,
                                         headers=gateway_http.auth("MZ")).json()["certificate"]["proof"]
    assert successor["anchor"]["transactionHash"]  # done: its events are in a block
    assert gateway_http.client.post(f"/v1/certificates/{successor['certificateHash']}/revoke", json={"reason": 1},
                                    headers=gateway_http.auth("MZ")).status_code == 200
    paged, url = [], f"/v1/certificates/{successor['certificateHash']}/history/events?limit=1"
    while url:  # MZ's own operations: its reads wait for the index to have them
        page = gateway_http.client.get(url, headers=gateway_http.auth("MZ")).json()
        paged += page["events"]
        url = page["nextUrl"]
    whole = gateway_http.client.get(f"/v1/certificates/{successor['certificateHash']}/history",
                                    headers=gateway_http.auth("MZ")).json()["events"]
    assert paged == whole
    assert sorted(e["event"] for e in paged) == ["CertificateIssued", "CertificateRevoked", "CertificateSuperseded"]


@pytest.mark.parametrize(("part", "params"), [
    ("events", {"cursor": "bm90LWEtY3Vyc29y"}), ("events", {"cursor": "a+b"}),
    ("accesses", {"cursor": "ZXZlbnRzOjE6Mg"}), ("accesses", {"limit": 0}), ("events", {"limit": 1001})],
    ids=["not-a-cursor", "not-base64url", "the-other-lists-cursor", "limit-0", "limit-over-1000"])
def test_a_bad_history_cursor_or_limit_is_a_422_in_the_error_shape(gateway_http: GatewayProcess, part: str,
                                                                   params: dict) -> None:
    response = gateway_http.client.get(f"/v1/certificates/0x{'ab' * 32}/history/{part}", params=params,
                                       headers=gateway_http.auth("SJ"))
    assert (response.status_code, set(response.json())) == (422, {"code", "message", "details"})


def test_a_repeated_request_with_the_same_idempotency_key_returns_the_first_result(
        gateway_http: GatewayProcess) -> None:
    headers = {**gateway_http.auth("MZ"), "Idempotency-Key": str(uuid.uuid4())}
    first = gateway_http.client.post("/v1/certificates", json=marriage_request(), headers=headers).json()
    sent = gateway_http.devnet.transactions_sent()
    again = gateway_http.client.post("/v1/certificates", json=marriage_request(), headers=headers).json()
    assert again == first
    assert gateway_http.devnet.transactions_sent() == sent  # no second transaction


def test_an_idempotency_key_reused_for_another_request_is_a_conflict(gateway_http: GatewayProcess) -> None:
    headers = {**gateway_http.auth("MZ"), "Idempotency-Key": str(uuid.uuid4())}
    gateway_http.client.post("/v1/certificates", json=marriage_request("A-1"), headers=headers)
    response = gateway_http.client.post("/v1/certificates", json=marriage_request("A-2"), headers=headers)
    assert (response.status_code, response.json()["code"]) == (409, "conflict")


def test_revoking_twice_returns_the_first_revocation(gateway_http: GatewayProcess) -> None:
    certificate_hash = issued_marriage(gateway_http)["certificate"]["proof"]["certificateHash"]
    first = gateway_http.client.post(f"/v1/certificates/{certificate_hash}/revoke", json={"reason": 2},
                                     headers=gateway_http.auth("MZ")).json()
    again = gateway_http.client.post(f"/v1/certificates/{certificate_hash}/revoke", json={"reason": 2},
                                     headers=gateway_http.auth("MZ")).json()
    assert again == first


@pytest.mark.parametrize(("body", "status", "code"), [
    ({**marriage_request(), "holder": "RIC:110105194912310021"}, 422, "invalid_holder_id"),
    ({**marriage_request(), "subject": {"holderName": "张三"}}, 422, "schema_violation"),
    ({**marriage_request(), "type": "NO-SUCH-TYPE"}, 404, "not_found"),
    ({**marriage_request(), "validUntil": "2001-01-01T00:00:00Z"}, 422, "invalid_document"),
    ({"holder": "RIC:11010519491231002X"}, 422, "invalid_request"),
])
def test_bad_input_is_refused_before_any_transaction(gateway_http: GatewayProcess, body: dict, status: int,
                                                     code: str) -> None:
    sent = gateway_http.devnet.transactions_sent()
    response = gateway_http.client.post("/v1/certificates", json=body, headers=gateway_http.auth("MZ"))
    assert (response.status_code, response.json()["code"]) == (status, code), response.text
    assert set(response.json()) == {"code", "message", "details"}
    assert gateway_http.devnet.transactions_sent() == sent


def test_a_body_that_is_not_json_is_a_400(gateway_http: GatewayProcess) -> None:
    response = gateway_http.client.post("/v1/certificates", content=b"{not json",
                                        headers={**gateway_http.auth("MZ"), "Content-Type": "application/json"})
    assert (response.status_code, response.json()["code"]) == (400, "malformed_json")


def test_an_unknown_certificate_has_no_status(gateway_http: GatewayProcess) -> None:
    response = gateway_http.client.get("/v1/certificates/0x" + "ab" * 32)
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_a_malformed_hash_in_the_path_is_a_422(gateway_http: GatewayProcess) -> None:
    assert gateway_http.client.get("/v1/certificates/0x1234").status_code == 422


def test_audit_events_page_with_a_cursor(gateway_http: GatewayProcess) -> None:
    for n in range(3):
        issued_marriage(gateway_http, number=f"PAGE-{n}")
    gateway_http.wait_indexed()
    seen, cursor = [], None
    while True:
        params = {"action": "CertificateIssued", "department": "11320100MB0000027A", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = gateway_http.client.get("/v1/audit/events", params=params, headers=gateway_http.auth("SJ")).json()
        seen += page["events"]
        cursor = page["next"]
        if cursor is None:
            break
    hashes = [e["args"]["certificateHash"] for e in seen]
    assert len(hashes) >= 3 and len(set(hashes)) == len(hashes)
    assert {e["event"] for e in seen} == {"CertificateIssued"}


def test_catalog_snapshot_published_and_listed(gateway_http: GatewayProcess) -> None:
    response = gateway_http.client.post("/v1/catalog/snapshots", json={"catalog": {"datasets": ["marriage"]},
                                                                       "uri": "https://example.gov/catalog"},
                                        headers=gateway_http.auth("MZ"))
    assert response.status_code == 201, response.text
    snapshots = gateway_http.client.get("/v1/catalog/snapshots/11320100MB0000027A").json()["snapshots"]
    assert snapshots[-1]["uri"] == "https://example.gov/catalog"


def test_health_and_metrics(gateway_http: GatewayProcess) -> None:
    health = gateway_http.client.get("/readyz").json()
    assert health["chain"]["reachable"] is True
    metrics = gateway_http.client.get("/metrics").text
    assert "certnet_http_requests_total" in metrics and "certnet_outbox_pending" in metrics


def test_the_gateway_serves_with_httptools_and_uvloop(gateway_http: GatewayProcess) -> None:
    assert gateway_http.process is not None
    loaded = Path(f"/proc/{gateway_http.process.pid}/maps").read_text()  # the C extensions the process mapped
    assert ("/httptools/" in loaded, "/uvloop/" in loaded) == (True, True)


#: More issuances than the thread pool has threads (anyio's default: 40).
WAITING_ISSUANCES = 60


def test_issuances_waiting_for_their_receipts_do_not_hold_back_other_requests(own_devnet: Devnet,
                                                                             tmp_path: Path) -> None:
    """With mining stopped, every issuance waits for its receipt; a health check and a verification are
    answered while all of them still wait (each used to hold a pool thread for its whole wait)."""
    gateway = GatewayProcess(own_devnet, tmp_path / "gateway", issue_wait_seconds="600").start()
    try:
        document = issued_marriage(gateway, number="WAIT-0")["certificate"]
        own_devnet.mine_by_hand()
        url, headers = f"http://127.0.0.1:{gateway.port}/v1/certificates", gateway.auth("MZ")
        with ThreadPoolExecutor(WAITING_ISSUANCES) as pool:
            issuances = [pool.submit(httpx.post, url, json=marriage_request(f"WAIT-{n}"), headers=headers, timeout=600)
                         for n in range(1, WAITING_ISSUANCES + 1)]
            try:
                _until_sent(gateway, WAITING_ISSUANCES)  # all accepted, their transactions with the node
                health = gateway.client.get("/healthz")
                verified = gateway.client.post("/v1/verify", json={"document": document})
                waiting = sum(not issuance.done() for issuance in issuances)
            finally:
                own_devnet.w3.provider.make_request("evm_setIntervalMining", [1])  # blocks again: all of them end
            statuses = [issuance.result().status_code for issuance in issuances]
    finally:
        gateway.stop()
    assert (health.status_code, verified.json()["verdict"], waiting) == (200, "valid", WAITING_ISSUANCES)
    assert statuses == [201] * WAITING_ISSUANCES  # they were waiting, not refused


def _until_sent(gateway: GatewayProcess, count: int, timeout: float = 120) -> None:
    """Until `count` operations are sent and wait for a block."""
    sessions = session_factory(make_engine(gateway.database_url))
    deadline = time.monotonic() + timeout
    while (sent := _sent(sessions)) < count:
        assert time.monotonic() < deadline, f"{sent} of {count} issuances were accepted and sent"
        time.sleep(0.1)


def _sent(sessions: sessionmaker) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Operation)
                              .where(Operation.state == OperationState.SENT.value))


def test_a_full_outbox_answers_429_with_a_retry_hint(devnet: Devnet, tmp_path: Path) -> None:
    gateway = GatewayProcess(devnet, tmp_path / "gateway", max_pending_operations="0").start()
    try:
        response = gateway.client.post("/v1/certificates", json=marriage_request("FULL-1"), headers=gateway.auth("MZ"))
        assert (response.status_code, response.json()["code"]) == (429, "too_many_requests")
        assert response.headers["Retry-After"].isdigit()
    finally:
        gateway.stop()


def test_docs_load_swagger_ui_from_the_gateway_itself(gateway_http: GatewayProcess) -> None:
    page = gateway_http.client.get("/docs").text
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', page)
    assert assets and all(url.startswith("/") for url in assets), assets  # no CDN: same origin
    assert all(gateway_http.client.get(url).status_code == 200 for url in assets)


def test_the_openapi_declares_the_bearer_token_and_the_signed_request_headers(gateway_http: GatewayProcess) -> None:
    openapi = gateway_http.client.get("/openapi.json").json()
    schemes = openapi["components"]["securitySchemes"]
    assert schemes["bearerToken"]["scheme"] == "bearer"
    assert {schemes[name]["name"] for name in ("signature", "timestamp", "nonce")} == {
        "X-CertNet-Signature", "X-CertNet-Timestamp", "X-CertNet-Nonce"}
    assert openapi["paths"]["/v1/certificates"]["post"]["security"] == [
        {"bearerToken": []}, {"signature": [], "timestamp": [], "nonce": []}]


def test_every_authenticated_operation_documents_401_and_403_with_the_error_model(
        gateway_http: GatewayProcess) -> None:
    openapi = gateway_http.client.get("/openapi.json").json()
    error_model = {"$ref": "#/components/schemas/ErrorBody"}
    undocumented = [f"{method} {path}" for path, operations in openapi["paths"].items()
                    for method, operation in operations.items() if {} not in operation.get("security", [{}])
                    for status in ("401", "403", "422", "503")
                    if operation["responses"].get(status, {}).get("content", {}).get("application/json", {})
                    .get("schema") != error_model]
    assert undocumented == []
