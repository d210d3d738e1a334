"""Gateway benchmark on a chain of realistic length: each CertNet number beside its peer, measured in the same run.

    .venv/bin/python scripts/bench.py [--blocks 1000000] [--events 100000] [--rebuild] [--markdown docs/benchmarks.md]
    .venv/bin/python scripts/bench.py --blocks 20000 --events 2000 --singles 40 --batch 1000 ...   # a quick try

The chain (`scripts/longchain.py`): the default demo consortium, `--events` real CertNet events (issuances,
batch anchors, revocations, sent as pre-signed raw transactions by the demo's five issuing departments, a
block's gas limit per block), then empty one-second blocks up to `--blocks` blocks, written into anvil's state
file rather than mined (anvil 1.7.1's cost per mined block grows with the chain's length: a million mined blocks
would take days; see longchain.py). It is built once and cached under cache/bench/ (keyed by the contracts'
artifacts and the sizes; `--rebuild` builds it again).
anvil loads it and then mines 1-second blocks, as `certnet node` runs it (a consortium chain's pace); the
gateway is a separate `certnet gateway serve` process with its SQLite database, started on the long chain,
and must index all of it before anything is measured (the time it took is printed: what a city's new gateway
would take to read that chain).

1. Anchoring: certificates/s through `POST /v1/certificates` (16 clients) and `POST /v1/batches`, beside a
   plain web3.py loop calling OpenAttestation's DocumentStore `issue` once per certificate with its receipt.
2. Verification at 1 and 16 clients: `POST /v1/verify` requests/s and p50/p99, beside (a) web3.py calling
   `verificationOf` per request, as a department's own code would, and (b) the same call pre-encoded as a raw
   JSON-RPC `eth_call` posted by a pooled HTTP client (the node's own limit: no cryptography, no decoding).
3. Batch verification: certificates/s through `POST /v1/verify/batch` (one request with `--batch-verify`
   documents of the anchored batch), beside `POST /v1/verify` one by one at 16 clients; "n/a (endpoint
   missing)" when the gateway answers 404/405.
4. Provenance: `GET /v1/certificates/{hash}/history` p50/p99 with at least `--indexed` certificates in the
   index, beside `eth_getLogs` over the whole chain for the same certificate (registry address and
   certificate-hash topic, from the deployment block to the latest: how a department without CertNet would
   ask). When the real certificates are fewer, the index is topped up with synthetic CertificateIssued rows
   of random hashes (at block 0), and the output says how many. Then the size of the history answer for a
   certificate verified `--accesses` times by a department (each logged verification is one access).
5. Sharing: `POST /v1/sharing/requests` requests/s and p50/p99 at 16 clients, beside `POST /v1/verify` of
   the same certificate by the same department (also logged).
6. Scale-out: `POST /v1/verify` (32 clients) and `POST /v1/certificates` (32 clients) through `certnet gateway
   serve --workers N` for N = 1, 2, 4 on one PostgreSQL database (the first run indexes the long chain into it,
   the others find it indexed), each beside N = 1. Needs a PostgreSQL server: `make bench` runs the script
   under scripts/with_postgres.sh, whose CERTNET_DATABASE_URL this section alone uses (the gateway of
   sections 1-5 keeps its SQLite file); without one the section is skipped and says so.

Duration on the 2-core development machine (defaults, measured 2026-12-01 with other work beside it): building
the chain the first time 5.3 min (signing and mining 100 000 transactions, writing a 2.2 GB state file of 1 000 000
blocks), then each run about 9 min: 22 s for anvil to load the chain (it then holds about 6 GB of memory), 126 s
for the gateway to index it, about 6 min of measurements (the 50 `eth_getLogs` over the whole chain take ~1.7 s
each), then section 6 about 5 min (PostgreSQL's first gateway indexes the chain in ~2 min, then three rounds of
measurements; 14 min in all on 2026-12-02). It uses both cores (anvil, the gateway and the clients); nothing else
should run beside it when the numbers are recorded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import re
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import httpx
from sqlalchemy import func, insert, select
from web3 import Web3

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gateway.auth import create_token  # noqa: E402
from gateway.chain import Chain  # noqa: E402
from gateway.db import AnchorRecord, ChainEvent, make_engine, session_factory  # noqa: E402
from gateway.process import GatewayProcess, own_database  # noqa: E402
from gateway.sharing.consent import new_consent, new_holder_key, sign_record  # noqa: E402
from ledger_node.accounts import dev_account  # noqa: E402
from ledger_node.demo import department_code  # noqa: E402
from ledger_node.devnet import Devnet  # noqa: E402
from ledger_node.engines import connect  # noqa: E402
from scripts.gas_report import load_document_store  # noqa: E402
from scripts.longchain import LongChain, long_chain, start_anvil  # noqa: E402

CLIENTS = 16
#: Clients of the scale-out section: enough to keep 4 processes busy.
SCALE_OUT_CLIENTS = 32
CIVIL_AFFAIRS = department_code(2)
HOLDER_CHANNEL = department_code(3)
HOUSING = department_code(5)
PROPERTY_ITEM = "320100-SX-ZJ-0001"  # handled by housing, needs MARRIAGE
MARRIAGE = "320100-MZ-001"
#: The part of docs/benchmarks.md that `--markdown` rewrites; the rest of the page is left as it is.
TABLE_START, TABLE_END = "<!-- bench table: written by scripts/bench.py -->", "<!-- end of bench table -->"


def marriage(number: str, holder: str = "RIC:11010519491231002X") -> dict[str, Any]:
    return {"holder": holder,
            "subject": {"holderName": "张三", "certificateNumber": number, "issuedOn": "2026-11-24"}}


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def concurrently(work: Callable[[int], float], count: int, clients: int = CLIENTS) -> tuple[float, list[float]]:
    """Runs `work(i)` for i < count on `clients` threads; returns wall seconds and each call's latency."""
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        latencies = list(pool.map(work, range(count)))
    return time.perf_counter() - started, latencies


