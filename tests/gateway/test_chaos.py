"""Chaos: the chain's RPC endpoint cut or blackholed, the database's disk full, SIGTERM in the middle
of a batch. Each test counts what happened to the requests (sent, answered by status, accepted,
anchored, duplicated, lost) and asserts that nothing accepted is lost or anchored twice, and that
the failure is answered 503 in the error shape while it lasts, never 500.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Callable

import httpx
import pytest
from sqlalchemy import func, select

from gateway.db import IssuedCertificate, Operation, OPEN_STATES, OperationState, make_engine, session_factory
from gateway.issuance import COMPOSE_CHUNK
from tests.conftest import (CLIENT_TIMEOUT, MZ_MARRIAGE, Devnet, GatewayProcess, RpcProxy, Tally, TmpfsGatewayProcess, batch_anchorings,
                            fill_disk, issued_events, marriage_request, wait_done)

pytestmark = pytest.mark.slow

#: How long the RPC endpoint stays cut (issue 14: "cut for 30 s").
OUTAGE_SECONDS = 30
def _issue(gateway: GatewayProcess, tally: Tally, key: str) -> httpx.Response | None:
    """POST /v1/certificates of civil affairs under `key` (the certificate number derives from it)."""
    response = tally.send(gateway, "POST", "/v1/certificates", json=marriage_request(f"CHAOS-{key}"),
                          headers={**gateway.auth("MZ"), "Idempotency-Key": key})
    if response is not None and response.status_code in (201, 202):
        tally.accepted.setdefault(key, response.json()["certificate"]["proof"]["certificateHash"])
    return response


def _batch(gateway: GatewayProcess, tally: Tally, key: str, size: int) -> httpx.Response | None:
    members = [{k: v for k, v in marriage_request(f"{key}-{n}").items() if k != "type"} for n in range(size)]
    return tally.send(gateway, "POST", "/v1/batches", json={"type": MZ_MARRIAGE, "certificates": members},
                      headers={**gateway.auth("MZ"), "Idempotency-Key": key})


def _is_unavailable(response: httpx.Response | None, code: str) -> bool:
    """503 in the one error shape with `code` and a numeric Retry-After."""
    return response is not None and response.status_code == 503 and response.json()["code"] == code \
        and set(response.json()) == {"code", "message", "details"} and response.headers["Retry-After"].isdigit()


def _settle(gateway: GatewayProcess, devnet: Devnet, tally: Tally, keys: list[str],
            batches: dict[str, int]) -> None:
    """As a client after the failure: repeats every request with its key until it is accepted, waits
    for each operation, and counts on the chain how often each accepted certificate was anchored."""
    for key in keys:
        response = _issue(gateway, tally, key)
        assert response is not None and response.status_code in (201, 202), response and response.text
        done = wait_done(gateway, response.headers["Location"])
        assert done["operation"]["state"] == "done", done
        assert done["certificate"]["proof"]["certificateHash"] == tally.accepted[key]  # the first answer's
        tally.count_anchoring(issued_events(devnet, tally.accepted[key]))
    for key, size in batches.items():
        response = _batch(gateway, tally, key, size)
        assert response is not None and response.status_code == 202, response and response.text
        done = wait_done(gateway, f"{response.headers['Location']}?limit=1", timeout=300)
        assert done["state"] == "done", done
        tally.count_anchoring(sum(count == size for count in batch_anchorings(devnet, done["batchRoot"])), size)


def _open_operations(database_url: str) -> list[tuple[int, str]]:
    with session_factory(make_engine(database_url))() as session:
        return [tuple(row) for row in session.execute(select(Operation.id, Operation.state)
                                                      .where(Operation.state.in_([s.value for s in OPEN_STATES])))]


def _wait_until(done: Callable[[], object], state: Callable[[], object], timeout: float = 120) -> None:
    """Polls `done()` until it holds; fails with `state()` when it does not within `timeout`."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s; the state: {state()}")
        time.sleep(0.2)


def _caught_up(health: dict) -> bool:
    """The index has read the head and every access-log entry (two at least) is checkpointed on chain."""
    checkpoints = health["checkpoints"]
    return health["index"]["lag"] == 0 and checkpoints["anchoredSize"] == checkpoints["logSize"] >= 2


# ----- (c) the chain's RPC endpoint cut, or blackholed -----


