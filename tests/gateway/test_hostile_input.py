"""Hostile input over real HTTP against anvil: every class an outside run turned into a 500 is a
4xx in the one error shape; bodies, nesting and strings are bounded; the catch-all answers an
unexpected error in the error shape with the request id, and logs the traceback."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gateway.api import errors
from gateway.auth import NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER
from tests.conftest import DEMO_DEPARTMENTS, GatewayProcess, marriage_request

BEYOND_64_BITS = 2**64
ARABIC_INDIC_ID = "RIC:" + "١١٠١٠٥١٩٤٩١٢٣١٠٠٢" + "X"  # 11010519491231002X in Arabic-Indic digits
SUPERSCRIPT_ID = "RIC:¹¹010519491231002X"


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def _assert_error(response: httpx.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    content = response.json()
    assert set(content) == {"code", "message", "details"}, content
    if code is not None:
        assert content["code"] == code, content


@pytest.mark.slow
@pytest.mark.parametrize("stamp", ["²³".encode("latin-1"), "١٧٠٠٠٠٠٠٠٠".encode(), b"9" * 5000, b"1e9", b"-1", b""])
def test_a_timestamp_header_that_is_not_ascii_unix_seconds_is_a_401(gateway_http: GatewayProcess,
                                                                    stamp: bytes) -> None:
    # Header bytes reach the gateway as Latin-1 text: b"\xb2\xb3" is "²³", which `str.isdigit` takes.
    headers = {TIMESTAMP_HEADER: stamp, NONCE_HEADER: "n" * 16,
               SIGNATURE_HEADER: "0x" + "11" * 65}
    _assert_error(gateway_http.client.get("/v1/operations/1", headers=headers), 401, "unauthenticated")


@pytest.mark.slow
@pytest.mark.parametrize("path", [
    f"/v1/operations/{BEYOND_64_BITS}",
    f"/v1/batches/{BEYOND_64_BITS}",
    f"/v1/batches/1?offset={BEYOND_64_BITS}",
    f"/v1/audit/events?cursor={BEYOND_64_BITS}",
    f"/v1/audit/log/entries?after={BEYOND_64_BITS}",
    f"/v1/audit/log/entries/{BEYOND_64_BITS}/inclusion?treeSize=1",
    f"/v1/audit/log/entries/0/inclusion?treeSize={BEYOND_64_BITS}",
    f"/v1/audit/log/consistency?from=1&to={BEYOND_64_BITS}",
    f"/v1/catalog/service-items?cursor={BEYOND_64_BITS}",
])
def test_a_number_beyond_64_bits_in_a_path_or_query_is_a_422(gateway_http: GatewayProcess, path: str) -> None:
    _assert_error(gateway_http.client.get(path, headers=gateway_http.auth("SJ")), 422, "invalid_request")


@pytest.mark.slow
@pytest.mark.parametrize("path", [
    "/v1/catalog/snapshots/民政局",
    "/v1/catalog/snapshots/" + "A" * 33,
    "/v1/catalog/service-items/320100-SX-é",
    "/v1/audit/events?department=民政局",
    "/v1/audit/events?type=" + "T" * 33,
    "/v1/catalog/service-items?handler=民政局",
])
def test_a_non_ascii_or_over_long_code_is_a_422(gateway_http: GatewayProcess, path: str) -> None:
    _assert_error(gateway_http.client.get(path, headers=gateway_http.auth("SJ")), 422, "invalid_request")


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/v1/audit/events?since=0001-01-01T00:00:00",
                                  "/v1/audit/log/entries?until=9999-12-31T23:59:59-14:00"])
def test_a_date_time_filter_outside_1970_to_9999_is_a_422(gateway_http: GatewayProcess, path: str) -> None:
    _assert_error(gateway_http.client.get(path, headers=gateway_http.auth("SJ")), 422, "invalid_request")


@pytest.mark.slow
@pytest.mark.parametrize("field", ["validFrom", "validUntil"])
def test_a_validity_date_time_beyond_year_9999_in_utc_is_a_422(gateway_http: GatewayProcess, field: str) -> None:
    body = {**marriage_request(), field: "9999-12-31T23:59:59-14:00"}
    _assert_error(gateway_http.client.post("/v1/certificates", json=body, headers=gateway_http.auth("MZ")), 422,
                  "invalid_request")


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/v1/audit/events?action=frobnicate", "/v1/audit/log/entries?action=frobnicate"])
def test_an_unknown_filter_value_is_a_422(gateway_http: GatewayProcess, path: str) -> None:
    _assert_error(gateway_http.client.get(path, headers=gateway_http.auth("SJ")), 422, "invalid_request")


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/v1/audit/events?department=NO-SUCH-DEPT", "/v1/audit/events?type=NO-SUCH-TYPE",
                                  "/v1/audit/log/entries?department=NO-SUCH-DEPT",
                                  "/v1/catalog/service-items?handler=NO-SUCH-DEPT"])
def test_a_filter_naming_an_unknown_department_or_type_is_a_422(gateway_http: GatewayProcess, path: str) -> None:
    response = gateway_http.client.get(path, headers=gateway_http.auth("SJ"))
    _assert_error(response, 422, "invalid_input")
    assert "NO-SUCH-" in response.json()["message"]


@pytest.mark.slow
def test_a_known_department_filter_still_filters(gateway_http: GatewayProcess) -> None:
    response = gateway_http.client.get("/v1/audit/events", params={"department": DEMO_DEPARTMENTS["MZ"]},
                                       headers=gateway_http.auth("SJ"))
    assert response.status_code == 200, response.text
    assert {e["department"] for e in response.json()["events"]} == {DEMO_DEPARTMENTS["MZ"]}


@pytest.mark.slow
def test_an_unreadable_document_verified_by_a_department_is_reported_not_a_500(gateway_http: GatewayProcess) -> None:
    response = gateway_http.client.post("/v1/verify", json={"document": {}}, headers=gateway_http.auth("SJ"))
    assert response.status_code == 200, response.text
    assert response.json()["verdict"] == "invalid"


@pytest.mark.slow
@pytest.mark.parametrize("action", ["revoke", "supersede"])
def test_a_shapeless_document_given_to_revoke_or_supersede_is_a_422(gateway_http: GatewayProcess,
                                                                    action: str) -> None:
    body = {"document": {}} if action == "revoke" else {**marriage_request(), "document": {}}
    body.pop("type", None)
    response = gateway_http.client.post(f"/v1/certificates/0x{'22' * 32}/{action}", json=body,
                                        headers=gateway_http.auth("MZ"))
    _assert_error(response, 422, "invalid_document")


@pytest.mark.slow
def test_a_position_beyond_exact_json_integers_is_a_422(gateway_http: GatewayProcess) -> None:
    # the access log records the query, and its canonical JSON holds integers up to 2^53 - 1 only
    response = gateway_http.client.get("/v1/audit/log/entries", params={"after": 2**63 - 2},
                                       headers=gateway_http.auth("SJ"))
    _assert_error(response, 422, "invalid_request")


@pytest.mark.slow
@pytest.mark.parametrize("holder", [ARABIC_INDIC_ID, SUPERSCRIPT_ID])
def test_a_holder_id_with_non_ascii_digits_is_refused_on_issue(gateway_http: GatewayProcess, holder: str) -> None:
    response = gateway_http.client.post("/v1/certificates", json=marriage_request(holder=holder),
                                        headers=gateway_http.auth("MZ"))
    _assert_error(response, 422, "invalid_holder_id")


@pytest.mark.slow
@pytest.mark.parametrize("holder", [ARABIC_INDIC_ID, SUPERSCRIPT_ID])
def test_a_holder_id_with_non_ascii_digits_is_refused_on_key_registration(gateway_http: GatewayProcess,
                                                                          holder: str) -> None:
    response = gateway_http.client.post("/v1/holders/keys", headers=gateway_http.auth("ZWB"),
                                        json={"holder": holder, "publicKey": "-----BEGIN PUBLIC KEY-----"})
    _assert_error(response, 422, "invalid_holder_id")


@pytest.mark.slow
@pytest.mark.parametrize("depth", [300, 5_000])
def test_a_subject_nested_hundreds_of_levels_deep_is_refused(gateway_http: GatewayProcess, depth: int) -> None:
    body = {**marriage_request(), "subject": _nested(depth)}
    response = gateway_http.client.post("/v1/certificates", content=json.dumps(body),
                                        headers={**gateway_http.auth("MZ"), "Content-Type": "application/json"})
    assert response.status_code in (400, 422), response.text
    assert set(response.json()) == {"code", "message", "details"}


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/v1/verify", "/v1/consents"])
def test_a_body_nested_a_hundred_thousand_levels_is_refused_unparsed_and_the_gateway_lives(
        gateway_http: GatewayProcess, path: str) -> None:
    """Parsed, it would overflow the C stack (web3's py_ecc lifts the recursion limit) and kill the process."""
    response = gateway_http.client.post(path, content=b'{"document": ' + b"[" * 100_000,
                                        headers={"Content-Type": "application/json"})
    _assert_error(response, 422, "invalid_request")
    assert response.json()["details"] == {"maxDepth": errors.MAX_BODY_DEPTH,
                                          "requestId": response.headers["X-Request-Id"]}
    assert gateway_http.client.get("/healthz").status_code == 200


@pytest.mark.slow
def test_brackets_inside_strings_do_not_count_as_nesting(gateway_http: GatewayProcess) -> None:
    subject = {**marriage_request()["subject"], "holderName": "[" * 1_000}
    response = gateway_http.client.post("/v1/verify", json={"document": {"credentialSubject": subject}})
    assert response.status_code == 200, response.text


@pytest.mark.slow
def test_a_verified_document_with_an_integer_beyond_uint256_is_a_422(gateway_http: GatewayProcess) -> None:
    document = gateway_http.client.post("/v1/certificates", json=marriage_request("J320100-2026-990001"),
                                        headers=gateway_http.auth("MZ")).json()["certificate"]
    document["proof"]["signature"]["chainId"] = 2**256
    _assert_error(gateway_http.client.post("/v1/verify", json={"document": document}), 422, "invalid_request")


@pytest.mark.slow
def test_a_verified_document_with_a_type_version_beyond_uint32_is_reported_invalid(
        gateway_http: GatewayProcess) -> None:
    document = gateway_http.client.post("/v1/certificates", json=marriage_request("J320100-2026-990002"),
                                        headers=gateway_http.auth("MZ")).json()["certificate"]
    document["credentialSchema"]["version"] = 2**32
    response = gateway_http.client.post("/v1/verify", json={"document": document})
    assert response.status_code == 200, response.text
    assert response.json()["verdict"] == "invalid"
    assert "integer version (1 to 4294967295)" in response.json()["checks"][0]["reason"]


@pytest.mark.slow
def test_a_number_that_is_not_finite_is_a_422(gateway_http: GatewayProcess) -> None:
    response = gateway_http.client.post("/v1/verify", content=b'{"document": {"a": NaN}}',
                                        headers={"Content-Type": "application/json"})
    _assert_error(response, 422, "invalid_request")


@pytest.mark.slow
def test_a_revocation_reason_beyond_the_known_ones_is_a_422(gateway_http: GatewayProcess) -> None:
    response = gateway_http.client.post(f"/v1/certificates/0x{'11' * 32}/revoke", json={"reason": BEYOND_64_BITS},
                                        headers=gateway_http.auth("MZ"))
    _assert_error(response, 422, "invalid_request")


@pytest.mark.slow
def test_a_ten_megabyte_holder_name_is_413_before_it_is_parsed(gateway_http: GatewayProcess) -> None:
    body = marriage_request()
    body["subject"]["holderName"] = "张" * (10 << 20)
    response = gateway_http.client.post("/v1/certificates", json=body, headers=gateway_http.auth("MZ"))
    _assert_error(response, 413, "payload_too_large")


@pytest.mark.slow
def test_a_ten_megabyte_holder_name_in_a_batch_is_refused_by_its_length(gateway_http: GatewayProcess) -> None:
    content = marriage_request()
    content["subject"]["holderName"] = "x" * (10 << 20)
    body = {"type": content.pop("type"), "certificates": [content]}
    response = gateway_http.client.post("/v1/batches", json=body, headers=gateway_http.auth("MZ"))
    _assert_error(response, 422, "invalid_request")
    assert "at most 4096" in response.json()["message"]


@pytest.mark.slow
def test_a_declared_body_over_the_limit_is_413_even_where_no_body_is_read(gateway_http: GatewayProcess) -> None:
    response = gateway_http.client.request("GET", "/v1/departments", content=b"x" * ((1 << 20) + 1))
    _assert_error(response, 413, "payload_too_large")


@pytest.mark.slow
def test_a_streamed_body_over_the_limit_is_413(gateway_http: GatewayProcess) -> None:
    chunks = (b" " * 65_536 for _ in range(20))  # no Content-Length: chunked, counted as it arrives
    response = gateway_http.client.post("/v1/verify", content=chunks, headers={"Content-Type": "application/json"})
    _assert_error(response, 413, "payload_too_large")


@pytest.mark.slow
def test_every_response_carries_a_request_id(gateway_http: GatewayProcess) -> None:
    ids = {gateway_http.client.get("/v1/departments").headers["X-Request-Id"] for _ in range(2)}
    assert len(ids) == 2


def test_an_unexpected_error_answers_the_error_shape_with_the_request_id_and_logs_it(
        caplog: pytest.LogCaptureFixture) -> None:
    app = FastAPI()
    errors.install(app)
    app.add_middleware(errors.RequestGuard, max_body_bytes=1024, larger_bodies={})

    @app.get("/fails")
    def fails() -> None:
        raise RuntimeError("a bug nobody expected")

    client = TestClient(app)
    with caplog.at_level(logging.ERROR, logger=errors.__name__):
        response = client.get("/fails")
    request_id = response.headers["X-Request-Id"]
    _assert_error(response, 500, "internal_error")
    assert response.json()["details"] == {"requestId": request_id}
    assert request_id in caplog.text and "RuntimeError: a bug nobody expected" in caplog.text
