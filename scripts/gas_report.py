#!/usr/bin/env python
"""Gas report: what CertNet's transactions cost, next to OpenAttestation's DocumentStore.

Runs on the embedded chain (web3's EthereumTesterProvider, py-evm), deploys CertNet from the
shipped artifacts and DocumentStore from the npm package `@govtechsg/document-store` in the same
run, and prints gasUsed per operation. Every operation runs `--repeats` times on fresh inputs
(new random certificate hashes, new codes, new keys); the value reported is the median, i.e.
the cost of a first-time write of a fresh key: every transaction starts with cold storage
(EIP-2929 access sets are per transaction), so what varies between runs is only whether a
slot goes zero -> non-zero. Where the very first run in the deployment differs (a counter
going 0 -> 1), it is shown separately.

    .venv/bin/python scripts/gas_report.py [--repeats N] [--markdown docs/gas.md] [--breakdown]

`--breakdown` also traces one CertificateRegistry.issue and one DocumentStore.issue opcode by
opcode (py-evm) and prints where their gas goes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eth.estimators.gas import binary_gas_search_exact  # noqa: E402
from eth_account import Account  # noqa: E402
from web3 import Web3  # noqa: E402
from web3.logs import DISCARD  # noqa: E402

from gateway.certificates.merkle import MerkleBatch  # noqa: E402
from ledger_node.compiler import BUILD_INFO, SETTINGS, check_artifacts, pinned_versions  # noqa: E402
from ledger_node.accounts import dev_account  # noqa: E402
from ledger_node.artifacts import load_artifact  # noqa: E402
from ledger_node.deploy import (Deployment, Founder, deploy_contracts, deploy_successor_registry,  # noqa: E402
                                retire_call)
from ledger_node.engines import embedded_web3  # noqa: E402
from ledger_node.sender import Sender  # noqa: E402
from ledger_node.errors import ArtifactsStale  # noqa: E402
from ledger_node.transactions import transact  # noqa: E402
from ledger_node.types import PROPOSAL_LIFETIME, Role, code32  # noqa: E402

BATCH_SIZES = (1, 1_000, 10_000)
#: PERMIT_LIST_LIMIT in contracts/IssuancePermits.sol: the most permits one change makes the registry forget.
PERMIT_LIST_LIMIT = 128
TEN_YEARS = 10 * 365 * 24 * 3600
SNAPSHOT_URI = "https://catalog.example.gov.cn/civil-affairs/catalog-v{}.json"
DOCUMENT_STORE_FACTORY = "@govtechsg/document-store/dist/contracts/factories/contracts/DocumentStore__factory.js"


def load_document_store() -> dict[str, Any]:
    """ABI, creation bytecode and package version of OpenAttestation's DocumentStore.

    The package ships no Solidity, only TypeChain factories; Node loads the compiled factory
    (which carries `abi` and `bytecode` as static fields) and prints them as JSON.
    """
    script = (
        f"const f = require({json.dumps(DOCUMENT_STORE_FACTORY)}).DocumentStore__factory;"
        "const pkg = require('@govtechsg/document-store/package.json');"
        "process.stdout.write(JSON.stringify({abi: f.abi, bytecode: f.bytecode, version: pkg.version}));"
    )
    result = subprocess.run(["node", "-e", script], cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"cannot load DocumentStore from node_modules (run `npm ci`?):\n{result.stderr}")
    store = json.loads(result.stdout)
    if not store["bytecode"].startswith("0x") or not any(e.get("name") == "issue" for e in store["abi"]):
        raise SystemExit("unexpected DocumentStore factory: no bytecode or no issue()")
    return store


def metadata_solc_version(bytecode: str) -> str:
    """The solc version recorded in the CBOR metadata at the end of creation/runtime code."""
    code = bytes.fromhex(bytecode.removeprefix("0x"))
    at = code.rfind(b"dsolcC")  # text "solc" then CBOR byte string of 3 bytes
    return ".".join(str(b) for b in code[at + 6 : at + 9]) if at >= 0 else "unknown"


def intrinsic_gas(data: bytes) -> int:
    """21 000 + calldata: 4 per zero byte, 16 per other byte."""
    zeros = data.count(0)
    return 21_000 + 4 * zeros + 16 * (len(data) - zeros)


def calldata_floor(data: bytes) -> int:
    """EIP-7623 (Prague): the least a transaction carrying `data` is charged."""
    zeros = data.count(0)
    return 21_000 + 10 * (zeros + 4 * (len(data) - zeros))


@dataclass
class Row:
    operation: str
    samples: list[int]
    note: str = ""
    first: int | None = None  # the first run in the deployment, when it differs
    why_first: str = ""
    value: str = ""  # shown instead of a median for derived rows (ratios, differences)

    @property
    def typical(self) -> int:
        return int(statistics.median(self.samples))


@dataclass
class Bench:
    w3: Web3
    net: Deployment
    keys: dict[str, str]
    store: Any
    repeats: int
    rows: list[Row] = field(default_factory=list)

    def gas(self, function: Any, actor: str) -> int:
        return transact(function, self.keys[actor])["gasUsed"]

    def now(self) -> int:
        return self.w3.eth.get_block("latest")["timestamp"]

    def add(self, operation: str, samples: list[int], note: str = "", first: int | None = None, **kw: Any) -> Row:
        if first is not None and first == int(statistics.median(samples)):
            first = None
        row = Row(operation, samples, note, first, **kw)
        self.rows.append(row)
        return row

    def repeat(self, make: Callable[[int], int]) -> list[int]:
        return [make(i) for i in range(self.repeats)]


def setup_chain() -> tuple[Web3, dict[str, str]]:
    w3 = embedded_web3()
    # py-evm estimates gas to within 21 000 by default; measure view calls exactly.
    w3.provider.ethereum_tester.backend.chain.gas_estimator = binary_gas_search_exact
    accounts = w3.eth.accounts
    keys = {
        "deployer": accounts[0],
        "gov1": accounts[1],
        "gov2": accounts[2],
        "gov3": accounts[3],
        "issuer": accounts[4],
        "operator": accounts[5],
        "store_owner": accounts[6],
        # keys the issuer department adds and removes to measure what forgetting its permits costs
        "spare_0": accounts[7],
        "spare_1": accounts[8],
        "spare_2": accounts[9],
    }
    return w3, keys


def deploy(w3: Web3, keys: dict[str, str], store_artifact: dict[str, Any]) -> tuple[Deployment, Any]:
    founders = [
        Founder(code32("GOV-1"), "治理部门一", int(Role.GOVERNOR), [keys["gov1"]]),
        Founder(code32("GOV-2"), "治理部门二", int(Role.GOVERNOR), [keys["gov2"]]),
        Founder(code32("GOV-3"), "治理部门三", int(Role.GOVERNOR), [keys["gov3"]]),
        Founder(code32("CIVIL-AFFAIRS"), "民政局", int(Role.ISSUER), [keys["issuer"]]),
        Founder(code32("BIG-DATA-BUREAU"), "大数据管理局", int(Role.LOG_OPERATOR), [keys["operator"]]),
    ]
    net = deploy_contracts(w3, Sender(w3, [dev_account(0)]), keys["deployer"], founders, quorum=2)
    factory = w3.eth.contract(abi=store_artifact["abi"], bytecode=store_artifact["bytecode"])
    receipt = w3.eth.wait_for_transaction_receipt(
        factory.constructor("Reference DocumentStore", keys["store_owner"]).transact({"from": keys["deployer"]})
    )
    store = w3.eth.contract(address=receipt["contractAddress"], abi=store_artifact["abi"])
    for role in ("ISSUER_ROLE", "REVOKER_ROLE"):
        if not store.functions.hasRole(store.functions[role]().call(), keys["store_owner"]).call():
            raise SystemExit(f"DocumentStore owner lacks {role}")
    return net, store


def measure(bench: Bench) -> tuple[Row, bytes, int]:
    """Every row but the upgrade's; returns what `measure_upgrade` needs."""
    net = bench.net
    registry, catalog, consortium, checkpoints = net.registry, net.catalog, net.consortium, net.checkpoints
    civil = code32("CIVIL-AFFAIRS")
    valid_until = bench.now() + TEN_YEARS

    # registerType: the first one also takes _typeCount from 0 to 1.
    def register_type(i: int) -> int:
        call = catalog.functions.registerType(code32(f"CERT-TYPE-{i}"), os.urandom(32), f"证照类型{i}", [civil])
        return bench.gas(call, "issuer")

    type_samples = bench.repeat(register_type)
    cert_type = code32("CERT-TYPE-0")

    store_samples = bench.repeat(lambda i: bench.gas(bench.store.functions.issue(os.urandom(32)), "store_owner"))
    store_row = bench.add(
        "DocumentStore.issue (OpenAttestation reference)", store_samples, "onlyRole(ISSUER_ROLE) + not-issued check"
    )

    def issue(certificate_hash: bytes | None = None, certificate_type: bytes = cert_type) -> int:
        call = registry.functions.issue(certificate_hash or os.urandom(32), net.issuance_terms(certificate_type, valid_until))
        return bench.gas(call, "issuer")

    # The first issuance of a (key, type) checks in full and remembers the permit; the ones after use it.
    first_issues = bench.repeat(lambda i: issue(certificate_type=code32(f"CERT-TYPE-{i}")))
    issue_row = bench.add(
        "CertificateRegistry.issue (single)", bench.repeat(lambda i: issue()),
        "validUntil = now + 10 y; the key has issued this type before (its permit is remembered)",
    )
    bench.rows.append(ratio_row("issue", issue_row, store_row))
    bench.add(
        "CertificateRegistry.issue, first of a (key, type)", first_issues[1:],
        "full check in Consortium and Catalog, then the permit and its two list entries are written",
        first=first_issues[0], why_first="the department's list of permits 0 → 1",
    )

    batches: dict[int, list[MerkleBatch]] = {}
    anchor_rows: list[Row] = []
    for size in BATCH_SIZES:
        batches[size] = [MerkleBatch.build([os.urandom(32) for _ in range(size)]) for _ in range(bench.repeats)]
        samples = [
            bench.gas(registry.functions.anchorBatch(batch.root, net.issuance_terms(cert_type, valid_until), size), "issuer")
            for batch in batches[size]
        ]
        row = bench.add(f"anchorBatch, {members(size)}", samples, "one slot per batch, whatever its size")
        anchor_rows.append(row)
    growth = anchor_rows[-1].typical - anchor_rows[0].typical
    bench.rows.append(
        Row(
            f"  growth from {members(BATCH_SIZES[0])} to {members(BATCH_SIZES[-1])}",
            [],
            f"{anchor_rows[-1].typical / BATCH_SIZES[-1]:.1f} gas per certificate at {fmt(BATCH_SIZES[-1])}; "
            "the only difference is the non-zero calldata bytes of memberCount (16 gas each instead of 4)",
            value=f"{growth:+} gas",
        )
    )

    for size in BATCH_SIZES:
        batch = batches[size][0]
        member = max(batch.positions, key=lambda h: len(batch.proof(h)))
        proof = batch.proof(member)
        call = registry.functions.isBatchMember(batch.root, member, proof)
        if not call.call():
            raise SystemExit(f"isBatchMember false for a member of the {size}-batch")
        estimate = call.estimate_gas({"from": bench.keys["issuer"]})
        data = bytes.fromhex(call._encode_transaction_data()[2:])
        bench.add(
            f"isBatchMember check, {members(size)} (estimate_gas)",
            [estimate],
            f"proof of {len(proof)} hashes: execution {fmt(estimate - intrinsic_gas(data))} + 21 000 + calldata "
            f"{fmt(intrinsic_gas(data) - 21_000)}"
            + (
                f"; sent as a transaction under Prague rules, the EIP-7623 calldata floor makes it {fmt(calldata_floor(data))}"
                if calldata_floor(data) > estimate
                else ""
            ),
        )

    store_revokes = []
    for _ in range(bench.repeats):
        document = os.urandom(32)
        bench.gas(bench.store.functions.issue(document), "store_owner")
        store_revokes.append(bench.gas(bench.store.functions.revoke(document), "store_owner"))
    store_revoke_row = bench.add(
        "DocumentStore.revoke (OpenAttestation reference)", store_revokes, "onlyRole(REVOKER_ROLE) + not-revoked check"
    )
    revoke_samples = []
    for _ in range(bench.repeats):
        certificate_hash = os.urandom(32)
        issue(certificate_hash)
        revoke_samples.append(bench.gas(registry.functions.revoke(certificate_hash, b"\0" * 32, [], 1), "issuer"))
    revoke_row = bench.add(
        "revoke (single)", revoke_samples, "full check of the caller (Consortium.memberOf); recorded in the anchor's slot"
    )
    bench.rows.append(ratio_row("revoke", revoke_row, store_revoke_row))

    big = batches[BATCH_SIZES[-1]][0]
    deepest = sorted(big.positions, key=lambda h: -len(big.proof(h)))[: bench.repeats]
    bench.add(
        f"revoke (batch member, {members(BATCH_SIZES[-1])})",
        [bench.gas(registry.functions.revoke(h, big.root, big.proof(h), 1), "issuer") for h in deepest],
        f"proof of {len(big.proof(deepest[0]))} hashes",
    )

    supersede_samples = []
    for _ in range(bench.repeats):
        certificate_hash = os.urandom(32)
        issue(certificate_hash)
        call = registry.functions.supersede(certificate_hash, b"\0" * 32, [], os.urandom(32), valid_until)
        supersede_samples.append(bench.gas(call, "issuer"))
    bench.add("supersede (single -> new single)", supersede_samples, "revocation + successor link + issue")

    # What a hook costs: removing a key makes the registry forget every permit of the key's department.
    def remove_key_forgetting(spare: str, permits: int) -> int:
        key = bench.keys[spare]
        transact(consortium.functions.addKey(civil, key), bench.keys["issuer"])
        for i in range(permits):
            certificate_type = code32(f"{spare}-TYPE-{i}")
            transact(catalog.functions.registerType(certificate_type, os.urandom(32), "证照", [civil]), bench.keys["issuer"])
            issue_call = registry.functions.issue(os.urandom(32), bench.net.issuance_terms(certificate_type, valid_until))
            transact(issue_call, key)
        return bench.gas(consortium.functions.removeKey(civil, key), "issuer")

    remove_key_forgetting("spare_0", 0)  # empties the department's list (the permits of the rows above)
    for spare, permits in (("spare_1", 1), ("spare_2", PERMIT_LIST_LIMIT)):
        bench.add(
            f"Consortium.removeKey, the registry forgetting {permits} permit{'s' if permits > 1 else ''}",
            [remove_key_forgetting(spare, permits)],
            "the department's list of permits is full: the most one change makes it forget"
            if permits == PERMIT_LIST_LIMIT else "forgetDepartmentPermits called by the Consortium",
        )

    bench.add(
        "registerType (one issuer)",
        type_samples[1:] or type_samples,
        "name of 4 CJK chars",
        first=type_samples[0],
        why_first="`_typeCount` 0 → 1",
    )

    uri_len = len(SNAPSHOT_URI.format(1))

    def snapshot(actor: str, version: int) -> int:
        return bench.gas(catalog.functions.anchorCatalogSnapshot(os.urandom(32), SNAPSHOT_URI.format(version)), actor)

    firsts = [snapshot(actor, 1) for actor in ("gov1", "gov2", "gov3", "issuer", "operator")]
    bench.add("anchorCatalogSnapshot (a department's first)", firsts, f"uri of {uri_len} bytes")
    bench.add(
        "anchorCatalogSnapshot (next version)", bench.repeat(lambda i: snapshot("issuer", i + 2)), f"uri of {uri_len} bytes"
    )

    propose, approve, execute = [], [], []
    for i in range(bench.repeats):
        code = code32(f"NEW-DEPT-{i}")
        admit = consortium.functions.admitDepartment(code, f"新部门{i}", int(Role.ISSUER), [Account.create().address])
        calls = [(admit.address, admit._encode_transaction_data())]
        receipt = transact(consortium.functions.propose(calls, f"admit NEW-DEPT-{i}", PROPOSAL_LIFETIME), bench.keys["gov1"])
        propose.append(receipt["gasUsed"])
        proposal_id = consortium.events.ProposalCreated().process_receipt(receipt, errors=DISCARD)[0]["args"]["proposalId"]
        approve.append(bench.gas(consortium.functions.approve(proposal_id), "gov2"))
        execute.append(bench.gas(consortium.functions.execute(proposal_id, calls), "gov3"))
        if consortium.functions.department(code).call()[2] != 1:
            raise SystemExit("the proposal did not admit the department")
    total = [p + a + e for p, a, e in zip(propose, approve, execute)]
    bench.add(
        "governance: admit one department (total)",
        total[1:] or total,
        "propose + approve + execute, quorum 2",
        first=total[0],
        why_first="`_proposalCount` 0 → 1",
    )
    bench.add(
        "  propose",
        propose[1:] or propose,
        "admitDepartment(code, name, ISSUER, [1 key])",
        first=propose[0],
        why_first="`_proposalCount` 0 → 1",
    )
    bench.add("  approve", approve[1:] or approve)
    bench.add("  execute", execute[1:] or execute)

    # Checkpoints come last: their logs are registered by a proposal, and the rows above measure the first one.
    log_ids = [os.urandom(32) for _ in range(bench.repeats + 1)]
    registrations = [checkpoints.functions.setLogOperator(log_id, code32("BIG-DATA-BUREAU")) for log_id in log_ids]
    calls = [(f.address, f._encode_transaction_data()) for f in registrations]
    receipt = transact(consortium.functions.propose(calls, "register the logs", PROPOSAL_LIFETIME), bench.keys["gov1"])
    proposal_id = consortium.events.ProposalCreated().process_receipt(receipt, errors=DISCARD)[0]["args"]["proposalId"]
    transact(consortium.functions.approve(proposal_id), bench.keys["gov2"])
    transact(consortium.functions.execute(proposal_id, calls), bench.keys["gov1"])

    def checkpoint(log_id: bytes, size: int) -> int:
        return bench.gas(checkpoints.functions.appendCheckpoint(log_id, size, os.urandom(32)), "operator")

    bench.add("appendCheckpoint (first of a registered log)", bench.repeat(lambda i: checkpoint(log_ids[i + 1], 1000)))
    checkpoint(log_ids[0], 1)
    bench.add("appendCheckpoint (next of a log)", bench.repeat(lambda i: checkpoint(log_ids[0], 1000 * (i + 2))))

    return issue_row, cert_type, valid_until


