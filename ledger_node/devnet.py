"""One call that gives a developer a working consortium chain: deploy once, bootstrap a spec.

`make run` uses it through `certnet node run`; `certnet deploy` and `certnet bootstrap` are its
two halves for chains started separately (or external ones). `Devnet` is the same on anvil, made
once as a template and copied for each use: what the tests and `scripts/soak.py` run a gateway on.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from stdnum.cn import ric
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.logs import DISCARD

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress

from ledger_node.accounts import dev_account, development_account
from ledger_node.bootstrap import bootstrap, department_account, founders_of, run_proposal
from ledger_node.compiler import artifacts_source_hash
from ledger_node.demo import DEPARTMENTS, demo_spec, department_code
from ledger_node.deploy import (Deployment, Manifest, deploy_contracts, deploy_successor_registry, refuse_redeploy,
                                retire_call)
from ledger_node.engines import ANVIL_STATE_FILE, LocalNode
from ledger_node.errors import LedgerError
from ledger_node.sender import Sender
from ledger_node.statekeeper import descendants
from ledger_node.spec import ConsortiumSpec, parse_spec
from ledger_node.transactions import transact
from ledger_node.types import CRYPTO_SUITES, PROPOSAL_LIFETIME

#: Index of the development-mnemonic account that deploys (departments use 1, 2, ...).
DEPLOYER_INDEX = 0


def deploy(w3: Web3, spec: ConsortiumSpec, manifest_path: Path, *, engine: str, rpc_url: str,
           force: bool = False, deployer: LocalAccount | None = None) -> Manifest:
    """Deploys with the spec's governors as founders and writes the manifest. The deployer pays for
    the deployment and holds no role after it; default: the development mnemonic's account 0."""
    if not force:
        refuse_redeploy(w3, manifest_path)
    chain_id = w3.eth.chain_id
    deployer = deployer or development_account(chain_id, DEPLOYER_INDEX)
    accounts = {code: department_account(spec.department(code), chain_id) for code in spec.governors}
    deployment = deploy_contracts(w3, Sender(w3, [deployer]), deployer.address, founders_of(spec, accounts), spec.quorum,
                                  spec.crypto_suite)
    manifest = Manifest.of(w3, deployment, engine=engine, rpc_url=rpc_url)
    manifest.save(manifest_path)
    return manifest


def upgrade_registry(w3: Web3, spec: ConsortiumSpec, manifest_path: Path, *,
                     deployer: LocalAccount | None = None) -> Manifest:
    """Replaces the manifest's registry by a successor (docs/contracts.md, "Upgrading"): deploys it on the
    same consortium and catalog, retires the current one in its favour by a proposal of the spec's
    governors (the successor anchors from that block on), and records both in the manifest, the
    retired one kept. The deployer pays for the deployment, as in `deploy`."""
    manifest = Manifest.load(manifest_path)
    deployment = manifest.deployment(w3)
    chain_id = w3.eth.chain_id
    deployer = deployer or development_account(chain_id, DEPLOYER_INDEX)
    successor, block = deploy_successor_registry(w3, Sender(w3, [deployer]), deployer.address, deployment)
    governors = {code: department_account(spec.department(code), chain_id) for code in spec.governors}
    run_proposal(deployment, Sender(w3, governors.values()), [account.address for account in governors.values()],
                 spec.quorum, [retire_call(deployment, successor.address)],
                 description=f"retire registry {deployment.registry.address} in favour of {successor.address}")
    upgraded = manifest.with_successor_registry(successor.address, block)
    upgraded.save(manifest_path)
    return upgraded


def deploy_and_bootstrap(w3: Web3, spec: ConsortiumSpec, manifest_path: Path, *, engine: str, rpc_url: str,
                         progress_total: Callable[[int], None] = lambda total: None,
                         progress: Callable[[str], None] = lambda label: None) -> tuple[Manifest, bool, int]:
    """Deploys unless the manifest's contracts are already live, then brings the chain to the spec.

    Returns the manifest, whether it deployed, and how many bootstrap transactions it sent. A deployment
    under another crypto suite than the spec's is refused (the suite is fixed at deployment), and so is one of
    contracts compiled from other sources (an earlier version's data directory).
    """
    deployed = False
    if manifest_path.exists() and Manifest.load(manifest_path).is_live_on(w3):
        manifest = Manifest.load(manifest_path)
        if manifest.crypto_suite != spec.crypto_suite:
            raise LedgerError(f"this chain's consortium was deployed under the {manifest.crypto_suite} crypto suite, "
                              f"which is fixed: run with --crypto {manifest.crypto_suite}, or use a new data directory "
                              f"for {spec.crypto_suite}")
        if manifest.artifacts != artifacts_source_hash():
            # Another version's contracts: this version's calls and events would not match them.
            raise LedgerError(f"this chain's contracts were deployed from other sources (artifacts "
                              f"{manifest.artifacts[:12]}, now {artifacts_source_hash()[:12]}): use a new data directory, "
                              f"or remove {manifest_path.parent}, to deploy this version's")
    else:
        manifest, deployed = deploy(w3, spec, manifest_path, engine=engine, rpc_url=rpc_url, force=True), True
    deployment: Deployment = manifest.deployment(w3)
    sent = bootstrap(w3, spec, deployment, progress_total=progress_total, progress=progress)
    return manifest, deployed, sent


# ----- a demo devnet on anvil, for tests and the soak script -----

#: Demo departments by their abbreviation (ledger_node.demo.DEPARTMENTS order: codes 1, 2, ...).
DEMO_DEPARTMENTS = {abbr: department_code(i + 1) for i, (abbr, *_rest) in enumerate(DEPARTMENTS[:8])}
MZ_MARRIAGE = "320100-MZ-001"  # a type only civil affairs (MZ) may issue
STATE_FILE = "anvil-state.hex"  # a devnet's saved chain state (anvil_dumpState)


