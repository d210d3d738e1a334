"""The event index: follows the chain, rewinds on a reorganisation, resumes, and `certnet index
verify` finds any difference from the chain. Plus the 10 000-certificate batch."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from gateway.certificates.verification import Verifier
from gateway.db import ChainEvent, make_engine, session_factory
from gateway.settings import DEVELOPMENT_PSEUDONYM_SECRET
from tests.conftest import Devnet, GatewayProcess, marriage_request

pytestmark = pytest.mark.slow


def _history(gateway: GatewayProcess, certificate_hash: str) -> int:
    return gateway.client.get(f"/v1/certificates/{certificate_hash}/history", headers=gateway.auth("SJ")).status_code


def _issued(gateway: GatewayProcess, certificate_hash: str) -> list[dict]:
    """The certificate's CertificateIssued events in its indexed history."""
    history = gateway.client.get(f"/v1/certificates/{certificate_hash}/history", headers=gateway.auth("SJ")).json()
    return [event for event in history["events"] if event["event"] == "CertificateIssued"]


def _index_verify(gateway: GatewayProcess) -> subprocess.CompletedProcess[str]:
    certnet = Path(sys.executable).with_name("certnet")
    return subprocess.run([str(certnet), "index", "verify", "--data-dir", str(gateway.data_dir)], env=gateway.env,
                          capture_output=True, text=True, timeout=120)


def test_a_reorganisation_rewinds_the_index_and_it_catches_up_with_the_chain_as_it_is(own_devnet: Devnet,
                                                                                      tmp_path: Path) -> None:
    gateway = GatewayProcess(own_devnet, tmp_path / "gateway").start()
    try:
        w3 = own_devnet.w3
        snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
        doomed = gateway.client.post("/v1/certificates", json=marriage_request("REORG-1"),
                                     headers=gateway.auth("MZ")).json()["certificate"]["proof"]["certificateHash"]
        gateway.wait_indexed()
        [first] = _issued(gateway, doomed)
        w3.provider.make_request("evm_revert", [snapshot])  # the blocks the index has seen are gone
        for _ in range(3):
            w3.provider.make_request("evm_mine", [])
        survivor = gateway.client.post(
            "/v1/certificates", json={**marriage_request("REORG-2"), "type": "320100-GA-001"},
            headers=gateway.auth("GA")).json()["certificate"]["proof"]["certificateHash"]
        deadline = time.monotonic() + 60  # the outbox anchors the doomed certificate again
        while gateway.client.get(f"/v1/certificates/{doomed}").status_code != 200:
            assert time.monotonic() < deadline, "the rolled-back certificate was not anchored again"
            time.sleep(0.2)
        gateway.wait_indexed()
        [again] = _issued(gateway, doomed)  # the lost block's event is gone from the index, the new one is in
        assert again["blockHash"] != first["blockHash"]
        assert again["blockHash"] == w3.eth.get_block(again["blockNumber"])["hash"].to_0x_hex()
        assert len(_issued(gateway, survivor)) == 1
        checked = _index_verify(gateway)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    finally:
        gateway.stop()


def test_index_verify_names_an_event_missing_from_the_index(gateway_http: GatewayProcess) -> None:
    gateway_http.client.post("/v1/certificates", json=marriage_request("IDX-1"), headers=gateway_http.auth("MZ"))
    gateway_http.wait_indexed()
    sessions = session_factory(make_engine(f"sqlite:///{gateway_http.data_dir / 'gateway.db'}"))
    with sessions.begin() as session:
        victim = session.scalars(select(ChainEvent).order_by(ChainEvent.id.desc())).first()
        session.execute(delete(ChainEvent).where(ChainEvent.id == victim.id))
    checked = _index_verify(gateway_http)
    assert checked.returncode == 1
    assert f"block {victim.block_number} log {victim.log_index}: missing from the index" in checked.stdout


def test_the_index_resumes_after_a_restart_without_duplicates(own_devnet: Devnet, tmp_path: Path) -> None:
    gateway = GatewayProcess(own_devnet, tmp_path / "gateway").start()
    try:
        gateway.client.post("/v1/certificates", json=marriage_request("RESUME-1"), headers=gateway.auth("MZ"))
        gateway.wait_indexed()
        gateway.kill()
        own_devnet.govern(own_devnet.deployment.consortium.functions.setQuorum(2))  # events it has not seen
        gateway.start()
        gateway.wait_indexed()
        assert _index_verify(gateway).returncode == 0
    finally:
        gateway.stop()


def test_a_batch_of_10_000_is_anchored_and_every_member_verifies(gateway_http: GatewayProcess,
                                                                devnet: Devnet) -> None:
    members = [{"holder": "RIC:11010519491231002X",
                "subject": {"holderName": "张三", "certificateNumber": f"TENK-{n}", "issuedOn": "2026-11-24"}}
               for n in range(10_000)]
    accepted = gateway_http.client.post("/v1/batches", json={"type": "320100-MZ-001", "certificates": members},
                                        headers=gateway_http.auth("MZ"))
    assert accepted.status_code == 202, accepted.text
    path = f"/v1/batches/{accepted.json()['id']}"
    deadline = time.monotonic() + 300
    while (view := gateway_http.client.get(path, headers=gateway_http.auth("MZ")).json())["state"] != "done":
        assert view["state"] != "failed" and time.monotonic() < deadline, view
        time.sleep(0.5)
    certificates = gateway_http.client.get(f"{path}?limit=10000", headers=gateway_http.auth("MZ")).json()["certificates"]
    assert len({c["proof"]["certificateHash"] for c in certificates}) == 10_000
    verifier = Verifier(devnet.deployment, pseudonym_secret=DEVELOPMENT_PSEUDONYM_SECRET.encode())
    verdicts = {verifier.verify(c).verdict.value for c in certificates}
    assert verdicts == {"valid"}
