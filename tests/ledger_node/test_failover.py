"""Several JSON-RPC URLs of one chain (ledger_node/failover.py, CERTNET_RPC_URLS): two cuttable proxies in
front of the session's anvil devnet stand for a primary and a secondary node."""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest
import requests

from gateway.settings import Settings
from ledger_node.engines import EngineError, connect
from ledger_node.rpc import ViewCalls
from tests.conftest import Devnet, GatewayProcess, RpcProxy, issued_events, marriage_request

pytestmark = pytest.mark.slow

Proxies = tuple[RpcProxy, RpcProxy]


def test_a_cut_primary_url_makes_reads_continue_on_the_secondary(devnet: Devnet, rpc_proxies: Proxies) -> None:
    primary, secondary = rpc_proxies
    w3 = connect([primary.url, secondary.url], timeout=5)
    primary.cut()
    assert w3.eth.block_number >= devnet.w3.eth.block_number - 1
    assert w3.provider.endpoints.down() == {primary.url}


def test_a_silent_primary_url_fails_over_after_one_timeout(devnet: Devnet, rpc_proxies: Proxies) -> None:
    """A node that takes connections but never answers costs one call one timeout, then is skipped."""
    primary, secondary = rpc_proxies
    w3 = connect([primary.url, secondary.url], timeout=2)
    primary.blackhole()
    assert w3.eth.block_number >= devnet.w3.eth.block_number - 1
    assert w3.provider.endpoints.order() == [secondary.url, primary.url]


def test_view_calls_fail_over_with_the_web3_connection(devnet: Devnet, rpc_proxies: Proxies) -> None:
    primary, secondary = rpc_proxies
    w3 = connect([primary.url, secondary.url], timeout=5)
    count = devnet.deployment.consortium.functions.departmentCount()
    primary.cut()
    assert ViewCalls(w3).read([count]) == [count.call()]


def test_a_primary_that_answers_again_is_preferred_again(devnet: Devnet, rpc_proxies: Proxies) -> None:
    primary, secondary = rpc_proxies
    w3 = connect([primary.url, secondary.url], timeout=5)
    primary.cut()
    w3.eth.block_number
    primary.restore()
    deadline = time.monotonic() + 30
    while w3.provider.endpoints.down() and time.monotonic() < deadline:  # the probe's next round
        time.sleep(0.1)
    assert w3.provider.endpoints.order() == [primary.url, secondary.url]


def test_a_transaction_the_node_signs_is_not_sent_again_to_another_url(devnet: Devnet, rpc_proxies: Proxies) -> None:
    """eth_sendTransaction is not idempotent (each node would sign a transaction of its own)."""
    primary, secondary = rpc_proxies
    w3 = connect([primary.url, secondary.url], timeout=5)
    sender = devnet.w3.eth.accounts[60]  # a development account no test sends from
    nonce = devnet.w3.eth.get_transaction_count(sender, "pending")
    primary.cut()
    with pytest.raises(requests.ConnectionError):
        w3.provider.make_request("eth_sendTransaction", [{"from": sender, "to": sender, "value": "0x1"}])
    assert devnet.w3.eth.get_transaction_count(sender, "pending") == nonce


def test_with_every_url_down_a_call_fails_with_the_connection_error(rpc_proxies: Proxies) -> None:
    primary, secondary = rpc_proxies
    w3 = connect([primary.url, secondary.url], timeout=5)
    primary.cut()
    secondary.cut()
    with pytest.raises(requests.ConnectionError):
        w3.eth.block_number


def test_urls_of_different_chains_are_refused(rpc_proxies: Proxies) -> None:
    with _node_of_chain(1) as other:
        with pytest.raises(EngineError, match="not of one chain"):
            connect([rpc_proxies[0].url, other], timeout=5)


def test_rpc_urls_are_read_comma_separated_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CERTNET_RPC_URLS", " http://rpc-a:8545, http://rpc-b:8545 ,")
    assert Settings.load().rpc_urls == ["http://rpc-a:8545", "http://rpc-b:8545"]


def test_a_gateway_whose_primary_url_is_cut_issues_and_verifies_on_the_secondary(
        devnet: Devnet, rpc_proxies: Proxies, tmp_path: Path) -> None:
    primary, secondary = rpc_proxies
    # CERTNET_RPC_URLS wins over CERTNET_RPC_URL: were it ignored, the cut would stop the gateway.
    gateway = GatewayProcess(devnet, tmp_path / "gateway", rpc_url=primary.url,
                             rpc_urls=f"{primary.url},{secondary.url}").start()
    try:
        headers = gateway.auth("MZ")
        primary.cut()
        issued = gateway.client.post("/v1/certificates", json=marriage_request("J320100-2026-FAILOVER"),
                                     headers={**headers, "Idempotency-Key": "failover-1"})
        assert issued.status_code == 201, issued.text
        document = issued.json()["certificate"]
        report = gateway.client.post("/v1/verify?fresh=true", json={"document": document}).json()
        assert report["verdict"] == "valid", report
        assert issued_events(devnet, document["proof"]["certificateHash"]) == 1
    finally:
        gateway.stop()


class _ChainIdAnswer(BaseHTTPRequestHandler):
    chain_id = 1

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        body = json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": hex(self.chain_id)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def _node_of_chain(chain_id: int) -> Iterator[str]:
    """The URL of a JSON-RPC server on 127.0.0.1 answering every call with `chain_id` (enough for eth_chainId)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_ChainIdAnswer,), {"chain_id": chain_id}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