def transactions_sent(w3: Web3, senders: Iterable[ChecksumAddress]) -> int:
    """How many transactions `senders` have sent, mined or waiting in the pool (their pending
    nonces): unlike the block number, it does not move when an empty block is mined."""
    return sum(w3.eth.get_transaction_count(sender, "pending") for sender in senders)


def demo_account(abbr: str) -> LocalAccount:
    """A demo department's key (the development mnemonic's account it was given)."""
    return dev_account(list(DEMO_DEPARTMENTS).index(abbr) + 1)


@dataclass
class Devnet:
    """An anvil chain with CertNet deployed and the default demo consortium bootstrapped."""

    node: LocalNode
    w3: Web3
    data_dir: Path

    @property
    def deployment(self) -> Deployment:
        return Manifest.load(self.data_dir / "manifest.json").deployment(self.w3)

    def transactions_sent(self) -> int:
        """Transactions sent by the deployer and every demo department's key (what a gateway may send with)."""
        return transactions_sent(self.w3, [dev_account(i).address for i in range(len(DEMO_DEPARTMENTS) + 1)])

    def stop_chain(self) -> None:
        """Saves the chain's state and stops it."""
        (self.data_dir / STATE_FILE).write_text(self.w3.provider.make_request("anvil_dumpState", [])["result"])
        self.node.stop()

    def restart_chain(self) -> None:
        """Starts the chain on its port from the state saved last. anvil reads it before it listens
        (`--state`): loading it by RPC after the start let a gateway polling the port see an empty
        chain for a moment, which made it fail operations it was preparing."""
        state_dir = self.data_dir / "anvil"
        state_dir.mkdir(exist_ok=True)
        dump = bytes.fromhex((self.data_dir / STATE_FILE).read_text().removeprefix("0x"))
        (state_dir / ANVIL_STATE_FILE).write_bytes(gzip.decompress(dump))
        self.start_chain()

    def kill_chain(self) -> None:
        """SIGKILL to the node and every process below it (anvil's state keeper, npm's wrapper, anvil):
        the chain keeps what the keeper saved last, at most a block behind."""
        if self.node.process is None:
            raise RuntimeError("the chain was not started")
        for pid in [self.node.process.pid, *descendants(self.node.process.pid)]:
            os.kill(pid, signal.SIGKILL)
        self.node.process.wait()

    def start_chain(self) -> None:
        """Starts anvil on the chain's port from the state file kept in the data dir."""
        self.node = LocalNode("anvil", port=self.node.port, state_dir=self.data_dir / "anvil")
        self.w3 = self.node.start()

    def mine_by_hand(self) -> None:
        """No more 1-second blocks: a block is mined only by `mine`, so a test decides when."""
        self.w3.provider.make_request("evm_setIntervalMining", [0])
        self.w3.provider.make_request("evm_setAutomine", [False])

    def mine(self, blocks: int = 1) -> None:
        for _ in range(blocks):
            self.w3.provider.make_request("evm_mine", [])

    def govern(self, *functions: ContractFunction) -> None:
        """Passes a proposal with the demo's two governors (GA proposes, which approves it; MZ approves)."""
        consortium = self.deployment.consortium
        calls = [(f.address, f._encode_transaction_data()) for f in functions]
        proposer, second = demo_account("GA").address, demo_account("MZ").address
        receipt = transact(consortium.functions.propose(calls, "test", PROPOSAL_LIFETIME), proposer)
        proposal = consortium.events.ProposalCreated().process_receipt(receipt, errors=DISCARD)[0]["args"]["proposalId"]
        transact(consortium.functions.approve(proposal), second)
        transact(consortium.functions.execute(proposal, calls), proposer)


def build_devnet_template(data_dir: Path, crypto_suite: str = CRYPTO_SUITES[0]) -> Path:
    """Deploys (under `crypto_suite`) and bootstraps the default demo on anvil once, and keeps the chain's state (from
    `anvil_dumpState`), manifest and schemas in `data_dir` for `start_devnet` to copy: bootstrapping
    takes 12 s of 1-second blocks, loading the state well under one. (anvil's own `--state` file,
    written as it exits, is sometimes cut short; the RPC dump is complete when it returns.)"""
    from ledger_node.cli import store_schemas  # the command-line module: heavy, and it imports this one

    node = LocalNode("anvil")
    w3 = node.start()
    spec = dataclasses.replace(parse_spec(demo_spec("default"), source="demo default"), crypto_suite=crypto_suite)
    store_schemas(spec, data_dir)
    deploy_and_bootstrap(w3, spec, data_dir / "manifest.json", engine="anvil", rpc_url=node.url)
    (data_dir / STATE_FILE).write_text(w3.provider.make_request("anvil_dumpState", [])["result"])
    node.stop()
    return data_dir


def start_devnet(data_dir: Path, template: Path) -> Devnet:
    """A devnet of its own in `data_dir` (which must not exist), from a `build_devnet_template` copy."""
    shutil.copytree(template, data_dir)
    devnet = Devnet(LocalNode("anvil"), Web3(), data_dir)
    devnet.restart_chain()
    if not Manifest.load(data_dir / "manifest.json").is_live_on(devnet.w3):
        raise RuntimeError(f"the template's deployment is not on the chain started from {data_dir}")
    return devnet


def citizen_id(serial: int) -> str:
    """A well-formed GB 11643 number (born 1990-01-01 in Nanjing's Xuanwu district), one per serial 0-999."""
    body = f"32010219900101{serial:03d}"
    return "RIC:" + body + ric.calc_check_digit(body + "0")
