"""A CertNet chain of realistic length for `scripts/bench.py`, built once and cached as an anvil state file.

The chain: the default demo consortium deployed and bootstrapped, then `events` real CertNet events sent as
pre-signed raw transactions by the five issuing departments of the demo (issuances, batch anchors and
revocations, a few hundred per block), then empty blocks, one a second, up to `blocks` blocks in all: the
life of a chain that ran for days (1 000 000 one-second blocks are 11.6 days).

Why the empty blocks are written into the state file rather than mined: anvil 1.7.1's cost per mined block
grows with the chain's length (measured on this machine: 0.5 ms per block in the first thousand, 15 ms at
block 20 000; `anvil_mine` of 100 000 blocks had reached 34 509 after ten minutes), so a million mined blocks
would take days. The blocks written here are what anvil would mine with no transactions: the same header as
the last real block (state root, gas limit, base fee), number and timestamp one more, each parent hash the
keccak of the previous header's RLP, which this module computes as anvil does (checked on mined blocks).
anvil loads them with `--load-state` and serves them like mined ones (headers, hashes, `eth_getLogs`); a
gateway indexes them as it would any other block. The chain is deployed with its clock set back so that the
last empty block is in the past: blocks mined after loading carry the real time, as certificates' validity
and consents need.

The transactions are sent with anvil's mining paused and mined a block's gas limit at a time by `evm_mine` (automine would mine one block per transaction, and the blocks would cost what is said above).

The cache is `cache/bench/<key>/` (state.json, manifest.json, schemas/, chain.json), the key a hash of the
contracts' artifacts, the demo spec, this module and the sizes: a change to any of them builds a new chain.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import httpx
import rlp
from eth_hash.auto import keccak
from web3 import Web3
from web3.contract.contract import ContractFunction

from ledger_node.cli import store_schemas
from ledger_node.compiler import PROJECT_ROOT
from ledger_node.demo import demo_spec
from ledger_node.devnet import DEMO_DEPARTMENTS, deploy_and_bootstrap, demo_account
from ledger_node.deploy import Manifest
from ledger_node.engines import LocalNode, engine_command
from ledger_node.spec import ConsortiumSpec, parse_spec
from ledger_node.types import code32

CACHE = PROJECT_ROOT / "cache" / "bench"
BLOCK_GAS = 30_000_000  # anvil's default block gas limit
#: Block header fields in RLP order (London + Shanghai + Cancun + Prague, as anvil 1.7.1 hashes them).
HEADER_FIELDS = ("parentHash", "sha3Uncles", "miner", "stateRoot", "transactionsRoot", "receiptsRoot", "logsBloom",
                 "difficulty", "number", "gasLimit", "gasUsed", "timestamp", "extraData", "mixHash", "nonce",
                 "baseFeePerGas", "withdrawalsRoot", "blobGasUsed", "excessBlobGas", "parentBeaconBlockRoot",
                 "requestsHash")
INTEGER_FIELDS = {"difficulty", "number", "gasLimit", "gasUsed", "timestamp", "baseFeePerGas", "blobGasUsed",
                  "excessBlobGas"}
EMPTY_ROOT = "0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421"  # keccak(rlp(empty trie))
#: Of every 10 events a department sends: 7 issuances, 1 batch anchor, 2 revocations of its own issuances.
MIX = ("issue",) * 7 + ("batch",) + ("revoke",) * 2
BATCH_MEMBERS = 1_000
ISSUERS = ("GA", "MZ", "RS", "ZJ", "GH")


@dataclass(frozen=True)
class LongChain:
    """A cached long chain: anvil's state file and the deployment's manifest and schemas beside it."""

    directory: Path
    blocks: int
    events: dict[str, int]  # real events by kind
    build_seconds: float | None  # None: taken from the cache

    @property
    def state_file(self) -> Path:
        return self.directory / "state.json"


def header_hash(header: dict[str, str]) -> str:
    fields = [int(header[f], 16) if f in INTEGER_FIELDS else bytes.fromhex(header[f][2:]) for f in HEADER_FIELDS]
    return "0x" + keccak(rlp.encode(fields)).hex()


def cache_key(blocks: int, events: int) -> str:
    digest = hashlib.sha256(json.dumps([blocks, events, demo_spec("default")], sort_keys=True).encode())
    for source in [*sorted((PROJECT_ROOT / "ledger_node" / "artifacts").glob("*.json")), Path(__file__)]:
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def long_chain(blocks: int, events: int, *, rebuild: bool = False) -> LongChain:
    directory = CACHE / cache_key(blocks, events)
    if rebuild:
        shutil.rmtree(directory, ignore_errors=True)
    if (directory / "chain.json").exists():
        return LongChain(directory, blocks, json.loads((directory / "chain.json").read_text())["events"], None)
    started = time.monotonic()
    building = directory.with_name(directory.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    counts = _build(building, blocks, events)
    (building / "chain.json").write_text(json.dumps({"blocks": blocks, "events": counts}))
    building.rename(directory)
    return LongChain(directory, blocks, counts, time.monotonic() - started)


def _build(directory: Path, blocks: int, events: int) -> dict[str, int]:
    node = LocalNode("anvil")
    w3 = node.start()
    try:
        rpc = w3.provider.make_request
        # Back in time by the empty blocks to come (one a second) and an hour for the real part.
        rpc("anvil_setTime", [int(time.time()) - blocks - 3600])
        spec = parse_spec(demo_spec("default"), source="demo default")
        store_schemas(spec, directory)
        manifest, _deployed, _sent = deploy_and_bootstrap(w3, spec, directory / "manifest.json", engine="anvil",
                                                          rpc_url=node.url)
        rpc("evm_setIntervalMining", [0])
        rpc("evm_setAutomine", [False])
        counts = _send_events(w3, manifest, spec, events)
        print(f"  {sum(counts.values()):,} events mined in {w3.eth.block_number:,} blocks", flush=True)
        dump: str = rpc("anvil_dumpState", [])["result"]
    finally:
        node.stop()
    state = json.loads(gzip.decompress(bytes.fromhex(dump.removeprefix("0x"))))
    _write_with_empty_blocks(state, blocks, directory / "state.json")
    return counts


def _send_events(w3: Web3, manifest: Manifest, spec: ConsortiumSpec, total: int) -> dict[str, int]:
    deployment = manifest.deployment(w3)
    registry = deployment.registry
    first_block = w3.eth.block_number + 1
    rng = random.Random(15)
    types = {abbr: [code32(t.code) for t in spec.types if DEMO_DEPARTMENTS[abbr] in t.issuers] for abbr in ISSUERS}
    terms = {code: deployment.issuance_terms(code, 0) for codes in types.values() for code in codes}
    accounts = {abbr: demo_account(abbr) for abbr in ISSUERS}
    nonces = {abbr: w3.eth.get_transaction_count(accounts[abbr].address, "pending") for abbr in ISSUERS}
    issued: dict[str, list[bytes]] = {abbr: [] for abbr in ISSUERS}
    counts = {kind: 0 for kind in set(MIX)}
    chain_id = w3.eth.chain_id
    base_fee = 10**9
    pending: list[str] = []
    gas: dict[str, int] = {}  # by kind, estimated once with a margin
    block_gas = 0

    def call(abbr: str, kind: str) -> ContractFunction:
        if kind == "revoke" and issued[abbr]:
            return registry.functions.revoke(issued[abbr].pop(rng.randrange(len(issued[abbr]))), b"\0" * 32, [],
                                             rng.randint(1, 3))
        certificate_type = rng.choice(types[abbr])
        if kind == "batch":
            return registry.functions.anchorBatch(rng.randbytes(32), terms[certificate_type], BATCH_MEMBERS)
        certificate_hash = rng.randbytes(32)
        issued[abbr].append(certificate_hash)
        return registry.functions.issue(certificate_hash, terms[certificate_type])

    def mine() -> None:
        nonlocal block_gas
        block_gas = 0
        for raw in pending:
            w3.provider.make_request("eth_sendRawTransaction", [raw])
        w3.provider.make_request("anvil_setNextBlockBaseFeePerGas", [hex(base_fee)])
        w3.provider.make_request("evm_mine", [])
        pending.clear()

    for n in range(total):
        abbr = ISSUERS[n % len(ISSUERS)]
        kind = MIX[(n // len(ISSUERS)) % len(MIX)]
        if kind == "revoke" and not issued[abbr]:
            kind = "issue"
        function = call(abbr, kind)
        if kind not in gas:
            mine()  # the estimate runs on the latest state: a revocation needs its issuance mined
            gas[kind] = function.estimate_gas({"from": accounts[abbr].address}) * 5 // 4
        if block_gas + gas[kind] > BLOCK_GAS:
            mine()
        transaction = function.build_transaction({
            "from": accounts[abbr].address, "nonce": nonces[abbr], "gas": gas[kind], "chainId": chain_id,
            "maxFeePerGas": 2 * base_fee, "maxPriorityFeePerGas": 1})
        pending.append(accounts[abbr].sign_transaction(transaction).raw_transaction.to_0x_hex())
        block_gas += gas[kind]
        nonces[abbr] += 1
        counts[kind] += 1
    mine()
    logs = len(w3.eth.get_logs({"fromBlock": first_block, "toBlock": "latest", "address": registry.address}))
    if logs != total:
        raise RuntimeError(f"{total} event transactions sent, {logs} registry events on the chain")
    return counts


def _write_with_empty_blocks(state: dict[str, Any], total_blocks: int, path: Path) -> None:
    """Writes anvil's state with empty blocks after its last one up to `total_blocks` blocks, streamed (a million
    block dicts would not fit in memory comfortably)."""
    by_number = {int(block["header"]["number"], 16): block for block in state["blocks"]}
    best = state["best_block_number"]
    last = by_number[best]["header"]
    empty = max(0, total_blocks - best)
    timestamp = int(last["timestamp"], 16)
    with open(path, "w") as out:
        rest = {key: value for key, value in state.items() if key != "blocks"}
        if empty > 0:
            rest["best_block_number"] = best + empty
            rest["block"] = {**state["block"], "number": hex(best + empty), "timestamp": hex(timestamp + empty)}
        out.write(json.dumps(rest)[:-1] + ', "blocks": [')
        out.write(", ".join(json.dumps(block) for block in state["blocks"]))
        for header in _empty_headers(last, empty):
            out.write(', {"header": ' + json.dumps(header) + ', "transactions": [], "ommers": [], "withdrawals": null}')
        out.write("]}")


def _empty_headers(last: dict[str, str], count: int) -> Iterator[dict[str, str]]:
    template = {**last, "transactionsRoot": EMPTY_ROOT, "receiptsRoot": EMPTY_ROOT, "logsBloom": "0x" + "00" * 256,
                "gasUsed": "0x0"}
    parent, number, timestamp = header_hash(last), int(last["number"], 16), int(last["timestamp"], 16)
    for i in range(1, count + 1):
        header = {**template, "parentHash": parent, "number": hex(number + i), "timestamp": hex(timestamp + i)}
        parent = header_hash(header)
        yield header


def start_anvil(chain: LongChain, log: Path) -> LocalNode:
    """anvil with 1-second blocks from the cached state, without `certnet node`'s state keeper (it would dump
    the million blocks after every block): the bench's chain is thrown away after the run."""
    node = LocalNode("anvil")
    command = [*engine_command("anvil", node.port, node.accounts, None), "--load-state", str(chain.state_file)]
    output = open(log, "ab")
    node.process = subprocess.Popen(command, stdout=output, stderr=output, cwd=PROJECT_ROOT)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if node.process.poll() is not None:
            raise RuntimeError(f"anvil exited with code {node.process.returncode}: see {log}")
        try:
            if httpx.post(node.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []},
                          timeout=5).status_code == 200:
                return node
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    node.stop()
    raise RuntimeError("anvil did not load the long chain within 600 s")
