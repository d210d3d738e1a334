"""Liveness (`/healthz`), readiness (`/readyz`: chain, database, index lag), `/metrics`, graceful
shutdown, and the access log's anchoring as /readyz shows it: when the last checkpoint was anchored,
whether one is overdue, and a checkpoint thread that survives an error and anchors on its retry."""

from __future__ import annotations

import datetime as dt
import json
import logging
import signal
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, make_url, text

from gateway.db import OPEN_STATES
from gateway.service import Gateway
from gateway.settings import Settings
from ledger_node.types import code32
from tests.conftest import DEMO_DEPARTMENTS, Devnet, GatewayProcess, RpcProxy


def _log_id(devnet: Devnet) -> str:
    """An access log id of the test's own, registered by governance for the demo's log operator (DSJ):
    checkpoints on the shared devnet do not meet other logs'."""
    log_id = f"health-{uuid.uuid4().hex[:16]}"
    devnet.govern(devnet.deployment.checkpoints.functions.setLogOperator(code32(log_id),
                                                                        code32(DEMO_DEPARTMENTS["DSJ"])))
    return log_id


def _checkpoints_when(gateway: GatewayProcess, condition: Callable[[dict[str, Any]], bool],
                      timeout: float = 60) -> dict[str, Any]:
    """The `checkpoints` part of /readyz, once it meets `condition`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        checkpoints = gateway.client.get("/readyz").json()["checkpoints"]
        if condition(checkpoints):
            return checkpoints
        time.sleep(0.2)
    raise AssertionError(f"/readyz did not come to show it; last: {checkpoints}")


def _audit_query(gateway: GatewayProcess) -> None:
    """One access log entry: the audit bureau reads the event index."""
    assert gateway.client.get("/v1/audit/events", headers=gateway.auth("SJ")).status_code == 200


@pytest.mark.slow
def test_readyz_shows_when_the_last_checkpoint_was_anchored(devnet: Devnet, tmp_path: Path) -> None:
    log_id = _log_id(devnet)
    gateway = GatewayProcess(devnet, tmp_path / "gateway", checkpoint_interval_seconds="1",
                             access_log_id=log_id).start()
    try:
        _audit_query(gateway)
        status = _checkpoints_when(gateway, lambda c: c["anchoredSize"] > 0)
        _size, anchored_at, *_ = devnet.deployment.checkpoints.functions.checkpoint(code32(log_id), 0).call()
        assert dt.datetime.fromisoformat(status["lastAnchoredAt"]).timestamp() == anchored_at
        assert status["overdue"] is False
    finally:
        gateway.stop()


@pytest.mark.slow
def test_readyz_shows_a_checkpoint_overdue_while_anchoring_fails(devnet: Devnet, tmp_path: Path) -> None:
    """A gateway holding no key of the log-operator department cannot anchor its log."""
    keyless = tmp_path / "no-keys"
    keyless.mkdir()
    gateway = GatewayProcess(devnet, tmp_path / "gateway", checkpoint_interval_seconds="1", access_log_id=_log_id(devnet),
                             key_store=str(keyless), key_passphrase="unused").start()
    try:
        _audit_query(gateway)
        status = _checkpoints_when(gateway, lambda c: c["overdue"] is True)
        assert (status["lastAnchoredAt"], status["anchoredSize"]) == (None, 0)
    finally:
        gateway.stop()


@pytest.mark.slow
def test_the_checkpoint_thread_logs_an_error_and_anchors_on_its_retry(
        devnet: Devnet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    data_dir = GatewayProcess(devnet, tmp_path / "gateway").data_dir  # manifest and schemas copied in
    gateway = Gateway(Settings(_env_file=None, data_dir=data_dir, rpc_url=devnet.node.url,  # type: ignore[call-arg]
                               access_log_id=_log_id(devnet), checkpoint_interval_seconds=0))
    gateway.audit.record(DEMO_DEPARTMENTS["SJ"], "audit_query", query={"log": {}})
    anchor = gateway.audit.request_checkpoint
    attempts: list[int] = []

    def fails_first() -> object:
        attempts.append(len(attempts))
        if len(attempts) == 1:
            raise RuntimeError("injected checkpoint failure")
        return anchor()

    monkeypatch.setattr(gateway.audit, "request_checkpoint", fails_first)
    stop = threading.Event()
    checkpoints = threading.Thread(target=gateway.audit.run_checkpoints, args=(stop, 0.05), daemon=True)
    gateway.start()  # the outbox sends what the checkpoint thread queues
    checkpoints.start()
    try:
        with caplog.at_level(logging.ERROR, logger="gateway.audit.trail"):
            deadline = time.monotonic() + 60
            while gateway.audit.anchored_size() == 0 and time.monotonic() < deadline:
                time.sleep(0.1)
        assert gateway.audit.anchored_size() == 1
        assert "injected checkpoint failure" in caplog.text
    finally:
        stop.set()
        checkpoints.join()
        gateway.stop()


@pytest.mark.slow
def test_a_gateway_that_serves_is_live_and_ready(gateway_http: GatewayProcess) -> None:
    gateway_http.wait_indexed()
    live, ready = gateway_http.client.get("/healthz"), gateway_http.client.get("/readyz")
    assert (live.status_code, live.json()["status"]) == (200, "ok")
    assert (ready.status_code, ready.json()["status"], ready.json()["reasons"]) == (200, "ready", [])
    assert (ready.json()["chain"]["reachable"], ready.json()["database"]["reachable"]) == (True, True)


@pytest.mark.slow
def test_a_gateway_whose_chain_is_cut_stays_live_and_is_not_ready(own_devnet: Devnet, rpc_proxy: RpcProxy,
                                                                  tmp_path: Path) -> None:
    gateway = GatewayProcess(own_devnet, tmp_path / "gateway", rpc_url=rpc_proxy.url).start()
    try:
        rpc_proxy.cut()
        live, ready = gateway.client.get("/healthz"), gateway.client.get("/readyz")
        assert live.status_code == 200
        assert (ready.status_code, ready.json()["reasons"], ready.json()["chain"]["head"]) == \
            (503, ["chain_unreachable"], None)
    finally:
        gateway.stop()


@pytest.mark.slow
def test_a_gateway_whose_index_lags_past_the_limit_is_not_ready(devnet: Devnet, tmp_path: Path) -> None:
    """The index reads the chain once an hour: every block mined after its first round is lag."""
    gateway = GatewayProcess(devnet, tmp_path / "gateway", index_poll_seconds="3600",
                             ready_max_index_lag="0").start()
    try:
        deadline = time.monotonic() + 60
        while (ready := gateway.client.get("/readyz")).status_code == 200 and time.monotonic() < deadline:
            devnet.mine()
        assert (ready.status_code, ready.json()["reasons"]) == (503, ["index_lagging"])
        assert ready.json()["index"]["lag"] > ready.json()["index"]["maxLag"] == 0
    finally:
        gateway.stop()


@pytest.mark.slow
@pytest.mark.postgres
def test_a_gateway_whose_database_refuses_connections_stays_live_and_is_not_ready(
        devnet: Devnet, postgres_url: str, tmp_path: Path) -> None:
    gateway = GatewayProcess(devnet, tmp_path / "gateway", database_url=postgres_url).start()
    server = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    name = make_url(gateway.database_url).database
    try:
        with server.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false'))
            connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                               {"name": name})
        live, ready = gateway.client.get("/healthz"), gateway.client.get("/readyz")
        assert live.status_code == 200
        assert (ready.status_code, ready.json()["reasons"], ready.json()["outbox"]["pending"]) == \
            (503, ["database_unreachable"], None)
    finally:
        with server.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true'))
        server.dispose()
        gateway.stop()


def _samples(metrics_text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(metrics_text) for sample in family.samples}


@pytest.mark.slow
def test_metrics_show_outbox_depth_per_state_and_the_chain_database_and_index(gateway_http: GatewayProcess) -> None:
    samples = _samples(gateway_http.client.get("/metrics").text)
    assert {labels for name, labels in samples if name == "certnet_outbox_operations"} == \
        {frozenset({("state", state.value)}) for state in OPEN_STATES}
    assert samples[("certnet_chain_reachable", frozenset())] == 1
    assert samples[("certnet_database_reachable", frozenset())] == 1
    assert samples[("certnet_index_lag_blocks", frozenset())] >= 0


@pytest.mark.slow
def test_metrics_show_a_gateway_alone_leading_every_duty(gateway_http: GatewayProcess) -> None:
    samples = _samples(gateway_http.client.get("/metrics").text)
    leading = {dict(labels)["duty"]: value for (name, labels), value in samples.items() if name == "certnet_leader"}
    assert "event-index" in leading and any(duty.startswith("outbox:") for duty in leading)
    assert set(leading.values()) == {1}


@pytest.mark.slow
def test_metrics_time_requests_per_route_template(gateway_http: GatewayProcess) -> None:
    for _ in range(2):
        gateway_http.client.get(f"/v1/certificates/0x{uuid.uuid4().hex * 2}")
    samples = _samples(gateway_http.client.get("/metrics").text)
    route = frozenset({("route", "/v1/certificates/{certificate_hash}"), ("le", "+Inf")})
    assert samples[("certnet_http_request_seconds_bucket", route)] >= 2
    assert not [labels for name, labels in samples if dict(labels).get("route", "").startswith("/v1/certificates/0x")]


@pytest.mark.slow
def test_metrics_show_the_checkpoint_age_once_the_access_log_is_anchored(devnet: Devnet, tmp_path: Path) -> None:
    gateway = GatewayProcess(devnet, tmp_path / "gateway", checkpoint_interval_seconds="1",
                             access_log_id=_log_id(devnet)).start()
    try:
        _audit_query(gateway)
        _checkpoints_when(gateway, lambda c: c["anchoredSize"] > 0)
        samples = _samples(gateway.client.get("/metrics").text)
        assert 0 <= samples[("certnet_checkpoint_age_seconds", frozenset())] < 3600
    finally:
        gateway.stop()


def _request_line(path: str, content_length: int) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {content_length}\r\nExpect: 100-continue\r\n\r\n").encode()


def _refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except (ConnectionRefusedError, ConnectionResetError):  # reset: it was queued when the listener closed
        return True
    return False


@pytest.mark.slow
def test_sigterm_lets_a_request_in_flight_finish_with_2xx_then_the_gateway_shuts_down(
        devnet: Devnet, tmp_path: Path) -> None:
    """The request is in flight (its headers read, the app waiting for its body: the gateway asked for it
    with `100 Continue`) when SIGTERM comes; the gateway stops listening, answers it, then runs the app's
    shutdown (`Gateway.stop`) and exits."""
    gateway = GatewayProcess(devnet, tmp_path / "gateway").start()
    assert gateway.process is not None
    body = json.dumps({"document": {}}).encode()
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=60) as client:
        client.sendall(_request_line("/v1/verify", len(body)))
        assert client.recv(1024).startswith(b"HTTP/1.1 100 Continue")
        gateway.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        while not _refuses_connections(gateway.port):
            assert time.monotonic() < deadline, "the gateway kept accepting connections after SIGTERM"
        client.sendall(body)
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    assert answer.split(b"\r\n", 1)[0] == b"HTTP/1.1 200 OK", answer[:500]
    assert gateway.process.wait(timeout=60) == -signal.SIGTERM  # uvicorn ends by the signal it was stopped with
    assert "Application shutdown complete." in [json.loads(line)["message"] for line in gateway.log.splitlines()]
