"""One call that gives a developer a working consortium chain: deploy once, bootstrap a spec.

`make run` uses it through `certnet node run`; `certnet deploy` and `certnet bootstrap` are its
two halves for chains started separately (or external ones).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from web3 import Web3

from eth_account.signers.local import LocalAccount

from ledger_node.accounts import development_account
from ledger_node.bootstrap import bootstrap, department_account, founders_of
from ledger_node.deploy import Deployment, Manifest, deploy_contracts, refuse_redeploy
from ledger_node.sender import Sender
from ledger_node.spec import ConsortiumSpec

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
    deployment = deploy_contracts(w3, Sender(w3, [deployer]), deployer.address, founders_of(spec, accounts), spec.quorum)
    manifest = Manifest.of(w3, deployment, engine=engine, rpc_url=rpc_url)
    manifest.save(manifest_path)
    return manifest


def deploy_and_bootstrap(w3: Web3, spec: ConsortiumSpec, manifest_path: Path, *, engine: str, rpc_url: str,
                         progress_total: Callable[[int], None] = lambda total: None,
                         progress: Callable[[str], None] = lambda label: None) -> tuple[Manifest, bool, int]:
    """Deploys unless the manifest's contracts are already live, then brings the chain to the spec.

    Returns the manifest, whether it deployed, and how many bootstrap transactions it sent.
    """
    deployed = False
    if manifest_path.exists() and Manifest.load(manifest_path).is_live_on(w3):
        manifest = Manifest.load(manifest_path)
    else:
        manifest, deployed = deploy(w3, spec, manifest_path, engine=engine, rpc_url=rpc_url, force=True), True
    deployment: Deployment = manifest.deployment(w3)
    sent = bootstrap(w3, spec, deployment, progress_total=progress_total, progress=progress)
    return manifest, deployed, sent