def test_an_rpc_endpoint_cut_for_30_s_answers_503_and_every_accepted_request_is_anchored_once_after(
        own_devnet: Devnet, rpc_proxy: RpcProxy, tmp_path: Path) -> None:
    gateway = GatewayProcess(own_devnet, tmp_path / "gateway", rpc_url=rpc_proxy.url).start()
    tally = Tally("RPC endpoint cut for 30 s")
    try:
        assert _batch(gateway, tally, "CUT-BATCH", 3_000).status_code == 202
        keys = [str(uuid.uuid4()) for _ in range(12)]
        in_flight = [threading.Thread(target=_issue, args=(gateway, tally, key)) for key in keys]
        for thread in in_flight:
            thread.start()
        _wait_until(lambda: len(tally.accepted) >= 4, lambda: tally)  # the cut comes amid the others
        rpc_proxy.cut()
        down_since, during_outage = time.monotonic(), []
        while time.monotonic() - down_since < OUTAGE_SECONDS:  # the outage lasts; clients keep trying
            key = str(uuid.uuid4())
            keys.append(key)
            during_outage += [_issue(gateway, tally, key), _batch(gateway, tally, f"CUT-{key}", 2),
                              tally.send(gateway, "GET", "/readyz")]
            time.sleep(1)
        rpc_proxy.restore()
        for thread in in_flight:
            thread.join(timeout=2 * CLIENT_TIMEOUT)
        assert not any(thread.is_alive() for thread in in_flight)
        unavailable = [r for r in during_outage if r is not None and r.status_code == 503]
        assert len(unavailable) == len(during_outage), [r and (r.status_code, r.text) for r in during_outage]
        assert all(_is_unavailable(r, "chain_unavailable") for r in unavailable if r.request.method == "POST")
        assert 500 not in tally.statuses and "no answer" not in tally.statuses, tally

        _settle(gateway, own_devnet, tally, keys, {"CUT-BATCH": 3_000})
        assert (tally.duplicated, tally.lost) == (0, 0), tally
        assert _open_operations(gateway.database_url) == []
        print(tally)
    finally:
        gateway.stop()


def test_a_blackholed_rpc_endpoint_answers_503_after_the_rpc_timeout_not_a_hang(
        own_devnet: Devnet, rpc_proxy: RpcProxy, tmp_path: Path) -> None:
    """A node that accepts connections but never answers: web3.py's 30 s timeout, retried five times,
    held a request for minutes; one bounded timeout (CERTNET_RPC_TIMEOUT_SECONDS, 10 s) answers 503."""
    gateway = GatewayProcess(own_devnet, tmp_path / "gateway", rpc_url=rpc_proxy.url).start()
    tally = Tally("RPC endpoint blackholed")
    try:
        gateway.auth("MZ")  # the token exists before the chain goes silent
        rpc_proxy.blackhole()
        key = str(uuid.uuid4())
        refused = _issue(gateway, tally, key)  # CLIENT_TIMEOUT (45 s) bounds the wait
        assert _is_unavailable(refused, "chain_unavailable"), refused and refused.text
        health = tally.send(gateway, "GET", "/readyz")
        assert health is not None and health.status_code == 503
        rpc_proxy.restore()
        _settle(gateway, own_devnet, tally, [key], {})
        assert (tally.duplicated, tally.lost) == (0, 0), tally
        print(tally)
    finally:
        gateway.stop()


# ----- (d) the database's disk full -----


