"""`/healthz` and the access log's anchoring: when the last checkpoint was anchored, whether one is
overdue, and a checkpoint thread that survives an error and anchors on its retry."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import pytest

from gateway.service import Gateway
from gateway.settings import Settings
from ledger_node.types import code32
from tests.conftest import DEMO_DEPARTMENTS, Devnet, GatewayProcess

pytestmark = pytest.mark.slow


def _log_id() -> str:
    """An access log id of the test's own: checkpoints on the shared devnet do not meet other logs'."""
    return f"health-{uuid.uuid4().hex[:16]}"


def _checkpoints_when(gateway: GatewayProcess, condition: Callable[[dict[str, Any]], bool],
                      timeout: float = 60) -> dict[str, Any]:
    """The `checkpoints` part of /healthz, once it meets `condition`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        checkpoints = gateway.client.get("/healthz").json()["checkpoints"]
        if condition(checkpoints):
            return checkpoints
        time.sleep(0.2)
    raise AssertionError(f"/healthz did not come to show it; last: {checkpoints}")


def _audit_query(gateway: GatewayProcess) -> None:
    """One access log entry: the audit bureau reads the event index."""
    assert gateway.client.get("/v1/audit/events", headers=gateway.auth("SJ")).status_code == 200


def test_healthz_shows_when_the_last_checkpoint_was_anchored(devnet: Devnet, tmp_path: Path) -> None:
    log_id = _log_id()
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


def test_healthz_shows_a_checkpoint_overdue_while_anchoring_fails(devnet: Devnet, tmp_path: Path) -> None:
    """A gateway holding no key of the log-operator department cannot anchor its log."""
    keyless = tmp_path / "no-keys"
    keyless.mkdir()
    gateway = GatewayProcess(devnet, tmp_path / "gateway", checkpoint_interval_seconds="1", access_log_id=_log_id(),
                             key_store=str(keyless), key_passphrase="unused").start()
    try:
        _audit_query(gateway)
        status = _checkpoints_when(gateway, lambda c: c["overdue"] is True)
        assert (status["lastAnchoredAt"], status["anchoredSize"]) == (None, 0)
    finally:
        gateway.stop()


def test_the_checkpoint_thread_logs_an_error_and_anchors_on_its_retry(
        devnet: Devnet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    data_dir = GatewayProcess(devnet, tmp_path / "gateway").data_dir  # manifest and schemas copied in
    gateway = Gateway(Settings(_env_file=None, data_dir=data_dir, rpc_url=devnet.node.url,  # type: ignore[call-arg]
                               access_log_id=_log_id(), checkpoint_interval_seconds=0))
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
