"""Gateway benchmark: each CertNet number beside its peer, measured in the same run on the same chain.

    .venv/bin/python scripts/bench.py [--singles 200] [--batch 10000] [--indexed 1000000] [--markdown docs/benchmarks.md]

1. Anchoring: certificates/s through `POST /v1/certificates` (16 concurrent clients) and
   `POST /v1/batches`, beside a plain web3.py loop calling OpenAttestation's DocumentStore
   `issue` once per certificate and waiting for each receipt.
2. Verification: `POST /v1/verify` requests/s with p50/p99 at 16 clients, beside the bare
   `verificationOf` eth_call from web3.py at 16 threads (the per-request chain cost).
3. Provenance: `GET /v1/certificates/{hash}/history` p50/p99 with `--indexed` certificates in the
   index, beside `eth_getLogs` for the same certificate's events.
4. Sharing: `POST /v1/sharing/requests` (consent lookup, catalog reads, verification of the
   holder's certificate, an access-log append) requests/s and p50/p99 at 16 clients, beside
   `POST /v1/verify` of the same certificate by the same department (also logged): what checking
   the certificate alone costs.

The chain is anvil with 1-second blocks (how `certnet node` runs it, like a consortium chain).
The index is filled to `--indexed` rows by inserting synthetic CertificateIssued events for
random hashes: anchoring a million certificates one per transaction would take days of blocks,
and the index answers from its table whatever filled it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import httpx
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gateway.auth import create_token  # noqa: E402
from gateway.chain import Chain  # noqa: E402
from gateway.db import ChainEvent, make_engine, session_factory  # noqa: E402
from gateway.sharing.consent import new_consent, new_holder_key, sign_record  # noqa: E402
from gateway.process import GatewayProcess  # noqa: E402
from ledger_node.accounts import dev_account  # noqa: E402
from ledger_node.demo import department_code  # noqa: E402
from ledger_node.devnet import build_devnet_template, start_devnet  # noqa: E402
from scripts.gas_report import load_document_store  # noqa: E402

CLIENTS = 16
CIVIL_AFFAIRS = department_code(2)
HOLDER_CHANNEL = department_code(3)
HOUSING = department_code(5)
PROPERTY_ITEM = "320100-SX-ZJ-0001"  # handled by housing, needs MARRIAGE
MARRIAGE = "320100-MZ-001"


def marriage(number: str, holder: str = "RIC:11010519491231002X") -> dict[str, Any]:
    return {"holder": holder,
            "subject": {"holderName": "张三", "certificateNumber": number, "issuedOn": "2026-11-24"}}


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def concurrently(work: Callable[[int], float], count: int) -> tuple[float, list[float]]:
    """Runs `work(i)` for i < count on CLIENTS threads; returns wall seconds and each call's latency."""
    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        latencies = list(pool.map(work, range(count)))
    return time.perf_counter() - started, latencies


def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


