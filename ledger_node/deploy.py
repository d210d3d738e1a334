"""Deploys the four CertNet contracts, wired to each other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract import Contract

from ledger_node.artifacts import load_artifact
from ledger_node.types import DepartmentCode


@dataclass(frozen=True)
class Founder:
    """A founding department: admitted at deployment, without a proposal."""

    code: DepartmentCode
    name: str
    roles: int
    keys: Sequence[ChecksumAddress]

    def as_abi(self) -> tuple[Any, ...]:
        return (self.code, self.name, self.roles, list(self.keys))


@dataclass(frozen=True)
class Deployment:
    """The deployed contracts, bound to a Web3 connection."""

    consortium: Contract
    catalog: Contract
    registry: Contract
    checkpoints: Contract
    blocks: dict[str, int]

    @property
    def addresses(self) -> dict[str, ChecksumAddress]:
        return {
            "Consortium": self.consortium.address,
            "Catalog": self.catalog.address,
            "CertificateRegistry": self.registry.address,
            "AuditCheckpoints": self.checkpoints.address,
        }


def contract_at(w3: Web3, name: str, address: ChecksumAddress) -> Contract:
    """A deployed CertNet contract by artifact name."""
    return w3.eth.contract(address=address, abi=load_artifact(name)["abi"])


def _deploy_one(w3: Web3, name: str, deployer: ChecksumAddress, *args: Any) -> tuple[Contract, int]:
    artifact = load_artifact(name)
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    tx_hash = factory.constructor(*args).transact({"from": deployer})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120)
    if receipt["status"] != 1 or not receipt["contractAddress"]:
        raise RuntimeError(f"deployment of {name} failed in transaction {tx_hash.to_0x_hex()}")
    return contract_at(w3, name, receipt["contractAddress"]), receipt["blockNumber"]


def deploy_contracts(w3: Web3, deployer: ChecksumAddress, founders: Sequence[Founder], quorum: int) -> Deployment:
    """Deploys Consortium (with its founders and quorum), Catalog, CertificateRegistry, AuditCheckpoints."""
    consortium, b1 = _deploy_one(w3, "Consortium", deployer, [f.as_abi() for f in founders], quorum)
    catalog, b2 = _deploy_one(w3, "Catalog", deployer, consortium.address)
    registry, b3 = _deploy_one(w3, "CertificateRegistry", deployer, consortium.address, catalog.address)
    checkpoints, b4 = _deploy_one(w3, "AuditCheckpoints", deployer, consortium.address)
    return Deployment(
        consortium=consortium,
        catalog=catalog,
        registry=registry,
        checkpoints=checkpoints,
        blocks={"Consortium": b1, "Catalog": b2, "CertificateRegistry": b3, "AuditCheckpoints": b4},
    )
