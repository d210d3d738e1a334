"""`make run`'s chain: ganache with state kept on disk, the contracts deployed once, and a small
demo consortium bootstrapped through the same governance path real departments use.

A deployment manifest (`<data dir>/manifest.json`) records the chain id, engine, contract
addresses and blocks and the artifacts' source hash; every later component reads it. A second
`make run` finds the manifest and the contracts on the restarted chain and reuses them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from web3 import Web3
from web3.logs import DISCARD

from ledger_node.compiler import BUILD_INFO
from ledger_node.deploy import Deployment, Founder, deploy_contracts
from ledger_node.engines import LocalNode
from ledger_node.transactions import transact
from ledger_node.types import DepartmentStatus, Role, code32

DEMO_QUORUM = 2


@dataclass(frozen=True)
class DemoDepartment:
    code: str
    name: str
    roles: Role
    founder: bool


DEMO_DEPARTMENTS = (
    DemoDepartment("GA", "市公安局", Role.GOVERNOR | Role.ISSUER, founder=True),
    DemoDepartment("MZ", "市民政局", Role.GOVERNOR | Role.ISSUER, founder=True),
    DemoDepartment("RS", "市人力资源和社会保障局", Role.GOVERNOR | Role.ISSUER, founder=True),
    DemoDepartment("ZJ", "市住房和城乡建设局", Role.ISSUER | Role.RELYING_PARTY, founder=False),
    DemoDepartment("SJ", "市审计局", Role.AUDITOR, founder=False),
    DemoDepartment("DSJ", "市大数据管理局", Role.LOG_OPERATOR | Role.AUDITOR, founder=False),
)

#: (type code, name, issuing department)
DEMO_TYPES = (
    ("HJ-ZM", "户籍证明", "GA"),
    ("JHZ", "结婚证", "MZ"),
    ("SBK", "社会保障卡", "RS"),
    ("BDC-QZ", "不动产权证书", "ZJ"),
)


def read_manifest(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


def _is_deployed(w3: Web3, manifest: dict[str, Any] | None) -> bool:
    if not manifest or manifest["chainId"] != w3.eth.chain_id:
        return False
    return all(w3.eth.get_code(c["address"]) not in (b"", None) for c in manifest["contracts"].values())


def _bootstrap_demo(w3: Web3, deployment: Deployment, keys: dict[str, str]) -> None:
    consortium, catalog = deployment.consortium, deployment.catalog
    admissions = [
        consortium.functions.admitDepartment(code32(d.code), d.name, int(d.roles), [keys[d.code]])
        for d in DEMO_DEPARTMENTS
        if not d.founder
    ]
    calls = [(f.address, f._encode_transaction_data()) for f in admissions]
    proposer, approver = keys["GA"], keys["MZ"]
    receipt = transact(consortium.functions.propose(calls, "admit the demo departments"), proposer)
    proposal_id = consortium.events.ProposalCreated().process_receipt(receipt, errors=DISCARD)[0]["args"]["proposalId"]
    transact(consortium.functions.approve(proposal_id), approver)
    transact(consortium.functions.execute(proposal_id, calls), proposer)
    for type_code, name, issuer in DEMO_TYPES:
        schema_hash = Web3.keccak(text=f"certnet-demo-schema:{type_code}:v1")
        transact(catalog.functions.registerType(code32(type_code), schema_hash, name, [code32(issuer)]), keys[issuer])
    assert consortium.functions.department(code32("SJ")).call()[2] == DepartmentStatus.ACTIVE


def deploy_demo(w3: Web3, engine: str) -> dict[str, Any]:
    """Deploys the contracts with the demo founders, bootstraps the rest; returns the manifest."""
    accounts = w3.eth.accounts
    keys = {d.code: accounts[i + 1] for i, d in enumerate(DEMO_DEPARTMENTS)}
    founders = [Founder(code32(d.code), d.name, int(d.roles), [keys[d.code]]) for d in DEMO_DEPARTMENTS if d.founder]
    deployment = deploy_contracts(w3, accounts[0], founders, DEMO_QUORUM)
    _bootstrap_demo(w3, deployment, keys)
    return {
        "chainId": w3.eth.chain_id,
        "engine": engine,
        "contracts": {
            name: {"address": address, "block": deployment.blocks[name]}
            for name, address in deployment.addresses.items()
        },
        "artifacts": json.loads(BUILD_INFO.read_text())["sourceHash"],
        "departments": {d.code: {"name": d.name, "key": keys[d.code]} for d in DEMO_DEPARTMENTS},
    }


def run_devnet(data_dir: Path, port: int) -> tuple[LocalNode, dict[str, Any], bool]:
    """Starts ganache on `port` with its state in `data_dir`; deploys the demo unless already there.

    Returns the running node, the manifest and whether this call deployed it.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    node = LocalNode("ganache", port=port, state_dir=data_dir / "ganache")
    w3 = node.start()
    manifest_path = data_dir / "manifest.json"
    manifest = read_manifest(manifest_path)
    if _is_deployed(w3, manifest):
        return node, manifest, False
    try:
        manifest = deploy_demo(w3, "ganache")
    except BaseException:
        node.stop()
        raise
    manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return node, manifest, True
