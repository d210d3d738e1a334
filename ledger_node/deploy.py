"""Deploys the four CertNet contracts, wired to each other, and records them in a manifest.

The manifest (`<data dir>/manifest.json`) is what every other component reads to find the
contracts: chain id, engine, RPC URL, contract addresses and deployment blocks, and the hash of
the sources the artifacts were compiled from. Deploying onto a chain that already has the
manifest's contracts is refused unless forced.

A registry is replaced by a successor deployment (docs/contracts.md, "Upgrading"): the manifest's
`CertificateRegistry` is the one that anchors now, `retired_registries` the ones it replaced,
oldest first, which still hold their certificates and revocations.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

from eth_typing import ChecksumAddress
from web3 import Web3
from web3.constants import ADDRESS_ZERO
from web3.contract import Contract
from web3.utils.address import get_create_address

from ledger_node.artifacts import load_artifact
from ledger_node.compiler import artifacts_source_hash
from ledger_node.errors import LedgerError
from ledger_node.sender import Sender
from ledger_node.transactions import read
from ledger_node.types import CRYPTO_SUITES, DepartmentCode, issuance_terms

CONTRACT_NAMES = ("Consortium", "Catalog", "CertificateRegistry", "AuditCheckpoints")


class AlreadyDeployed(LedgerError):
    """The manifest's contracts are already on this chain."""

    code = "already_deployed"


class DeploymentError(LedgerError):
    """The contracts were not deployed as they must be wired together."""

    code = "deployment_error"


class ManifestError(LedgerError):
    """No manifest, or one that does not describe the chain we are connected to."""

    code = "manifest_error"


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
    registry: Contract  # the registry that anchors now
    checkpoints: Contract
    blocks: dict[str, int]
    #: The registries `registry` replaced, oldest first, each with the block it was deployed in.
    retired_registries: tuple[tuple[Contract, int], ...] = ()

    @property
    def addresses(self) -> dict[str, ChecksumAddress]:
        return {
            "Consortium": self.consortium.address,
            "Catalog": self.catalog.address,
            "CertificateRegistry": self.registry.address,
            "AuditCheckpoints": self.checkpoints.address,
        }

    @property
    def first_block(self) -> int:
        return min([*self.blocks.values(), *(block for _registry, block in self.retired_registries)])

    @property
    def registries(self) -> tuple[Contract, ...]:
        """Every registry version, oldest first: the retired ones, then the one that anchors now."""
        return (*(registry for registry, _block in self.retired_registries), self.registry)

    def issuance_terms(self, certificate_type: bytes, valid_until: int) -> int:
        """The `terms` word of `issue` and `anchorBatch` for the type whose code is `certificate_type` (asks the
        catalog for its id: a chain call; the gateway keeps the ids, which never change). `ContractReverted`
        (CatalogUnknownType) when no type has that code."""
        return issuance_terms(read(self.catalog.functions.certificateType(certificate_type))[1], valid_until)

    def registry_at(self, address: str) -> Contract | None:
        """The deployment's registry (current or retired) at `address`, or None."""
        return next((registry for registry in self.registries if registry.address == address), None)


@dataclass
class Manifest:
    chain_id: int
    engine: str
    rpc_url: str
    contracts: dict[str, dict[str, Any]]  # name -> {"address", "block"}
    artifacts: str  # source hash of the compiled artifacts
    deployed_at: float = field(default_factory=time.time)
    #: The consortium's crypto suite (`Consortium.cryptoSuite`); manifests written before suites existed lack it.
    crypto_suite: str = CRYPTO_SUITES[0]
    #: Registries replaced by a successor, oldest first: {"address", "block", "successor"}.
    retired_registries: list[dict[str, Any]] = field(default_factory=list)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> Manifest:
        if not path.exists():
            raise ManifestError(f"no deployment manifest at {path}: run `certnet deploy` first")
        return cls(**json.loads(path.read_text()))

    def is_live_on(self, w3: Web3) -> bool:
        """Whether this chain is the manifest's and still holds its contracts' code."""
        if w3.eth.chain_id != self.chain_id:
            return False
        return all(w3.eth.get_code(c["address"]) not in (b"", None)
                   for c in [*self.contracts.values(), *self.retired_registries])

    def deployment(self, w3: Web3) -> Deployment:
        if not self.is_live_on(w3):
            raise ManifestError(f"the chain at hand (id {w3.eth.chain_id}) does not hold the manifest's contracts")
        contracts = {name: contract_at(w3, name, self.contracts[name]["address"]) for name in CONTRACT_NAMES}
        return Deployment(consortium=contracts["Consortium"], catalog=contracts["Catalog"],
                          registry=contracts["CertificateRegistry"], checkpoints=contracts["AuditCheckpoints"],
                          blocks={name: self.contracts[name]["block"] for name in CONTRACT_NAMES},
                          retired_registries=tuple((contract_at(w3, "CertificateRegistry", retired["address"]),
                                                    retired["block"]) for retired in self.retired_registries))

    def with_successor_registry(self, address: ChecksumAddress, block: int) -> Manifest:
        """This manifest after the upgrade to the registry at `address`: the current one is kept
        as retired, after those it replaced."""
        current = self.contracts["CertificateRegistry"]
        return replace(self, contracts={**self.contracts, "CertificateRegistry": {"address": address, "block": block}},
                       retired_registries=[*self.retired_registries, {**current, "successor": address}])

    @classmethod
    def of(cls, w3: Web3, deployment: Deployment, *, engine: str, rpc_url: str) -> Manifest:
        return cls(
            chain_id=w3.eth.chain_id,
            engine=engine,
            rpc_url=rpc_url,
            contracts={name: {"address": address, "block": deployment.blocks[name]}
                       for name, address in deployment.addresses.items()},
            artifacts=artifacts_source_hash(),
            crypto_suite=CRYPTO_SUITES[deployment.consortium.functions.cryptoSuite().call()],
        )