class Bench:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        # The default demo on anvil and a gateway process, as the tests and the soak start them, with the
        # gateway's production defaults (roles cached 5 s, checkpoints every 300 s) and a brisk index.
        devnet = start_devnet(workdir / "devnet", build_devnet_template(workdir / "template"))
        self.gateway = GatewayProcess(devnet, workdir / "gateway", index_poll_seconds="0.2", role_cache_seconds="5",
                                      checkpoint_interval_seconds="300").start()
        self.node, self.w3, self.deployment = devnet.node, devnet.w3, devnet.deployment
        self.http = httpx.Client(base_url=str(self.gateway.client.base_url), timeout=600,
                                 limits=httpx.Limits(max_connections=64))
        self.sessions = session_factory(make_engine(self.gateway.database_url))
        chain = Chain(self.deployment, role_cache_seconds=0)
        self.auth, self.channel, self.housing = (
            {"Authorization": f"Bearer {create_token(self.sessions, chain, department, 'bench')}"}
            for department in (CIVIL_AFFAIRS, HOLDER_CHANNEL, HOUSING))
        self.rows: list[tuple[str, str, str, str]] = []

    def close(self) -> None:
        self.gateway.stop()
        self.node.stop()

    def row(self, measure: str, certnet: str, peer: str, ratio: str) -> None:
        self.rows.append((measure, certnet, peer, ratio))
        print(f"{measure:<46} {certnet:>26}   {peer:>26}   {ratio}")

    # ----- 1. anchoring -----

    def anchoring(self, singles: int, batch_size: int, baseline: int) -> list[str]:
        def issue(i: int) -> float:
            return timed(lambda: self._ok(self.http.post("/v1/certificates", json={"type": MARRIAGE, **marriage(
                f"BENCH-{i}")}, headers=self.auth), 201))

        wall, _ = concurrently(issue, singles)
        api_single = singles / wall

        members = [marriage(f"BATCH-{i}") for i in range(batch_size)]
        started = time.perf_counter()
        batch = self._ok(self.http.post("/v1/batches", json={"type": MARRIAGE, "certificates": members},
                                        headers=self.auth), 202)
        while self.http.get(f"/v1/batches/{batch['id']}", headers=self.auth).json()["state"] != "done":
            time.sleep(0.2)
        api_batch = batch_size / (time.perf_counter() - started)

        document_store_rate = self._document_store_loop(baseline)
        self.row(f"anchoring, single via API ({CLIENTS} clients)", f"{api_single:,.1f} cert/s",
                 f"{document_store_rate:,.2f} cert/s DocumentStore", f"{api_single / document_store_rate:,.1f}x")
        self.row(f"anchoring, batch of {batch_size:,} via API", f"{api_batch:,.0f} cert/s",
                 f"{document_store_rate:,.2f} cert/s DocumentStore", f"{api_batch / document_store_rate:,.0f}x")
        return [self.http.get(f"/v1/batches/{batch['id']}?limit=1", headers=self.auth).json()["certificates"][0]]

    def _document_store_loop(self, count: int) -> float:
        artifact = load_document_store()
        owner = dev_account(0).address
        factory = self.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        receipt = self.w3.eth.wait_for_transaction_receipt(
            factory.constructor("Bench DocumentStore", owner).transact({"from": owner}))
        store = self.w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])
        started = time.perf_counter()
        for _ in range(count):  # what a department would write without CertNet
            tx_hash = store.functions.issue(os.urandom(32)).transact({"from": owner})
            self.w3.eth.wait_for_transaction_receipt(tx_hash)
        return count / (time.perf_counter() - started)

    # ----- 2. verification -----

    def verification(self, document: dict[str, Any], requests: int) -> None:
        def via_api(_i: int) -> float:
            return timed(lambda: self._ok(self.http.post("/v1/verify", json={"document": document}), 200))

        anchor = document["proof"]["anchor"]
        call = self.deployment.registry.functions.verificationOf(
            bytes.fromhex(document["proof"]["certificateHash"][2:]), bytes.fromhex(anchor["batchRoot"][2:]),
            [bytes.fromhex(p[2:]) for p in anchor["merkleProof"]], document["proof"]["signature"]["signer"])

        def direct(_i: int) -> float:
            return timed(call.call)

        api_wall, api = concurrently(via_api, requests)
        raw_wall, raw = concurrently(direct, requests)
        self.row(f"verify rps ({CLIENTS} clients)", f"{requests / api_wall:,.0f} req/s",
                 f"{requests / raw_wall:,.0f} eth_call/s", f"{(requests / api_wall) / (requests / raw_wall):.2f}x")
        self.row("verify latency p50 / p99", f"{_ms(api, 0.5)} / {_ms(api, 0.99)}",
                 f"{_ms(raw, 0.5)} / {_ms(raw, 0.99)}", f"{percentile(api, 0.5) / percentile(raw, 0.5):.1f}x p50")

    # ----- 3. provenance -----

    def provenance(self, indexed: int, queries: int) -> None:
        hashes = []
        for i in range(20):
            response = self._ok(self.http.post("/v1/certificates", json={"type": MARRIAGE, **marriage(f"PROV-{i}")},
                                               headers=self.auth), 201)
            hashes.append(response["certificate"]["proof"]["certificateHash"])
        for certificate_hash in hashes[:10]:
            self._ok(self.http.post(f"/v1/certificates/{certificate_hash}/revoke", json={"reason": 1},
                                    headers=self.auth), 200)
        self._fill_index(indexed)
        while self.http.get("/healthz").json()["index"]["lag"] > 0:
            time.sleep(0.2)
        registry = self.deployment.registry
        first = self.deployment.first_block

        def via_index(i: int) -> float:
            return timed(lambda: self._ok(self.http.get(f"/v1/certificates/{hashes[i % 20]}/history",
                                                        headers=self.auth), 200))

        def via_logs(i: int) -> float:
            topic = bytes.fromhex(hashes[i % 20][2:])
            return timed(lambda: [event.get_logs(from_block=first, argument_filters={"certificateHash": topic})
                                  for event in (registry.events.CertificateIssued(),
                                                registry.events.CertificateRevoked(),
                                                registry.events.CertificateSuperseded())])

        index_latencies = [via_index(i) for i in range(queries)]
        log_latencies = [via_logs(i) for i in range(queries)]
        self.row(f"history p50 / p99 ({indexed:,} indexed)", f"{_ms(index_latencies, 0.5)} / "
                 f"{_ms(index_latencies, 0.99)}", f"{_ms(log_latencies, 0.5)} / {_ms(log_latencies, 0.99)} getLogs",
                 f"{percentile(log_latencies, 0.5) / percentile(index_latencies, 0.5):.1f}x (getLogs ÷ history, p50)")

    # ----- 4. sharing -----

    def sharing(self, requests: int) -> None:
        holder, key = "RIC:320102199001010002", new_holder_key()
        issued = self._ok(self.http.post("/v1/certificates", json={"type": MARRIAGE, **marriage("SHARE-1", holder)},
                                         headers=self.auth), 201)["certificate"]
        pseudonym = self._ok(self.http.post("/v1/holders/keys", headers=self.channel, json={
            "holder": holder, "publicKey": key.get_verifying_key().to_pem().decode()}), 201)["holder"]
        now = dt.datetime.now(dt.timezone.utc)
        record = new_consent(pseudonym, HOUSING, PROPERTY_ITEM, [MARRIAGE], not_before=now - dt.timedelta(minutes=1),
                             not_after=now + dt.timedelta(days=1))
        self._ok(self.http.post("/v1/consents", json={"record": record, "signature": sign_record(key, record)}), 201)
        request = {"serviceItem": PROPERTY_ITEM, "holder": pseudonym}

        def share(_i: int) -> float:
            return timed(lambda: self._ok(self.http.post("/v1/sharing/requests", json=request,
                                                         headers=self.housing), 200))

        def verify(_i: int) -> float:
            return timed(lambda: self._ok(self.http.post("/v1/verify", json={"document": issued},
                                                         headers=self.housing), 200))

        share_wall, shared = concurrently(share, requests)
        verify_wall, verified = concurrently(verify, requests)
        self.row(f"sharing rps ({CLIENTS} clients)", f"{requests / share_wall:,.0f} req/s",
                 f"{requests / verify_wall:,.0f} req/s verify", f"{verify_wall / share_wall:.2f}x")
        self.row("sharing latency p50 / p99", f"{_ms(shared, 0.5)} / {_ms(shared, 0.99)}",
                 f"{_ms(verified, 0.5)} / {_ms(verified, 0.99)}",
                 f"{percentile(shared, 0.5) / percentile(verified, 0.5):.1f}x p50")

    def _fill_index(self, total: int) -> None:
        """Synthetic CertificateIssued rows for random hashes (at block 0, below every real block)."""
        rng = random.Random(7)
        engine = self.sessions.kw["bind"]
        chunk = 50_000
        with engine.begin() as connection:
            for start in range(0, total, chunk):
                connection.execute(insert(ChainEvent), [
                    {"block_number": 0, "log_index": start + i, "block_hash": "0x" + "00" * 32,
                     "tx_hash": "0x%064x" % rng.getrandbits(256), "timestamp": 0, "contract": "CertificateRegistry",
                     "event": "CertificateIssued", "department": CIVIL_AFFAIRS, "certificate_type": MARRIAGE,
                     "subject": "0x%064x" % rng.getrandbits(256), "related": None, "args": {}}
                    for i in range(min(chunk, total - start))])

    @staticmethod
    def _ok(response: httpx.Response, status: int) -> dict[str, Any]:
        if response.status_code != status:
            raise SystemExit(f"{response.request.method} {response.request.url}: {response.status_code} {response.text}")
        return response.json()


def _ms(samples: list[float], q: float) -> str:
    return f"{percentile(samples, q) * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--singles", type=int, default=200)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--baseline", type=int, default=20, help="DocumentStore issues in the web3.py loop")
    parser.add_argument("--verifications", type=int, default=2_000)
    parser.add_argument("--indexed", type=int, default=1_000_000)
    parser.add_argument("--history-queries", type=int, default=500)
    parser.add_argument("--sharing-requests", type=int, default=1_000)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="certnet-bench-"))
    bench = Bench(workdir)
    try:
        print(f"{'measure':<46} {'CertNet':>26}   {'peer, same chain and run':>26}   ratio")
        [document] = bench.anchoring(args.singles, args.batch, args.baseline)
        bench.verification(document, args.verifications)
        bench.provenance(args.indexed, args.history_queries)
        bench.sharing(args.sharing_requests)
    finally:
        bench.close()
        shutil.rmtree(workdir, ignore_errors=True)
    if args.markdown:
        lines = ["| measure | CertNet | peer (same chain, same run) | ratio |", "|---|---|---|---|"]
        lines += [f"| {' | '.join(row)} |" for row in bench.rows]
        args.markdown.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