def test_a_full_database_disk_answers_503_keeps_reads_and_threads_alive_and_recovers_without_restart(
        own_devnet: Devnet, tmp_path: Path) -> None:
    gateway = TmpfsGatewayProcess(own_devnet, tmp_path / "gateway", size_mb=48,
                                  checkpoint_interval_seconds="1").start()
    tally = Tally("database disk full")
    try:
        first_key = str(uuid.uuid4())
        first = _issue(gateway, tally, first_key)
        assert first is not None and first.status_code == 201, first and first.text
        certificate = tally.accepted[first_key]
        history = f"/v1/certificates/{certificate}/history"
        assert tally.send(gateway, "GET", history, headers=gateway.auth("MZ")).status_code == 200  # logged
        assert _batch(gateway, tally, "FULL-BATCH", 4_000).status_code == 202  # composed while the disk fills

        filler = fill_disk(gateway.storage)
        # Composing the batch meets the full disk: its preparer waits (before the fix it failed the batch).
        _wait_until(lambda: "preparing waits for the chain or the database" in gateway.log,
                    lambda: gateway.sql("SELECT state, error_code FROM operations WHERE kind = 'batch'"))
        # Until an issuance and a logged read (its access must be written) have each been refused:
        # SQLite may still fit a small write in space its files hold (e.g. a failed write's frames).
        keys, refused = [first_key], {}
        for _attempt in range(100):
            key = str(uuid.uuid4())
            keys.append(key)
            for kind, response in (("issue", _issue(gateway, tally, key)),
                                   ("logged read", tally.send(gateway, "GET", history, headers=gateway.auth("MZ")))):
                assert response is not None and response.status_code in (200, 201, 202, 503), response and response.text
                if response.status_code == 503:
                    assert _is_unavailable(response, "storage_unavailable"), response.text
                    refused[kind] = response
            if len(refused) == 2:
                break
        assert set(refused) == {"issue", "logged read"}, tally
        for read in ("/healthz", f"/v1/certificates/{certificate}", first.headers["Location"]):  # write nothing
            answer = tally.send(gateway, "GET", read, headers=gateway.auth("MZ"))
            assert answer is not None and answer.status_code == 200, (read, answer and answer.text)

        filler.unlink()
        _settle(gateway, own_devnet, tally, keys, {"FULL-BATCH": 4_000})
        assert tally.send(gateway, "GET", history, headers=gateway.auth("MZ")).status_code == 200
        # The background threads lived through it: the index catches up, the log is checkpointed.
        _wait_until(lambda: _caught_up(gateway.client.get("/readyz").json()),
                    lambda: gateway.client.get("/readyz").json())
        assert 500 not in tally.statuses and "no answer" not in tally.statuses, tally
        assert (tally.duplicated, tally.lost) == (0, 0), tally
        open_states = ", ".join(f"'{state.value}'" for state in OPEN_STATES)
        assert gateway.sql(f"SELECT id, state FROM operations WHERE state IN ({open_states})") == []
        assert gateway.sql("PRAGMA integrity_check") == [["ok"]]
        audit = gateway.inside(str(Path(sys.executable).with_name("certnet")), "audit", "verify", "--data-dir",
                               str(gateway.data_dir))
        assert "access log intact" in audit.stdout, audit.stdout + audit.stderr
        assert "Exception in thread" not in gateway.log and "unexpected error" not in gateway.log
        print(tally)
    finally:
        gateway.stop()


# ----- (e) SIGTERM in the middle of a batch -----


def test_sigterm_while_a_batch_is_composed_stops_between_chunks_and_the_batch_resumes_after_a_restart(
        own_devnet: Devnet, tmp_path: Path) -> None:
    gateway = GatewayProcess(own_devnet, tmp_path / "gateway")
    gateway.start()
    tally = Tally("SIGTERM while a batch is composed")
    size = 4_000
    accepted = _batch(gateway, tally, "TERM-BATCH", size)
    assert accepted is not None and accepted.status_code == 202, accepted and accepted.text
    batch_path = accepted.headers["Location"]
    while gateway.client.get(batch_path, headers=gateway.auth("MZ")).json()["progress"]["composed"] == 0:
        time.sleep(0.05)  # composing has begun: 4 000 documents take four chunks of 1 000

    # uvicorn shuts down, then ends by the signal it caught (as systemd expects of a stopped service)
    assert gateway.terminate(timeout=60) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in gateway.log and "Traceback" not in gateway.log, gateway.log[-3000:]
    with session_factory(make_engine(gateway.database_url))() as session:
        batch = session.get(Operation, accepted.json()["id"])
        composed = session.scalar(select(func.count()).select_from(IssuedCertificate)
                                  .where(IssuedCertificate.operation_id == batch.id))
    # The preparer stopped between chunks: what it committed is whole, the rest is left for later.
    assert batch.state == OperationState.ACCEPTED.value and 0 < batch.progress < size, (batch.state, batch.progress)
    assert composed == batch.progress and composed % COMPOSE_CHUNK == 0

    gateway.start()
    try:
        _settle(gateway, own_devnet, tally, [], {"TERM-BATCH": size})
        assert (tally.anchored, tally.duplicated, tally.lost) == (size, 0, 0), tally
        print(tally)
    finally:
        gateway.stop()