def contract_at(w3: Web3, name: str, address: ChecksumAddress) -> Contract:
    """A deployed CertNet contract by artifact name."""
    return w3.eth.contract(address=address, abi=load_artifact(name)["abi"])


def _deploy_one(w3: Web3, sender: Sender, deployer: ChecksumAddress, name: str, *args: Any) -> tuple[Contract, int]:
    artifact = load_artifact(name)
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = sender.transact(factory.constructor(*args), deployer, label=f"deploy {name}")
    return contract_at(w3, name, receipt["contractAddress"]), receipt["blockNumber"]


def deploy_contracts(w3: Web3, sender: Sender, deployer: ChecksumAddress, founders: Sequence[Founder],
                     quorum: int, crypto_suite: str = CRYPTO_SUITES[0]) -> Deployment:
    """Deploys Consortium (with its founders, quorum and crypto suite), Catalog, CertificateRegistry,
    AuditCheckpoints.

    The Consortium is told the registry's address before the registry exists, the deployer's third
    contract from here, so that it and the Catalog (which asks it) can make the registry forget
    issuance permits; the registry issues only while the consortium names it (checked below)."""
    registry_address = get_create_address(deployer, w3.eth.get_transaction_count(deployer, "pending") + 2)
    consortium, b1 = _deploy_one(w3, sender, deployer, "Consortium", [f.as_abi() for f in founders], quorum,
                                 CRYPTO_SUITES.index(crypto_suite), registry_address)
    catalog, b2 = _deploy_one(w3, sender, deployer, "Catalog", consortium.address)
    registry, b3 = _deploy_one(w3, sender, deployer, "CertificateRegistry", consortium.address, catalog.address,
                               ADDRESS_ZERO)
    if registry.address != registry_address or not registry.functions.isActive().call():
        raise DeploymentError(f"the registry was deployed at {registry.address}, not at {registry_address} "
                              "where the consortium expects it: another transaction of the deployer came between")
    checkpoints, b4 = _deploy_one(w3, sender, deployer, "AuditCheckpoints", consortium.address)
    return Deployment(
        consortium=consortium,
        catalog=catalog,
        registry=registry,
        checkpoints=checkpoints,
        blocks={"Consortium": b1, "Catalog": b2, "CertificateRegistry": b3, "AuditCheckpoints": b4},
    )


def deploy_successor_registry(w3: Web3, sender: Sender, deployer: ChecksumAddress,
                              deployment: Deployment) -> tuple[Contract, int]:
    """Deploys a registry that will replace the deployment's current one, on the same consortium and
    catalog. It anchors nothing until governance retires its predecessor in its favour
    (`retire_call`)."""
    return _deploy_one(w3, sender, deployer, "CertificateRegistry", deployment.consortium.address,
                       deployment.catalog.address, deployment.registry.address)


def retire_call(deployment: Deployment, successor: ChecksumAddress) -> Any:
    """The governance call that retires the current registry and hands over to `successor`."""
    return deployment.registry.functions.retire(successor)


def refuse_redeploy(w3: Web3, manifest_path: Path) -> None:
    """Raises `AlreadyDeployed` when the manifest's contracts are live on this chain."""
    if manifest_path.exists() and Manifest.load(manifest_path).is_live_on(w3):
        raise AlreadyDeployed(f"CertNet is already deployed on this chain ({manifest_path}); "
                              "pass --force to deploy a second copy")