def measure_upgrade(bench: Bench, issue_row: Row, cert_type: bytes, valid_until: int) -> None:
    """Retiring the registry in favour of a successor (by a proposal), and issuance in the successor,
    which also asks its predecessor whether the hash is anchored there."""
    consortium, deployer = bench.net.consortium, bench.keys["deployer"]
    successor, _block = deploy_successor_registry(bench.w3, Sender(bench.w3, [dev_account(0)]), deployer, bench.net)
    retire = retire_call(bench.net, successor.address)
    calls = [(retire.address, retire._encode_transaction_data())]
    proposed = transact(consortium.functions.propose(calls, "upgrade the registry", PROPOSAL_LIFETIME),
                        bench.keys["gov1"])
    proposal_id = consortium.events.ProposalCreated().process_receipt(proposed, errors=DISCARD)[0]["args"]["proposalId"]
    approved = bench.gas(consortium.functions.approve(proposal_id), "gov2")
    executed = bench.gas(consortium.functions.execute(proposal_id, calls), "gov1")
    if not successor.functions.isActive().call():
        raise SystemExit("the successor did not take over")
    bench.add("governance: retire the registry (total)", [proposed["gasUsed"] + approved + executed],
              "propose + approve + execute of retire(successor): it forgets every permit, the consortium names "
              "the successor, successor.takeOver()")
    bench.add("  execute", [executed], f"{bench.net.consortium.functions.departmentCount().call()} departments' "
              "lists of permits read, the issuer's few permits forgotten; three events")
    full_list = next(row for row in bench.rows if row.operation.endswith(f"forgetting {PERMIT_LIST_LIMIT} permits"))
    empty_list = next(row for row in bench.rows if row.operation.endswith("forgetting 1 permit"))
    bench.rows.append(Row("  worst case: per department with a full list", [],
                          f"forgetting {PERMIT_LIST_LIMIT} permits, as removeKey does (its rows above: the difference "
                          "of the full list's and one permit's); retire's worst case is execute + this x departments",
                          value=f"+{fmt(full_list.typical - empty_list.typical)} gas"))
    def issue_in_successor() -> int:
        return bench.gas(successor.functions.issue(os.urandom(32), bench.net.issuance_terms(cert_type, valid_until)),
                         "issuer")

    first = issue_in_successor()
    successor_issue = bench.add(
        "CertificateRegistry.issue in a successor", bench.repeat(lambda i: issue_in_successor()),
        "also asks the predecessor (1 cold account, 1 cold slot) whether it anchored the hash",
        first=first, why_first="the key's first issuance there: full check, permit remembered")
    bench.rows.append(Row("  predecessor check", [], "cost of issuing in an upgraded registry; none in the first",
                          value=f"+{fmt(successor_issue.typical - issue_row.typical)} gas"))