def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


class Rate:
    """Requests/s and latency percentiles of one measured series."""

    def __init__(self, wall: float, latencies: list[float]) -> None:
        self.per_second = len(latencies) / wall
        self.p50, self.p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)

    def __str__(self) -> str:
        return f"{self.per_second:,.0f}/s, p50 {self.p50 * 1000:.1f} / p99 {self.p99 * 1000:.1f} ms"


class Bench:
    def __init__(self, workdir: Path, chain: LongChain, origin: str) -> None:
        self.workdir = workdir
        self.rows: list[tuple[str, str, str, str]] = []
        self.notes: list[str] = []
        self.note(origin)
        data_dir = workdir / "devnet"
        data_dir.mkdir()
        shutil.copy(chain.directory / "manifest.json", data_dir / "manifest.json")
        shutil.copytree(chain.directory / "schemas", data_dir / "schemas")
        started = time.perf_counter()
        node = start_anvil(chain, workdir / "anvil.log")
        self.devnet = Devnet(node, Web3(), data_dir)
        # The gateway with its production defaults (roles cached 5 s, checkpoints every 300 s) and a brisk index.
        self.gateway = GatewayProcess(self.devnet, workdir / "gateway", index_poll_seconds="0.2",
                                      role_cache_seconds="5", checkpoint_interval_seconds="300")
        try:
            self.devnet.w3 = self.w3 = connect(node.url, timeout=120)
            self.deployment = self.devnet.deployment
            self.note(f"anvil loaded the chain ({self.w3.eth.block_number:,} blocks) in "
                      f"{time.perf_counter() - started:,.0f} s")
            started = time.perf_counter()
            self.gateway.start().wait_indexed(timeout=3600)
        except BaseException:
            self.close()
            raise
        indexing = time.perf_counter() - started
        head = self.w3.eth.block_number
        self.note(f"the gateway indexed {head - self.deployment.first_block:,} blocks (deployment to head) in "
                  f"{indexing:,.0f} s ({(head - self.deployment.first_block) / indexing:,.0f} blocks/s), from its "
                  f"start")
        self.http = httpx.Client(base_url=str(self.gateway.client.base_url), timeout=600,
                                 limits=httpx.Limits(max_connections=64))
        self.rpc = httpx.Client(base_url=self.devnet.node.url, timeout=600, limits=httpx.Limits(max_connections=64))
        self.sessions = session_factory(make_engine(self.gateway.database_url))
        chain_reader = Chain(self.deployment, role_cache_seconds=0)
        self.auth, self.channel, self.housing = (
            {"Authorization": f"Bearer {create_token(self.sessions, chain_reader, department, 'bench')}"}
            for department in (CIVIL_AFFAIRS, HOLDER_CHANNEL, HOUSING))
        self.verify_16: Rate | None = None

    def close(self) -> None:
        self.gateway.stop()
        self.devnet.node.stop()

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(text, flush=True)

    def row(self, measure: str, certnet: str, peer: str, ratio: str) -> None:
        self.rows.append((measure, certnet, peer, ratio))
        print(f"{measure:<44} {certnet:>36}   {peer:>50}   {ratio}", flush=True)

    # ----- 1. anchoring -----

    def anchoring(self, singles: int, batch_size: int, baseline: int) -> list[dict[str, Any]]:
        """Measures anchoring; returns the anchored batch's documents."""
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
        documents: list[dict[str, Any]] = []
        while len(documents) < batch_size:
            page = self._ok(self.http.get(f"/v1/batches/{batch['id']}?offset={len(documents)}&limit=10000",
                                          headers=self.auth), 200)
            documents += page["certificates"]
        return documents

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
        anchor = document["proof"]["anchor"]
        call = self.deployment.registry.functions.verificationOf(
            bytes.fromhex(document["proof"]["certificateHash"][2:]), bytes.fromhex(anchor["batchRoot"][2:]),
            [bytes.fromhex(p[2:]) for p in anchor["merkleProof"]], document["proof"]["signature"]["signer"])
        body = {"jsonrpc": "2.0", "id": 1, "method": "eth_call",
                "params": [{"to": call.address, "data": call._encode_transaction_data()}, "latest"]}

        def via_api(_i: int) -> float:
            return timed(lambda: self._ok(self.http.post("/v1/verify", json={"document": document}), 200))

        def via_web3(_i: int) -> float:
            return timed(call.call)

        def via_raw_call(_i: int) -> float:
            return timed(lambda: self._rpc_result(body))

        # What is measured must be the whole verification of a valid certificate, not a fast way to a refusal.
        verdict = self._ok(self.http.post("/v1/verify", json={"document": document}), 200)["verdict"]
        if verdict != "valid":
            raise SystemExit(f"the bench's certificate verifies as {verdict!r}")
        for clients in (1, CLIENTS):
            count = requests if clients > 1 else max(1, requests // 4)
            api, web3, raw = (Rate(*concurrently(work, count, clients)) for work in (via_api, via_web3, via_raw_call))
            label = f"verify ({clients} client{'s' if clients > 1 else ''})"
            self.row(label, str(api), f"{web3} web3.py verificationOf", f"{api.per_second / web3.per_second:.2f}x")
            self.row(label, str(api), f"{raw} raw eth_call", f"{api.per_second / raw.per_second:.2f}x")
            if clients == CLIENTS:
                self.verify_16 = api

    # ----- 3. batch verification -----

    def batch_verification(self, documents: list[dict[str, Any]]) -> None:
        label = f"batch verify ({len(documents):,} documents, 1 request)"
        peer = f"{self.verify_16.per_second:,.0f} cert/s POST /v1/verify ({CLIENTS} clients)" if self.verify_16 else ""
        # A one-document probe first: without the route, a large body would meet the body-size limit (413)
        # before the router could say 404.
        if self.http.post("/v1/verify/batch", json={"documents": documents[:1]}).status_code in (404, 405):
            self.row(label, "n/a (endpoint missing)", peer, "")
            return
        started = time.perf_counter()
        response = self.http.post("/v1/verify/batch", json={"documents": documents})
        seconds = time.perf_counter() - started
        if response.status_code != 200:
            self.row(label, f"failed: HTTP {response.status_code}", peer, "")
            self.note(f"POST /v1/verify/batch answered {response.status_code}: {response.text[:300]}")
            return
        reports = response.json()["reports"]
        valid = sum(1 for report in reports if report["verdict"] == "valid")
        if len(reports) != len(documents) or valid != len(documents):
            raise SystemExit(f"POST /v1/verify/batch: {len(reports)} reports ({valid} valid) for {len(documents)} "
                             "documents of one anchored batch")
        rate = len(documents) / seconds
        self.row(label, f"{rate:,.0f} cert/s", peer,
                 f"{rate / self.verify_16.per_second:.1f}x" if self.verify_16 else "")

    # ----- 4. provenance -----

    def provenance(self, indexed: int, queries: int, logs_queries: int, accesses: int) -> None:
        issued = [self._ok(self.http.post("/v1/certificates", json={"type": MARRIAGE, **marriage(f"PROV-{i}")},
                                          headers=self.auth), 201)["certificate"] for i in range(20)]
        hashes = [document["proof"]["certificateHash"] for document in issued]
        for certificate_hash in hashes[:10]:
            self._ok(self.http.post(f"/v1/certificates/{certificate_hash}/revoke", json={"reason": 1},
                                    headers=self.auth), 200)
        real = self._top_up_index(indexed)
        self.gateway.wait_indexed(timeout=600)
        registry, first = self.deployment.registry.address, self.deployment.first_block

        def via_index(i: int) -> float:
            return timed(lambda: self._ok(self.http.get(f"/v1/certificates/{hashes[i % 20]}/history",
                                                        headers=self.auth), 200))

        def via_logs(i: int) -> float:
            return timed(lambda: self._rpc_result(self._logs_query(registry, first, hashes[i % 20])))

        history = Rate(*concurrently(via_index, queries, 1))
        logs = Rate(*concurrently(via_logs, logs_queries, 1))
        blocks = self.w3.eth.block_number - first
        total = max(real, indexed)
        self.row(f"history, 1 client ({total:,} certificates indexed)", f"p50 {history.p50 * 1000:.1f} / "
                 f"p99 {history.p99 * 1000:.1f} ms", f"p50 {logs.p50 * 1000:.1f} / p99 {logs.p99 * 1000:.1f} ms "
                 f"eth_getLogs over {blocks:,} blocks", f"{logs.p50 / history.p50:,.1f}x (getLogs ÷ history, p50)")

        popular = issued[10]  # not revoked
        few = max(1, accesses // 20)
        self._verify_logged(popular, few)
        few_bytes = self._history_bytes(popular)
        verify_logged = self._verify_logged(popular, accesses - few)
        many_bytes = self._history_bytes(popular)
        logs_answer = self.rpc.post("/", json=self._logs_query(registry, first, popular["proof"]["certificateHash"]))
        self.row(f"history answer, certificate with {few:,} / {accesses:,} accesses",
                 f"{few_bytes:,} / {many_bytes:,} bytes", f"{len(logs_answer.content):,} bytes eth_getLogs (events only)",
                 f"{many_bytes / few_bytes:.1f}x growth")
        self.row(f"verify by a department, logged ({CLIENTS} clients)", str(verify_logged),
                 f"{self.verify_16} anonymous" if self.verify_16 else "",
                 f"{verify_logged.per_second / self.verify_16.per_second:.2f}x" if self.verify_16 else "")

    def _verify_logged(self, document: dict[str, Any], count: int) -> Rate:
        """`count` verifications of `document` by a department at 16 clients: each is an access of it in the log."""
        return Rate(*concurrently(lambda _i: timed(lambda: self._ok(self.http.post(
            "/v1/verify", json={"document": document}, headers=self.housing), 200)), count))

    def _history_bytes(self, document: dict[str, Any]) -> int:
        """The size of the answer to a history request (its first page when history is paginated)."""
        return len(self._ok_response(self.http.get(f"/v1/certificates/{document['proof']['certificateHash']}/history",
                                                   headers=self.auth), 200).content)

    @staticmethod
    def _logs_query(registry: str, first_block: int, certificate_hash: str) -> dict[str, Any]:
        return {"jsonrpc": "2.0", "id": 1, "method": "eth_getLogs", "params": [
            {"fromBlock": hex(first_block), "toBlock": "latest", "address": registry,
             "topics": [None, certificate_hash]}]}

    def _top_up_index(self, total: int) -> int:
        """Synthetic certificates of random hashes, issued at block 0 (below every real block), up to `total`
        certificates in the index: a CertificateIssued row in the event table (what history reads) and an anchor
        row in the derived chain state (what verification reads). Returns how many real ones the index holds."""
        with self.sessions() as session:
            real = session.scalar(select(func.count()).select_from(ChainEvent).where(
                ChainEvent.event == "CertificateIssued")) or 0
        synthetic = max(0, total - real)
        self.note(f"index: {real:,} real certificates (CertificateIssued events)" + (
            f"; {synthetic:,} synthetic ones added to reach {total:,} (event and anchor rows)" if synthetic else ""))
        rng = random.Random(7)
        chunk = 50_000
        with self.sessions.kw["bind"].begin() as connection:
            for start in range(0, synthetic, chunk):
                hashes = ["0x%064x" % rng.getrandbits(256) for _ in range(min(chunk, synthetic - start))]
                connection.execute(insert(ChainEvent), [
                    {"block_number": 0, "log_index": start + i, "block_hash": "0x" + "00" * 32,
                     "tx_hash": "0x%064x" % rng.getrandbits(256), "timestamp": 0, "contract": "CertificateRegistry",
                     "event": "CertificateIssued", "department": CIVIL_AFFAIRS, "certificate_type": MARRIAGE,
                     "subject": certificate_hash, "related": None,
                     "args": {"certificateHash": certificate_hash, "issuer": CIVIL_AFFAIRS,
                              "certificateType": MARRIAGE, "typeVersion": 1, "validUntil": 0}}
                    for i, certificate_hash in enumerate(hashes)])
                connection.execute(insert(AnchorRecord), [
                    {"hash": certificate_hash, "issuer": CIVIL_AFFAIRS, "certificate_type": MARRIAGE,
                     "type_version": 1, "issued_at": 0, "issued_block": 0, "valid_until": 0, "member_count": 0}
                    for certificate_hash in hashes])
        return real

    # ----- 5. sharing -----

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

        shared, verified = Rate(*concurrently(share, requests)), Rate(*concurrently(verify, requests))
        self.row(f"sharing ({CLIENTS} clients)", str(shared), f"{verified} verify, logged",
                 f"{shared.per_second / verified.per_second:.2f}x")

    # ----- 6. scale-out -----

    def scale_out(self, database: str | None, document: dict[str, Any], requests: int, singles: int) -> None:
        label = f"{SCALE_OUT_CLIENTS} clients, PostgreSQL"
        if database is None:
            self.row(f"scale-out ({label})", "n/a (no PostgreSQL: run under scripts/with_postgres.sh)", "", "")
            return
        rates: dict[int, tuple[Rate, float]] = {}
        for workers in (1, 2, 4):
            gateway = GatewayProcess(self.devnet, self.workdir / f"workers-{workers}", database=database,
                                     workers=workers, index_poll_seconds="0.2", role_cache_seconds="5",
                                     checkpoint_interval_seconds="300")
            started = time.perf_counter()
            gateway.start().wait_indexed(timeout=3600)
            if workers == 1:
                self.note(f"on PostgreSQL the first gateway indexed the chain in {time.perf_counter() - started:,.0f} s")
            try:
                rates[workers] = self._served_rates(gateway, document, requests, singles, f"W{workers}")
            finally:
                gateway.stop()
        verify_1, issue_1 = rates[1]
        for workers, (verify, issue) in rates.items():
            processes = f"{workers} process{'es' if workers > 1 else ''}"
            self.row(f"verify, {processes} ({label})", str(verify),
                     f"{verify_1} 1 process" if workers > 1 else f"{self.verify_16} SQLite, 16 clients"
                     if self.verify_16 else "", f"{verify.per_second / verify_1.per_second:.2f}x" if workers > 1
                     else "")
            self.row(f"anchoring, single, {processes} ({label})", f"{issue:,.1f} cert/s",
                     f"{issue_1:,.1f} cert/s 1 process" if workers > 1 else "",
                     f"{issue / issue_1:.2f}x" if workers > 1 else "")

    def _served_rates(self, gateway: GatewayProcess, document: dict[str, Any], requests: int, singles: int,
                      run: str) -> tuple[Rate, float]:
        """Verification requests/s and single issuances/s through `gateway` at SCALE_OUT_CLIENTS clients."""
        http = httpx.Client(base_url=str(gateway.client.base_url), timeout=600,
                            limits=httpx.Limits(max_connections=2 * SCALE_OUT_CLIENTS))
        auth = gateway.auth("MZ")
        try:
            verify = Rate(*concurrently(lambda _i: timed(lambda: self._ok(http.post(
                "/v1/verify", json={"document": document}), 200)), requests, SCALE_OUT_CLIENTS))
            wall, _ = concurrently(lambda i: timed(lambda: self._ok(http.post(
                "/v1/certificates", json={"type": MARRIAGE, **marriage(f"SCALE-{run}-{i}")}, headers=auth), 201)),
                singles, SCALE_OUT_CLIENTS)
        finally:
            http.close()
        return verify, singles / wall

    # ----- helpers -----

    def _rpc_result(self, body: dict[str, Any]) -> Any:
        answer = self.rpc.post("/", json=body).json()
        if "error" in answer:
            raise SystemExit(f"{body['method']}: {answer['error']}")
        return answer["result"]

    @staticmethod
    def _ok_response(response: httpx.Response, status: int) -> httpx.Response:
        if response.status_code != status:
            raise SystemExit(f"{response.request.method} {response.request.url}: {response.status_code} "
                             f"{response.text[:500]}")
        return response

    @classmethod
    def _ok(cls, response: httpx.Response, status: int) -> Any:
        return cls._ok_response(response, status).json()


def write_markdown(path: Path, bench: Bench, heading: str) -> None:
    """Replaces the bench's table section of `path` (between its markers), keeping the rest of the page."""
    replace_section(path, TABLE_START, TABLE_END, [heading, "", *(f"- {note}" for note in bench.notes), "",
                                                   "| measure | CertNet | peer (same chain, same run) | ratio |",
                                                   "|---|---|---|---|",
                                                   *(f"| {' | '.join(row)} |" for row in bench.rows)])


def replace_section(path: Path, start: str, end: str, lines: list[str]) -> None:
    """Puts `lines` between the markers `start` and `end` of `path` (appended with them when absent)."""
    lines = [start, *lines, end]
    text = path.read_text() if path.exists() else ""
    section = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    if section.search(text):
        text = section.sub(lambda _match: "\n".join(lines), text)
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n"
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=1_000_000, help="blocks of the long chain")
    parser.add_argument("--events", type=int, default=100_000, help="real CertNet events on it")
    parser.add_argument("--rebuild", action="store_true", help="build the long chain again, not from cache/")
    parser.add_argument("--singles", type=int, default=200)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--baseline", type=int, default=20, help="DocumentStore issues in the web3.py loop")
    parser.add_argument("--verifications", type=int, default=2_000, help="per series at 16 clients (1 client: /4)")
    parser.add_argument("--batch-verify", type=int, default=10_000, help="documents in one /v1/verify/batch")
    parser.add_argument("--indexed", type=int, default=1_000_000, help="certificates in the index for history")
    parser.add_argument("--history-queries", type=int, default=500)
    parser.add_argument("--logs-queries", type=int, default=50, help="eth_getLogs over the whole chain: ~1 s each")
    parser.add_argument("--accesses", type=int, default=2_000, help="logged verifications of one certificate")
    parser.add_argument("--sharing-requests", type=int, default=1_000)
    parser.add_argument("--scale-out-verifications", type=int, default=4_000, help="per process count")
    parser.add_argument("--scale-out-singles", type=int, default=300, help="single issuances per process count")
    parser.add_argument("--markdown", type=Path, help="rewrite the bench table section of this page")
    args = parser.parse_args()
    # The PostgreSQL server of scripts/with_postgres.sh is section 6's only; the other gateways keep SQLite.
    scale_out_database = os.environ.pop("CERTNET_DATABASE_URL", None)

    chain = long_chain(args.blocks, args.events, rebuild=args.rebuild)
    real = ", ".join(f"{count:,} {kind}" for kind, count in sorted(chain.events.items()))
    source = (f"built in {chain.build_seconds / 60:,.1f} min" if chain.build_seconds is not None
              else f"cached in {chain.directory.relative_to(chain.directory.parents[2])}")
    workdir = Path(tempfile.mkdtemp(prefix="certnet-bench-"))
    bench = Bench(workdir, chain, f"long chain: {chain.blocks:,} blocks, {sum(chain.events.values()):,} real "
                                  f"CertNet events ({real}); {source}")
    try:
        print(f"{'measure':<44} {'CertNet':>36}   {'peer, same chain and run':>50}   ratio")
        documents = bench.anchoring(args.singles, args.batch, args.baseline)
        bench.verification(documents[0], args.verifications)
        bench.batch_verification(documents[:args.batch_verify])
        bench.provenance(args.indexed, args.history_queries, args.logs_queries, args.accesses)
        bench.sharing(args.sharing_requests)
        bench.scale_out(scale_out_database and own_database(scale_out_database, workdir / "scale-out"), documents[0],
                        args.scale_out_verifications, args.scale_out_singles)
    finally:
        bench.close()
        shutil.rmtree(workdir, ignore_errors=True)
    if args.markdown:
        write_markdown(args.markdown, bench, f"Recorded {dt.date.today().isoformat()} by `make bench` "
                                             f"(`scripts/bench.py`) on the {os.cpu_count()}-core development machine:")


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
