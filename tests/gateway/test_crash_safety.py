"""Nothing lost, nothing doubled: the gateway killed with SIGKILL mid-issuance and mid-batch, the
chain stopping under it, and the outbox's restart reconciliation step by step."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from gateway.auth import Caller
from gateway.db import Operation, OperationState, make_engine, session_factory
from gateway.service import Gateway
from gateway.models import IssueRequest
from gateway.settings import Settings
from tests.conftest import (DEMO_DEPARTMENTS, Devnet, GatewayProcess, batch_events, issued_events,
                            marriage_request, wait_done)

pytestmark = pytest.mark.slow


def test_killed_mid_issuance_every_accepted_request_is_anchored_exactly_once(own_devnet: Devnet,
                                                                              tmp_path: Path) -> None:
    gateway = GatewayProcess(own_devnet, tmp_path / "gateway").start()
    keys = [str(uuid.uuid4()) for _ in range(24)]
    answered: dict[str, dict] = {}

    def client(key: str, n: int) -> None:
        try:
            response = gateway.client.post("/v1/certificates", json=marriage_request(f"KILL-{n}"),
                                           headers={**gateway.auth("MZ"), "Idempotency-Key": key})
            answered[key] = response.json()
        except httpx.TransportError:
            pass  # the gateway died under this request

    threads = [threading.Thread(target=client, args=(key, n)) for n, key in enumerate(keys)]
    for thread in threads:
        thread.start()
    time.sleep(0.6)
    gateway.kill()
    for thread in threads:
        thread.join()
    gateway.start()  # same database: the restart reconciles the outbox with the chain

    def retry(n: int) -> None:  # a client retries every request, answered or not, with its key
        key = keys[n]
        response = gateway.client.post("/v1/certificates", json=marriage_request(f"KILL-{n}"),
                                       headers={**gateway.auth("MZ"), "Idempotency-Key": key})
        assert response.status_code in (201, 202), response.text
        result = wait_done(gateway, f"/v1/operations/{response.json()['operation']['id']}")
        assert result["operation"]["state"] == "done"
        if key in answered and "certificate" in answered[key]:
            assert answered[key]["certificate"]["proof"]["certificateHash"] == \
                result["certificate"]["proof"]["certificateHash"]
        assert issued_events(own_devnet, result["certificate"]["proof"]["certificateHash"]) == 1

    try:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(retry, range(len(keys))))
        sessions = session_factory(make_engine(f"sqlite:///{tmp_path / 'gateway' / 'gateway.db'}"))
        with sessions() as session:
            states = {op.state for op in session.query(Operation)}
        assert states == {"done"}
    finally:
        gateway.stop()


def test_killed_mid_batch_the_batch_resumes_and_is_anchored_once(own_devnet: Devnet, tmp_path: Path) -> None:
    gateway = GatewayProcess(own_devnet, tmp_path / "gateway").start()
    members = [{k: v for k, v in marriage_request(f"KB-{n}").items() if k != "type"} for n in range(4_000)]
    accepted = gateway.client.post("/v1/batches", json={"type": "320100-MZ-001", "certificates": members},
                                   headers=gateway.auth("MZ"))
    assert accepted.status_code == 202, accepted.text
    batch_path = f"/v1/batches/{accepted.json()['id']}"
    while gateway.client.get(batch_path, headers=gateway.auth("MZ")).json()["progress"]["composed"] == 0:
        time.sleep(0.05)
    gateway.kill()  # composing has begun and cannot have finished (4 000 documents in chunks of 1 000)
    gateway.start()
    try:
        done = wait_done(gateway, f"{batch_path}?limit=10000")
        assert done["state"] == "done", done
        hashes = {c["proof"]["certificateHash"] for c in done["certificates"]}
        assert len(hashes) == 4_000
        events = batch_events(own_devnet, done["batchRoot"])
        assert [e["args"]["memberCount"] for e in events] == [4_000]
    finally:
        gateway.stop()


def test_a_signed_but_unsent_transaction_is_sent_once_after_a_restart(own_devnet: Devnet, tmp_path: Path) -> None:
    """A crash between storing the signed transaction and sending it."""
    settings = Settings(data_dir=_gateway_dir(own_devnet, tmp_path), rpc_url=own_devnet.node.url)
    crashed = Gateway(settings)
    caller = _caller("MZ")
    operation = crashed.issuance.issue(caller, IssueRequest.model_validate(marriage_request("SIGNED-1")), None)
    crashed.outbox.sign_prepared()  # ... and the process dies before send_signed()
    restarted = Gateway(settings)
    restarted.start()
    try:
        finished = restarted.outbox.wait(operation.id, timeout=30)
        assert finished.state == OperationState.DONE.value
        assert issued_events(own_devnet, operation.request["certificateHash"]) == 1
    finally:
        restarted.stop()


def test_a_sent_transaction_whose_receipt_was_not_recorded_is_not_sent_twice(own_devnet: Devnet,
                                                                             tmp_path: Path) -> None:
    """A crash between sending and recording `sent`: the restart finds the same bytes on the chain."""
    settings = Settings(data_dir=_gateway_dir(own_devnet, tmp_path), rpc_url=own_devnet.node.url)
    crashed = Gateway(settings)
    operation = crashed.issuance.issue(_caller("MZ"), IssueRequest.model_validate(marriage_request("S-2")),
                                       None)
    crashed.outbox.sign_prepared()
    with crashed.sessions() as session:
        signed = session.get(Operation, operation.id)
    own_devnet.w3.eth.send_raw_transaction(signed.raw_tx)  # sent, but the state change to `sent` was lost
    restarted = Gateway(settings)
    restarted.start()
    try:
        assert restarted.outbox.wait(operation.id, timeout=30).state == OperationState.DONE.value
    finally:
        restarted.stop()  # nothing can be sent after this
    assert own_devnet.w3.eth.get_transaction_count(signed.sender, "pending") == signed.nonce + 1
    assert issued_events(own_devnet, operation.request["certificateHash"]) == 1


def test_while_the_chain_is_down_requests_get_503_and_pending_work_completes_after(own_devnet: Devnet,
                                                                                   tmp_path: Path) -> None:
    gateway = GatewayProcess(own_devnet, tmp_path / "gateway").start()
    try:
        members = [{k: v for k, v in marriage_request(f"DOWN-{n}").items() if k != "type"} for n in range(3_000)]
        accepted = gateway.client.post("/v1/batches", json={"type": "320100-MZ-001", "certificates": members},
                                       headers=gateway.auth("MZ"))
        assert accepted.status_code == 202
        own_devnet.stop_chain()
        refused = gateway.client.post("/v1/certificates", json=marriage_request("DOWN-X"), headers=gateway.auth("MZ"))
        assert (refused.status_code, refused.json()["code"]) == (503, "chain_unavailable")
        assert refused.headers["Retry-After"].isdigit()
        assert gateway.client.get("/healthz").status_code == 503
        time.sleep(2)
        own_devnet.restart_chain()
        done = wait_done(gateway, f"/v1/batches/{accepted.json()['id']}?limit=1")
        assert done["state"] == "done", done
        assert len(batch_events(own_devnet, done["batchRoot"])) == 1
    finally:
        gateway.stop()


def _gateway_dir(devnet: Devnet, tmp_path: Path) -> Path:
    return GatewayProcess(devnet, tmp_path / "gateway").data_dir  # manifest and schemas copied in


def _caller(abbr: str) -> Caller:
    return Caller(DEMO_DEPARTMENTS[abbr], "token")
