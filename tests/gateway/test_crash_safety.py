"""Nothing lost, nothing doubled: the gateway killed with SIGKILL mid-issuance and mid-batch, the
chain stopping under it, and the outbox's restart reconciliation step by step."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import httpx
import pytest
from sqlalchemy import select

from gateway.db import Operation, OperationState, make_engine, session_factory
from gateway.service import Gateway
from gateway.models import IssueRequest
from tests.conftest import (Devnet, GatewayProcess, batch_anchorings, department_caller, issued_events, marriage_request,
                            wait_done)

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
        assert batch_anchorings(own_devnet, done["batchRoot"]) == [4_000]
    finally:
        gateway.stop()


def test_a_signed_but_unsent_transaction_is_sent_once_after_a_restart(own_devnet: Devnet,
                                                                     gateway_on_own_devnet: Callable[..., Gateway]) -> None:
    """A crash between storing the signed transaction and sending it."""
    crashed = gateway_on_own_devnet()
    operation = crashed.issuance.issue(department_caller("MZ"), IssueRequest.model_validate(marriage_request("SIGNED-1")),
                                       None)
    crashed.outbox.sign_prepared()  # ... and the process dies before send_signed()
    restarted = gateway_on_own_devnet()
    restarted.start()
    try:
        finished = asyncio.run(restarted.outbox.settled(operation.id, timeout=30))
        assert finished.state == OperationState.DONE.value
        assert issued_events(own_devnet, operation.request["certificateHash"]) == 1
    finally:
        restarted.stop()


def test_a_sent_transaction_whose_receipt_was_not_recorded_is_not_sent_twice(
        own_devnet: Devnet, gateway_on_own_devnet: Callable[..., Gateway]) -> None:
    """A crash between sending and recording `sent`: the restart finds the same bytes on the chain."""
    crashed = gateway_on_own_devnet()
    operation = crashed.issuance.issue(department_caller("MZ"), IssueRequest.model_validate(marriage_request("S-2")),
                                       None)
    crashed.outbox.sign_prepared()
    with crashed.sessions() as session:
        signed = session.get(Operation, operation.id)
    own_devnet.w3.eth.send_raw_transaction(signed.raw_tx)  # sent, but the state change to `sent` was lost
    restarted = gateway_on_own_devnet()
    restarted.start()
    try:
        assert asyncio.run(restarted.outbox.settled(operation.id, timeout=30)).state == OperationState.DONE.value
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
        assert gateway.client.get("/readyz").status_code == 503
        time.sleep(2)
        own_devnet.restart_chain()
        done = wait_done(gateway, f"/v1/batches/{accepted.json()['id']}?limit=1")
        assert done["state"] == "done", done
        assert len(batch_anchorings(own_devnet, done["batchRoot"])) == 1
    finally:
        gateway.stop()



def _operation_states(gateway: GatewayProcess) -> set[str]:
    sessions = session_factory(make_engine(gateway.database_url))
    with sessions() as session:
        return set(session.scalars(select(Operation.state)))


def _histories(gateway: GatewayProcess) -> list[list[dict]]:
    sessions = session_factory(make_engine(gateway.database_url))
    with sessions() as session:
        return [operation.history or [] for operation in session.scalars(select(Operation))]


def _issue_until_answered(gateway: GatewayProcess, key: str, number: str, timeout: float = 120) -> httpx.Response:
    """What a client does: sends the request with its Idempotency-Key again until it is answered 201 or 202."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = gateway.client.post("/v1/certificates", json=marriage_request(number),
                                           headers={**gateway.auth("MZ"), "Idempotency-Key": key})
            if response.status_code in (201, 202):
                return response
            assert response.status_code in (429, 503), response.text
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{number} was not answered within {timeout:.0f} s"
        time.sleep(0.5)


