"""Compiles `contracts/` into the ABI + bytecode artifacts that the Python package ships.

The compiler is the pinned npm `solc` (solcjs) behind `scripts/solc.js`, a stand-in with the
command line py-solc-x expects; a native `solc` of exactly the pinned version is used instead
when one is on PATH. Both give the same bytecode for the same input. Artifacts carry a hash of
the inputs (sources, compiler version, OpenZeppelin version, settings) so a stale set is
detected without Node.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from ledger_node.errors import ArtifactsStale, CompilerUnavailable

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONTRACTS_DIR = PROJECT_ROOT / "contracts"
ARTIFACTS_DIR = Path(__file__).resolve().parent / "artifacts"
BUILD_INFO = ARTIFACTS_DIR / "build-info.json"
STANDIN = PROJECT_ROOT / "scripts" / "solc.js"

#: The contracts that get an artifact; the rest of `contracts/` are interfaces and bases.
DEPLOYABLE = ("Consortium", "Catalog", "CertificateRegistry", "AuditCheckpoints")

#: `paris` (no PUSH0) so the bytecode runs on ganache and on consortium chains (Besu, GoQuorum)
#: that have not adopted Shanghai. `viaIR`: the IR pipeline inlines the small internal functions of
#: issuance and dispatches with fewer comparisons (`issue` 180 gas cheaper; docs/gas.md).
SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 200},
    "viaIR": True,
    "evmVersion": "paris",
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
}


def pinned_versions() -> dict[str, str]:
    """The solc and OpenZeppelin versions that package.json pins."""
    dev = json.loads((PROJECT_ROOT / "package.json").read_text())["devDependencies"]
    return {"solc": dev["solc"], "openzeppelin": dev["@openzeppelin/contracts"]}


def source_files() -> dict[str, str]:
    """Every Solidity source under `contracts/`, keyed by its path relative to the project."""
    return {
        path.relative_to(PROJECT_ROOT).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(CONTRACTS_DIR.rglob("*.sol"))
    }


def source_hash() -> str:
    """SHA-256 over everything that determines the bytecode."""
    material = {"sources": source_files(), "versions": pinned_versions(), "settings": SETTINGS}
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def find_compiler() -> Path:
    """A native `solc` of the pinned version if present, else the solcjs stand-in."""
    pinned = pinned_versions()["solc"]
    native = shutil.which("solc")
    if native:
        version = subprocess.run([native, "--version"], capture_output=True, text=True).stdout
        if f"Version: {pinned}+" in version:
            return Path(native)
    if shutil.which("node") is None:
        raise CompilerUnavailable("no native solc %s and no node to run scripts/solc.js" % pinned)
    if not (PROJECT_ROOT / "node_modules" / "solc").is_dir():
        raise CompilerUnavailable("npm package solc is not installed: run `npm ci`")
    return STANDIN


def compile_contracts() -> dict[str, dict[str, Any]]:
    """Compiles the sources and returns one artifact per deployable contract."""
    sources = source_files()
    import solcx  # here, not at the top: `certnet` imports this module for every command

    output = solcx.compile_standard(
        {
            "language": "Solidity",
            "sources": {path: {"content": text} for path, text in sources.items()},
            "settings": SETTINGS,
        },
        solc_binary=find_compiler(),
        base_path=PROJECT_ROOT,
    )
    artifacts = {}
    for path, contracts in output["contracts"].items():
        for name, compiled in contracts.items():
            if name in DEPLOYABLE and path == f"contracts/{name}.sol":
                artifacts[name] = {
                    "contractName": name,
                    "sourceName": path,
                    "abi": compiled["abi"],
                    "bytecode": "0x" + compiled["evm"]["bytecode"]["object"],
                    "deployedBytecode": "0x" + compiled["evm"]["deployedBytecode"]["object"],
                }
    return artifacts


def write_artifacts(artifacts: dict[str, dict[str, Any]]) -> None:
    """Replaces the shipped artifacts and records what they were built from."""
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    for name, artifact in artifacts.items():
        (ARTIFACTS_DIR / f"{name}.json").write_text(json.dumps(artifact, indent=1) + "\n")
    build_info = {
        "sourceHash": source_hash(),
        **pinned_versions(),
        "settings": SETTINGS,
        "contracts": {
            name: hashlib.sha256(artifact["bytecode"].encode()).hexdigest() for name, artifact in artifacts.items()
        },
    }
    BUILD_INFO.write_text(json.dumps(build_info, indent=1, sort_keys=True) + "\n")


def artifacts_source_hash() -> str:
    """The source hash the shipped artifacts were compiled from (what a manifest records of its deployment)."""
    return json.loads(BUILD_INFO.read_text())["sourceHash"]


def check_artifacts() -> None:
    """Raises `ArtifactsStale` unless the shipped artifacts match the current sources."""
    if not BUILD_INFO.exists():
        raise ArtifactsStale("no artifacts: run `certnet contracts compile`")
    recorded = artifacts_source_hash()
    if recorded != source_hash():
        raise ArtifactsStale("contracts changed since the artifacts were built: run `certnet contracts compile`")