# ----- output -----


def ratio_row(operation: str, row: Row, reference: Row) -> Row:
    difference = row.typical - reference.typical
    sign = "+" if difference >= 0 else "−"
    return Row(f"  ratio {operation} / DocumentStore.{operation}", [], f"{sign}{fmt(abs(difference))} gas",
               value=f"{row.typical / reference.typical:.3f}x")


def fmt(n: int) -> str:
    return f"{n:,}".replace(",", " ")


def members(n: int) -> str:
    return f"{fmt(n)} member" + ("s" if n != 1 else "")


def table_lines(rows: list[Row], markdown: bool) -> list[str]:
    header = ("Operation", "gasUsed (typical)", "runs min–max", "Notes")
    body = []
    for row in rows:
        if not row.samples:
            body.append((row.operation, row.value, "", row.note))
            continue
        spread = f"{fmt(min(row.samples))}–{fmt(max(row.samples))}" if len(row.samples) > 1 else "1 run"
        note = row.note
        if row.first is not None:
            note = (note + "; " if note else "") + f"first run in the deployment: {fmt(row.first)} ({row.why_first})"
        body.append((row.operation, fmt(row.typical), spread, note))
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|---|---:|---:|---|"]
        for operation, *cells in body:
            name = "↳ " + operation.strip() if operation.startswith("  ") else operation
            lines.append("| " + " | ".join([name, *cells]) + " |")
        return lines
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(4)]
    out = ["  ".join(h.ljust(w) if i in (0, 3) else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths))).rstrip()]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) if i in (0, 3) else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip() for r in body]
    return out


