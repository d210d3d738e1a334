"""The gateway's log output: JSON lines, one access line per request with its id and route template
(never the raw path), the request id carried from a load balancer and into every error body, and no
ID number in any line."""

from __future__ import annotations

import json
import logging
import sys
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gateway.api import errors
from gateway.logs import JsonLines, REQUEST_ID, RequestIdFilter, sane_request_id
from tests.conftest import GatewayProcess, marriage_request

CITIZEN_ID = "11010519491231002X"


def _log_lines(gateway: GatewayProcess) -> list[dict[str, Any]]:
    """Every line the gateway process wrote, each parsed as JSON (a line that is not JSON fails the test)."""
    return [json.loads(line) for line in gateway.log.splitlines() if line.strip()]


def _lines_of(gateway: GatewayProcess, response: httpx.Response) -> list[dict[str, Any]]:
    return [line for line in _log_lines(gateway) if line.get("requestId") == response.headers["X-Request-Id"]]


@pytest.mark.slow
def test_every_line_a_serving_gateway_writes_is_a_json_object_with_time_level_logger_message(
        gateway_http: GatewayProcess) -> None:
    gateway_http.client.get("/v1/departments")
    lines = _log_lines(gateway_http)
    assert lines and all({"time", "level", "logger", "message"} <= set(line) for line in lines)


@pytest.mark.slow
def test_a_request_gets_one_access_line_with_its_route_template_status_and_duration(
        gateway_http: GatewayProcess) -> None:
    certificate_hash = "0x" + uuid.uuid4().hex * 2
    response = gateway_http.client.get(f"/v1/certificates/{certificate_hash}")
    [access] = [line for line in _lines_of(gateway_http, response) if line["logger"] == "gateway.access"]
    assert (access["method"], access["route"], access["status"]) == \
        ("GET", "/v1/certificates/{certificate_hash}", response.status_code)
    assert access["durationMs"] >= 0


@pytest.mark.slow
def test_the_raw_path_with_its_hash_stays_out_of_the_log(gateway_http: GatewayProcess) -> None:
    certificate_hash = "0x" + uuid.uuid4().hex * 2
    gateway_http.client.get(f"/v1/certificates/{certificate_hash}")
    gateway_http.client.get("/v1/departments")  # written after the first request's lines
    assert certificate_hash[2:] not in gateway_http.log


@pytest.mark.slow
def test_an_id_number_in_a_path_or_body_reaches_no_log_line(gateway_http: GatewayProcess) -> None:
    by_path = gateway_http.client.get(f"/v1/consents/RIC:{CITIZEN_ID}", headers=gateway_http.auth("MZ"))
    by_body = gateway_http.client.post("/v1/certificates", json=marriage_request("LOG-ID", f"RIC:{CITIZEN_ID}"),
                                       headers=gateway_http.auth("MZ"))
    assert by_path.status_code in (404, 422) and by_body.status_code in (201, 202)
    assert _lines_of(gateway_http, by_path) and _lines_of(gateway_http, by_body)
    assert CITIZEN_ID not in gateway_http.log


@pytest.mark.slow
def test_an_unmatched_path_is_logged_as_unmatched(gateway_http: GatewayProcess) -> None:
    response = gateway_http.client.get("/no/such/path")
    [access] = [line for line in _lines_of(gateway_http, response) if line["logger"] == "gateway.access"]
    assert (access["route"], access["status"]) == ("unmatched", 404)


@pytest.mark.slow
def test_a_load_balancers_request_id_carries_through_to_the_response_and_the_log(
        gateway_http: GatewayProcess) -> None:
    request_id = f"lb-{uuid.uuid4()}"
    response = gateway_http.client.get("/v1/departments", headers={"X-Request-Id": request_id})
    assert response.headers["X-Request-Id"] == request_id
    assert [line["route"] for line in _lines_of(gateway_http, response)] == ["/v1/departments"]


@pytest.mark.slow
@pytest.mark.parametrize("unfit", ["short", "x" * 129, "id with spaces", "<script>", f"RIC:{CITIZEN_ID}",
                                   f"lb-{CITIZEN_ID}-1"])
def test_an_unfit_request_id_is_replaced_by_one_of_the_gateways_own(gateway_http: GatewayProcess,
                                                                      unfit: str) -> None:
    response = gateway_http.client.get("/v1/departments", headers={"X-Request-Id": unfit})
    assert response.headers["X-Request-Id"] not in (unfit, "")


@pytest.mark.parametrize("fit", ["0123456789abcdef0123456789abcdef", str(uuid.UUID(int=7)), "01HF8K2M5Q:node-3.req_9"])
def test_a_sane_request_id_is_kept(fit: str) -> None:
    assert sane_request_id(fit) == fit


@pytest.mark.slow
@pytest.mark.parametrize("request_kwargs, status", [
    ({"method": "GET", "url": "/v1/nowhere"}, 404),
    ({"method": "POST", "url": "/v1/verify", "content": b"{not json", "headers": {"Content-Type": "application/json"}},
     400),
    ({"method": "POST", "url": "/v1/verify", "json": {"documents": []}}, 422),
    ({"method": "POST", "url": "/v1/verify", "content": b"x" * ((1 << 20) + 1)}, 413),
    ({"method": "GET", "url": "/v1/audit/events"}, 401),
    ({"method": "DELETE", "url": "/v1/departments"}, 405),
])
def test_every_error_body_carries_the_request_id_of_its_response(gateway_http: GatewayProcess,
                                                                  request_kwargs: dict[str, Any], status: int) -> None:
    response = gateway_http.client.request(**request_kwargs)
    assert response.status_code == status, response.text
    assert response.json()["details"]["requestId"] == response.headers["X-Request-Id"]


def _formatted(record: logging.LogRecord) -> dict[str, Any]:
    RequestIdFilter().filter(record)
    return json.loads(JsonLines("%(levelname)s %(name)s %(message)s").format(record))


def test_a_record_written_during_a_request_names_its_request_id() -> None:
    record = logging.LogRecord("gateway.outbox", logging.WARNING, __file__, 1, "queued", None, None)
    token = REQUEST_ID.set("req-0123456789")
    try:
        assert _formatted(record)["requestId"] == "req-0123456789"
    finally:
        REQUEST_ID.reset(token)


def test_a_traceback_in_a_json_line_has_its_id_numbers_redacted() -> None:
    try:
        raise ValueError(f"no certificate for {CITIZEN_ID}")
    except ValueError:
        record = logging.LogRecord("gateway.api.errors", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    line = _formatted(record)
    assert "ValueError: no certificate for [redacted]" in line["exc_info"]
    assert CITIZEN_ID not in json.dumps(line)


def test_a_record_written_in_the_worker_thread_of_a_request_names_that_requests_id() -> None:
    """Synchronous routes run in anyio's worker threads: the request id travels there with the context."""
    app = FastAPI()
    app.add_middleware(errors.RequestGuard, max_body_bytes=1024, larger_bodies={})
    route_log = logging.getLogger("tests.gateway.route")
    written: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.addFilter(RequestIdFilter())
    handler.emit = written.append  # type: ignore[method-assign]

    @app.get("/work")
    def work() -> dict[str, str]:
        route_log.warning("working")
        return {}

    route_log.addHandler(handler)
    try:
        response = TestClient(app).get("/work")
    finally:
        route_log.removeHandler(handler)
    [record] = written
    assert record.requestId == response.headers["X-Request-Id"]  # type: ignore[attr-defined]