def test_a_reorganisation_deeper_than_confirmations_anchors_done_operations_again(own_devnet: Devnet,
                                                                                   tmp_path: Path) -> None:
    gateway = GatewayProcess(own_devnet, tmp_path / "gateway", confirmations="2").start()
    try:
        snapshot = own_devnet.w3.provider.make_request("evm_snapshot", [])["result"]
        fork_block = own_devnet.w3.eth.block_number
        answered = [gateway.client.post("/v1/certificates", json=marriage_request(f"REORG-{n}"),
                                        headers={**gateway.auth("MZ"), "Idempotency-Key": f"reorg-{n}"})
                    for n in range(6)]
        assert [response.status_code for response in answered] == [201] * 6  # each 2 blocks deep: "final"
        hashes = [response.json()["certificate"]["proof"]["certificateHash"] for response in answered]
        depth = own_devnet.w3.eth.block_number - fork_block
        own_devnet.w3.provider.make_request("evm_revert", [snapshot])
        assert depth > 2 and all(issued_events(own_devnet, h) == 0 for h in hashes)

        for response in answered:
            done = wait_done(gateway, f"/v1/operations/{response.json()['operation']['id']}")
            assert done["operation"]["state"] == "done"
        assert [issued_events(own_devnet, h) for h in hashes] == [1] * 6
        assert sum(any(e["event"] == "rolled_back" for e in history) for history in _histories(gateway)) == 6
        gateway.wait_indexed()
        issued_in_history = [[e["event"] for e in gateway.client.get(f"/v1/certificates/{h}/history",
                                                                     headers=gateway.auth("MZ")).json()["events"]]
                             .count("CertificateIssued") for h in hashes]
        assert issued_in_history == [1] * 6
    finally:
        gateway.stop()


def test_the_chain_killed_mid_load_every_answered_request_ends_anchored_exactly_once(own_devnet: Devnet,
                                                                                     tmp_path: Path) -> None:
    gateway = GatewayProcess(own_devnet, tmp_path / "gateway").start()
    members = [{k: v for k, v in marriage_request(f"KC-B{n}").items() if k != "type"} for n in range(1_000)]
    batch = gateway.client.post("/v1/batches", json={"type": "320100-MZ-001", "certificates": members},
                                headers={**gateway.auth("MZ"), "Idempotency-Key": "killed-chain-batch"})
    assert batch.status_code == 202, batch.text
    requests = {f"killed-chain-{n}": f"KC-{n}" for n in range(48)}
    first_answers: dict[str, int] = {}

    def client(keys: list[str]) -> None:  # one request at a time; a failure is retried later with its key
        for key in keys:
            try:
                first_answers[key] = gateway.client.post(
                    "/v1/certificates", json=marriage_request(requests[key]),
                    headers={**gateway.auth("MZ"), "Idempotency-Key": key}).status_code
            except httpx.TransportError:
                first_answers[key] = 0

    keys = list(requests)
    threads = [threading.Thread(target=client, args=(keys[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 120
    while sum(status == 201 for status in first_answers.values()) < 12:
        assert time.monotonic() < deadline, first_answers
        time.sleep(0.05)
    own_devnet.kill_chain()
    for thread in threads:
        thread.join()
    own_devnet.start_chain()
    try:
        final = {key: _issue_until_answered(gateway, key, number) for key, number in requests.items()}
        operations = [response.json()["operation"]["id"] for response in final.values()]
        for operation_id in operations:
            assert wait_done(gateway, f"/v1/operations/{operation_id}")["operation"]["state"] == "done"
        batch_done = wait_done(gateway, f"/v1/batches/{batch.json()['id']}?limit=1")
        assert batch_done["state"] == "done"
        hashes = [gateway.client.get(f"/v1/operations/{operation_id}", headers=gateway.auth("MZ"))
                  .json()["certificate"]["proof"]["certificateHash"] for operation_id in operations]
        assert [issued_events(own_devnet, h) for h in hashes] == [1] * len(requests)
        assert len(batch_anchorings(own_devnet, batch_done["batchRoot"])) == 1
        assert _operation_states(gateway) == {"done"}  # none stuck: every operation of the run is final
        answered = sum(status in (201, 202) for status in first_answers.values())
        rolled_back = sum(any(e["event"] == "rolled_back" for e in h) for h in _histories(gateway))
        print(f"chain killed: {len(requests)} sent, {answered} answered 201/202 before the kill or during it, "
              f"{len(hashes)} anchored once, 0 twice, 0 lost; {rolled_back} operations rolled back and anchored again")
    finally:
        gateway.stop()