def environment(store_artifact: dict[str, Any], w3: Web3) -> dict[str, str]:
    try:
        check_artifacts()
        fresh = "they match contracts/"
    except ArtifactsStale:
        fresh = "contracts/ has changed since they were built: these numbers are for the artifacts"
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    commit = git.stdout.strip() or "unknown"
    dirty = subprocess.run(
        ["git", "--no-optional-locks", "status", "--porcelain", "--", "contracts", "ledger_node/artifacts"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if dirty:
        commit += " with uncommitted changes to contracts/ or the artifacts"
    build = json.loads(BUILD_INFO.read_text())
    settings = {k: v for k, v in SETTINGS.items() if k != "outputSelection"}
    versions = pinned_versions()
    return {
        "compiler": f"solc {versions['solc']}, OpenZeppelin {versions['openzeppelin']}, "
        f"settings {json.dumps(settings, sort_keys=True)}",
        "artifacts": f"ledger_node/artifacts (sourceHash {build['sourceHash'][:16]}…) at git {commit}; {fresh}",
        "reference": f"@govtechsg/document-store {store_artifact['version']} (DocumentStore, bytecode as shipped; "
        f"metadata says solc {metadata_solc_version(store_artifact['bytecode'])})",
        "chain": f"eth-tester {dist_version('eth-tester')} / py-evm {dist_version('py-evm')}, "
        f"{type(w3.provider.ethereum_tester.backend.chain.get_vm()).__name__} rules, web3 {dist_version('web3')}",
    }


def target_note(traces: dict[str, "Trace"]) -> list[str]:
    """What separates `issue` (permit remembered) from DocumentStore's, read from the two traces."""
    sizes = {name: (len(load_artifact(name)["deployedBytecode"]) - 2) // 2
             for name in ("Consortium", "Catalog", "CertificateRegistry")}
    ours, theirs = traces["CertificateRegistry.issue (permit remembered)"], traces["DocumentStore.issue"]
    first = traces["CertificateRegistry.issue, first of a (key, type)"]
    difference = ours.gas_used - theirs.gas_used
    calldata = ours.calldata - theirs.calldata
    overhead = ours.execution_besides_storage_and_events - theirs.execution_besides_storage_and_events
    return [
        "## The DocumentStore target",
        "",
        f"The traced `issue`, by a key that has issued the type before, cost {fmt(ours.gas_used)} against "
        f"DocumentStore's "
        f"{fmt(theirs.gas_used)} ({signed(difference)} gas, {ours.gas_used / theirs.gas_used:.4f}x). Storage and the "
        "event cost the same in both: the 21 000 base, one cold slot for the permission (DocumentStore: the caller's "
        "role; CertNet: the remembered permit of (key, type), which stands for all four checks: the key is a current "
        "key of an active department with the issuer role, the type is active, the department may issue it, and the "
        "version is current), the new slot (a cold read and a 20 000 write) and a two-topic event without data "
        "(DocumentStore also reads one warm slot, counted below). Every change that can withdraw a permission makes "
        "the Consortium or the Catalog tell the registry to forget it (docs/contracts.md), so the one slot answers "
        "what the four did.",
        "",
        "What differs:",
        "",
        f"- calldata: {signed(calldata)} gas. `issue` takes the type and the end of validity besides the hash, packed "
        "in one word, `terms` = type id | validUntil << 32 (68 bytes against 36). Before, a type code and a time "
        "took two words (100 bytes, +436 gas): a word of mostly zero bytes costs over 100 gas, and a code has about "
        "ten more non-zero bytes than an id.",
        f"- the rest of execution (dispatch, ABI decoding, checks, the permit and anchor keys, warm reads): "
        f"{signed(overhead)} gas. The permit's key is the signing key and the type id side by side (192 bits: "
        "unique, no hash to compute); the contracts are compiled through the IR pipeline (`viaIR`), which inlines "
        "the small internal functions of issuance and dispatches `issue` after three comparisons; the validity check "
        "is one comparison. Before these, execution cost 148 gas more than DocumentStore's.",
        "",
        "EIP-2930 access lists would make it dearer, not cheaper: listing the registry costs 2 400 though the called "
        "contract is warm anyway, and a listed slot costs 1 900 + 100 against 2 100 cold, so they were not used (nor "
        "measured for DocumentStore). The full check is still paid by the first issuance of each (key, type) "
        f"({fmt(first.gas_used)} in the trace above: two cold calls and four cold slots, then the permit and its "
        "entries in the department's and the type's lists), and again after any change that made the registry "
        "forget it.",
        "",
        "Merging the contracts was not needed, and would not fit: their runtime bytecodes add up to more than "
        f"EIP-170's 24 576 bytes (Consortium, Catalog and CertificateRegistry: {' + '.join(fmt(n) for n in sizes.values())} "
        f"= {fmt(sum(sizes.values()))} bytes). Per certificate, `anchorBatch` is the intended path for volume: its gas "
        "does not grow with the batch size (see the rows above).",
        "",
    ]


def signed(n: int) -> str:
    return f"{'+' if n >= 0 else '−'}{fmt(abs(n))}"


def write_markdown(path: Path, rows: list[Row], env: dict[str, str], command: str, breakdown: list[str],
                   traces: dict[str, Trace]) -> None:
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    lines = [
        "# Gas report",
        "",
        f"Generated on {today} by:",
        "",
        "```sh",
        command,
        "```",
        "",
        *(f"- **{k}**: {v}" for k, v in env.items()),
        "",
        "CertNet is deployed with `ledger_node.deploy.deploy_contracts` (3 governor departments, quorum 2, "
        "one issuer department, one log operator) and DocumentStore from the npm package, in the same run "
        "on the same embedded chain. gasUsed is the receipt's, so it includes the 21 000 base cost and calldata.",
        "Every operation runs several times on fresh inputs (random certificate hashes, new codes, new keys); "
        "the typical value is the median. Each transaction starts with cold storage (EIP-2929 access sets are per "
        "transaction), so all runs are first-time (cold) writes of a fresh key; runs differ only by calldata bytes "
        "and by counters going 0 → 1 on the very first run, which is shown separately.",
        "The isBatchMember rows are `estimate_gas` of the view call with py-evm's exact estimator, for the member "
        "with the longest proof. `issue` is measured by a key that has issued the type before, whose permit the "
        "registry remembers (docs/contracts.md); the first issuance of a (key, type), which checks in full and "
        "writes the permit, has a row of its own.",
        "",
        *table_lines(rows, markdown=True),
        "",
    ]
    if breakdown:
        lines += ["## Where the gas of `issue` and `revoke` goes", "", "```text", *breakdown, "```", "",
                  *target_note(traces)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


# ----- opcode tracing (--breakdown) -----


@dataclass
class Frame:
    label: str
    depth: int
    categories: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def trace_transaction(w3: Web3, send: Callable[[], Any], labels: dict[str, str]) -> tuple[dict[str, Any], list[Frame]]:
    """Runs `send` with every opcode of py-evm wrapped, and sums its gas per call frame and kind.

    A CALL-family opcode is charged only its own cost (access, memory, value): the gas spent
    inside the callee is attributed to the callee's frame.
    """
    computation_class = w3.provider.ethereum_tester.backend.chain.get_vm().state.computation_class
    original = dict(computation_class.opcodes)
    frames: list[Frame] = []
    open_frames: dict[int, tuple[Any, Frame]] = {}  # id(computation) -> (computation, frame)

    def frame_for(computation: Any) -> Frame:
        known = open_frames.get(id(computation))
        if known is None or known[0] is not computation:
            if computation.msg.depth == 0:  # a new top-level run (estimate, pending, mined): keep only the last
                frames.clear()
                open_frames.clear()
            address = Web3.to_checksum_address(computation.msg.code_address)
            known = (computation, Frame(labels.get(address, address), computation.msg.depth))
            frames.append(known[1])
            open_frames[id(computation)] = known
        return known[1]

    def wrap(opcode: Any) -> Callable[..., Any]:
        mnemonic = getattr(opcode, "mnemonic", None) or opcode.__wrapped__.mnemonic

        def traced(computation: Any) -> Any:
            frame = frame_for(computation)
            before = computation.get_gas_remaining()
            inner_before = sum(sum(f.categories.values()) for f in frames if f.depth > frame.depth)
            try:
                return opcode(computation=computation)
            finally:
                spent = before - computation.get_gas_remaining()
                inner = sum(sum(f.categories.values()) for f in frames if f.depth > frame.depth) - inner_before
                cost = spent - inner if mnemonic in CALLS else spent
                kind = classify(mnemonic, cost)
                frame.categories[kind] += cost
                frame.counts[kind] += 1

        traced.mnemonic = mnemonic  # type: ignore[attr-defined]
        return traced

    for code, opcode in original.items():
        computation_class.opcodes[code] = wrap(opcode)
    try:
        receipt = send()
    finally:
        computation_class.opcodes.clear()
        computation_class.opcodes.update(original)
    return receipt, frames


@dataclass(frozen=True)
class Trace:
    """The totals of one traced transaction that the target note compares."""

    gas_used: int
    calldata: int
    execution_besides_storage_and_events: int  # all but cold SLOADs, SSTOREs, LOGs and calls' own costs

    @classmethod
    def of(cls, receipt: dict[str, Any], data: bytes, frames: list[Frame]) -> Trace:
        zeros = data.count(0)
        plain = sum(cost for frame in frames for kind, cost in frame.categories.items()
                    if not kind.startswith(("SLOAD cold", "SSTORE", "event", *CALLS)))
        return cls(receipt["gasUsed"], 16 * (len(data) - zeros) + 4 * zeros, plain)


CALLS = {"CALL", "STATICCALL", "DELEGATECALL", "CALLCODE"}


def classify(mnemonic: str, cost: int) -> str:
    if mnemonic == "SLOAD":
        return "SLOAD cold (2 100)" if cost >= 2100 else "SLOAD warm (100)"
    if mnemonic == "SSTORE":
        return "SSTORE"
    if mnemonic.startswith("LOG"):
        return "event (" + mnemonic + ")"
    if mnemonic in CALLS:
        return f"{mnemonic} (address access, memory)"
    if mnemonic in ("KECCAK256", "SHA3"):
        return "KECCAK256 (mapping slots)"
    return "other opcodes (dispatch, ABI, checks, memory)"


W = 64  # label width of the breakdown


def breakdown_lines(title: str, receipt: dict[str, Any], data: bytes, frames: list[Frame]) -> list[str]:
    zeros = data.count(0)
    lines = [f"{title}: gasUsed {fmt(receipt['gasUsed'])}"]
    lines.append("  base transaction".ljust(W) + f"{fmt(21_000):>8}")
    calldata = f"  calldata {len(data)} bytes ({len(data) - zeros} non-zero x 16, {zeros} zero x 4)"
    lines.append(calldata.ljust(W) + f"{fmt(16 * (len(data) - zeros) + 4 * zeros):>8}")
    execution = 0
    for frame in frames:
        total = sum(frame.categories.values())
        execution += total
        where = "executing in" if frame.depth == 0 else "called:"
        lines.append(f"  {'  ' * frame.depth}{where} {frame.label} (call depth {frame.depth})".ljust(W) + f"{fmt(total):>8}")
        for kind, cost in sorted(frame.categories.items(), key=lambda kv: -kv[1]):
            lines.append(f"    {'  ' * frame.depth}{kind} x{frame.counts[kind]}".ljust(W) + f"{fmt(cost):>8}")
    standard = 21_000 + 16 * (len(data) - zeros) + 4 * zeros + execution
    lines.append("  sum (no refunds)".ljust(W) + f"{fmt(standard):>8}")
    return lines


def breakdown(bench: Bench) -> tuple[list[str], dict[str, Trace]]:
    """Traces, opcode by opcode: issue with a remembered permit, DocumentStore.issue, the first issuance
    of a (key, type), revoke and DocumentStore.revoke."""
    net, w3 = bench.net, bench.w3
    labels = {
        net.registry.address: "CertificateRegistry",
        net.consortium.address: "Consortium",
        net.catalog.address: "Catalog",
        bench.store.address: "DocumentStore",
    }
    valid_until = bench.now() + TEN_YEARS
    fresh_type = code32("CERT-TYPE-TRACED")
    transact(net.catalog.functions.registerType(fresh_type, os.urandom(32), "证照", [code32("CIVIL-AFFAIRS")]),
             bench.keys["issuer"])
    # The rows measuring what forgetting costs left the issuer without permits: remember CERT-TYPE-0's again.
    transact(net.registry.functions.issue(os.urandom(32), net.issuance_terms(code32("CERT-TYPE-0"), valid_until)), bench.keys["issuer"])
    certificate, document = os.urandom(32), os.urandom(32)
    traced = [
        ("CertificateRegistry.issue (permit remembered)",
         net.registry.functions.issue(certificate, net.issuance_terms(code32("CERT-TYPE-0"), valid_until)), "issuer"),
        ("DocumentStore.issue", bench.store.functions.issue(document), "store_owner"),
        ("CertificateRegistry.issue, first of a (key, type)",
         net.registry.functions.issue(os.urandom(32), net.issuance_terms(fresh_type, valid_until)), "issuer"),
        ("CertificateRegistry.revoke (single)",
         net.registry.functions.revoke(certificate, b"\0" * 32, [], 1), "issuer"),
        ("DocumentStore.revoke", bench.store.functions.revoke(document), "store_owner"),
    ]
    out: list[str] = []
    traces: dict[str, Trace] = {}
    for title, call, actor in traced:
        receipt, frames = trace_transaction(w3, lambda: transact(call, bench.keys[actor]), labels)
        data = bytes.fromhex(call._encode_transaction_data()[2:])
        if out:
            out.append("")
        out += breakdown_lines(title, receipt, data, frames)
        traces[title] = Trace.of(receipt, data, frames)
    return out, traces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per operation (default 5)")
    parser.add_argument("--markdown", type=Path, help="also write the report as markdown to this file")
    parser.add_argument("--breakdown", action="store_true", help="trace issue opcode by opcode and show where gas goes")
    args = parser.parse_args()
    if args.repeats < 2:
        parser.error("--repeats must be at least 2")

    store_artifact = load_document_store()
    w3, keys = setup_chain()
    net, store = deploy(w3, keys, store_artifact)
    bench = Bench(w3=w3, net=net, keys=keys, store=store, repeats=args.repeats)
    issue_row, cert_type, valid_until = measure(bench)
    lines, traces = breakdown(bench) if args.breakdown else ([], {})
    # The upgrade comes last of all: it retires the registry every row above (and the trace) issued in.
    measure_upgrade(bench, issue_row, cert_type, valid_until)
    env = environment(store_artifact, w3)
    for key, value in env.items():
        print(f"{key}: {value}")
    print()
    print("\n".join(table_lines(bench.rows, markdown=False)))
    if lines:
        print()
        print("\n".join(lines))
    if args.markdown:
        command = f".venv/bin/python scripts/gas_report.py --repeats {args.repeats} --markdown {args.markdown}"
        write_markdown(args.markdown, bench.rows, env, command + (" --breakdown" if args.breakdown else ""), lines,
                       traces)
        print(f"\nwrote {args.markdown}")


if __name__ == "__main__":
    main()
