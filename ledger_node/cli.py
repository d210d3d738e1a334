"""The chain-side commands of `certnet`: contracts, local nodes, deployment, bootstrap. They raise
`LedgerError`s; the `certnet` root command (gateway/cli.py) turns any error into one line and exit code 1.

web3, eth-account, solcx and the modules built on them are imported inside the commands that use
them: every `certnet` call, even `--help`, imports this module (tests/test_cli.py holds it to that).
"""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from pathlib import Path
from contextlib import contextmanager
from typing import TYPE_CHECKING, Callable, Iterator, Optional, Sequence, TypeVar

import typer
from rich.console import Console

from ledger_node import compiler
from ledger_node.demo import SIZES, demo_spec
from ledger_node.engines import (LOCAL_ENGINES, EngineError, LocalNode, connect, ensure_can_listen, is_running,
                                 read_node, refuse_second_node, remove_node_record, start_node, stop_node,
                                 write_node_record)
from ledger_node.errors import LedgerError
from ledger_node.types import CRYPTO_SUITES

if TYPE_CHECKING:
    from ledger_node.spec import ConsortiumSpec

console = Console()
T = TypeVar("T")
contracts_app = typer.Typer(help="Compile the Solidity contracts and check the shipped artifacts.", no_args_is_help=True)
node_app = typer.Typer(help="Run and inspect local consortium chains.", no_args_is_help=True)

DataDir = typer.Option(Path(os.environ.get("CERTNET_DATA_DIR", ".certnet")), "--data-dir",
                       help="Where node state, logs and the deployment manifest live (env CERTNET_DATA_DIR).")
RpcUrl = typer.Option(None, "--rpc", help="JSON-RPC URL of the chain; default: the node started in --data-dir.")
SpecOption = typer.Option(None, "--spec", help="Bootstrap spec (YAML).")
DemoOption = typer.Option(None, "--demo", help=f"A generated demo consortium instead of a spec: {', '.join(SIZES)}.")
CryptoOption = typer.Option(None, "--crypto", help=f"Crypto suite of a new deployment: {', '.join(CRYPTO_SUITES)} "
                            "(default: the spec's `crypto_suite`, else secp256k1-keccak).")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _spec(spec_path: Optional[Path], demo: Optional[str], crypto: Optional[str] = None) -> ConsortiumSpec:
    """The spec of a file or a demo size, with `crypto` (`--crypto`) as its crypto suite when given."""
    from ledger_node.spec import load_spec, parse_spec

    if (spec_path is None) == (demo is None):
        raise LedgerError("give exactly one of --spec FILE or --demo SIZE")
    if crypto is not None and crypto not in CRYPTO_SUITES:
        raise LedgerError(f"unknown crypto suite {crypto!r}; choose one of {', '.join(CRYPTO_SUITES)}")
    if demo is not None:
        if demo not in SIZES:
            raise LedgerError(f"unknown demo size {demo!r}; choose one of {', '.join(SIZES)}")
        spec = parse_spec(demo_spec(demo), source=f"demo {demo}")
    else:
        spec = load_spec(spec_path)
    return dataclasses.replace(spec, crypto_suite=crypto) if crypto is not None else spec


def chain_endpoint(data_dir: Path, rpc: Optional[str]) -> tuple[str, str]:
    """(rpc url, engine name) of the chain to talk to."""
    if rpc:
        return rpc, "external"
    record = read_node(data_dir)
    if record is None or not is_running(record):
        raise EngineError(f"no node runs from {data_dir}: start one with `certnet node start` or pass --rpc URL")
    return record.url, record.engine


def store_schemas(spec: ConsortiumSpec, data_dir: Path) -> None:
    """Keeps the spec's type schemas where `certnet cert new` finds them by their catalog hash."""
    from ledger_node.schemas import SchemaStore

    store = SchemaStore(data_dir / "schemas")
    for certificate_type in spec.types:
        store.put(certificate_type.schema)


def _with_progress(run: Callable[[Callable[[int], None], Callable[[str], None]], T]) -> T:
    """Runs `run(set_total, advance)` under a progress bar of transactions mined."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as progress:
        task = progress.add_task("bootstrap", total=None)
        return run(lambda total: progress.update(task, total=total),
                   lambda label: progress.update(task, advance=1, description=f"bootstrap: {label[:40]:<40}"))


# ----- contracts -----


@contracts_app.command("compile")
def compile_command() -> None:
    """Compile contracts/ with the pinned solc and write the artifacts the package ships."""
    artifacts = compiler.compile_contracts()
    compiler.write_artifacts(artifacts)
    for name, artifact in sorted(artifacts.items()):
        size = (len(artifact["deployedBytecode"]) - 2) // 2
        console.print(f"{name:<22} {size:>6} bytes deployed")
    console.print(f"artifacts written to {compiler.ARTIFACTS_DIR}")


@contracts_app.command("check")
def check_command() -> None:
    """Exit non-zero if the shipped artifacts are stale against contracts/."""
    compiler.check_artifacts()
    console.print("artifacts are up to date")


@contracts_app.command("upgrade")
def upgrade_command(
    spec_path: Optional[Path] = SpecOption,
    demo: Optional[str] = DemoOption,
    rpc: Optional[str] = RpcUrl,
    data_dir: Path = DataDir,
    keystore: Optional[Path] = typer.Option(None, "--keystore", help="Encrypted key file of the deployer "
                                            "(passphrase: CERTNET_KEY_PASSPHRASE[_FILE]); needed outside "
                                            "development chains."),
) -> None:
    """Replace the certificate registry by a successor: deploy it, retire the current one in its favour
    by a proposal of the spec's governors, and record both in the manifest (restart the gateways then)."""
    from ledger_node.accounts import load_keystore, passphrase_from_env
    from ledger_node.devnet import upgrade_registry

    spec = _spec(spec_path, demo)
    url, _engine = chain_endpoint(data_dir, rpc)
    deployer = load_keystore(keystore, passphrase_from_env()) if keystore else None
    manifest = upgrade_registry(connect(url), spec, data_dir / "manifest.json", deployer=deployer)
    for retired in manifest.retired_registries:
        console.print(f"retired registry     {retired['address']}  block {retired['block']}")
    current = manifest.contracts["CertificateRegistry"]
    console.print(f"CertificateRegistry  {current['address']}  block {current['block']} (anchors from now on)")
    console.print(f"manifest written to {data_dir / 'manifest.json'}; restart the gateways to follow it")


# ----- nodes -----


@node_app.command("start")
def node_start(
    engine: str = typer.Option("ganache", help=f"One of {', '.join(LOCAL_ENGINES)}."),
    port: int = typer.Option(0, min=0, max=65535, help="JSON-RPC port on 127.0.0.1; 0 picks a free one."),
    data_dir: Path = DataDir,
) -> None:
    """Start a local chain in the background; its state is kept in --data-dir."""
    record = start_node(data_dir, engine, port or None)
    console.print(f"{record.engine} runs on {record.url} (pid {record.pid}); log: {record.log}")


@node_app.command("stop")
def node_stop(data_dir: Path = DataDir) -> None:
    """Stop the chain started from --data-dir (by `node start` or `certnet run`), and nothing else."""
    recorded = read_node(data_dir)
    if recorded is not None and not is_running(recorded):
        stop_node(data_dir)
        console.print(f"the {recorded.engine} node started from {data_dir} (pid {recorded.pid}) no longer ran; "
                      "its record is removed")
        return
    record = stop_node(data_dir)
    runner = f" and the `certnet run` (pid {record.owner}) that kept it" if record.owner else ""
    console.print(f"stopped {record.engine} (pid {record.pid}){runner}; its state stays in {data_dir / record.engine}")


@node_app.command("logs")
def node_logs(data_dir: Path = DataDir,
              lines: int = typer.Option(40, min=1, max=100_000, help="How many last lines.")) -> None:
    """Print the end of the node's log."""
    record = read_node(data_dir)
    if record is None:
        raise EngineError(f"no node was started from {data_dir}")
    try:
        text = Path(record.log).read_text(errors="replace").splitlines()
    except OSError as error:
        raise EngineError(f"cannot read the node's log {record.log}: {error.strerror}") from None
    typer.echo("\n".join(text[-lines:]))


@node_app.command("status")
def node_status(data_dir: Path = DataDir, rpc: Optional[str] = RpcUrl) -> None:
    """Engine, chain id, block height, peers, deployment and consortium size."""
    from ledger_node.chainstate import read_chain_state
    from ledger_node.deploy import Manifest

    url, engine = chain_endpoint(data_dir, rpc)
    w3 = connect(url)
    console.print(f"engine       {engine}  {url}")
    console.print(f"chain id     {w3.eth.chain_id}")
    console.print(f"block        {w3.eth.block_number}")
    try:
        console.print(f"peers        {w3.net.peer_count}")
    except Exception:  # local dev engines do not implement net_peerCount
        console.print("peers        n/a (engine has no peers)")
    manifest_path = data_dir / "manifest.json"
    if not manifest_path.exists():
        console.print("deployment   none (run `certnet deploy`)")
        return
    manifest = Manifest.load(manifest_path)
    if not manifest.is_live_on(w3):
        console.print(f"deployment   {manifest_path} does not match this chain")
        return
    for name, contract in manifest.contracts.items():
        console.print(f"  {name:<20} {contract['address']}  block {contract['block']}")
    for retired in manifest.retired_registries:
        console.print(f"  {'retired registry':<20} {retired['address']}  block {retired['block']}, "
                      f"succeeded by {retired['successor']}")
    deployment = manifest.deployment(w3)
    state = read_chain_state(w3, deployment)
    console.print(f"consortium   {len(state.departments)} departments, {len(state.types)} certificate types, "
                  f"{len(state.service_items)} service items, quorum {deployment.consortium.functions.quorum().call()}")


@contextmanager
def local_devnet(engine: str, port: int, demo: str, data_dir: Path,
                 listens: Sequence[tuple[str, int, str]] = (), crypto: Optional[str] = None) -> Iterator[LocalNode]:
    """A local chain in the foreground with CertNet deployed once (under the `crypto` suite) and the demo
    consortium bootstrapped; recorded in `data_dir` while it runs, stopped (state kept) on exit.

    Before anything starts it refuses a data directory whose chain already runs, and a chain port or
    any of `listens` (host, port, what: the gateway's address) that is taken.
    """
    from ledger_node.devnet import deploy_and_bootstrap

    refuse_second_node(data_dir)
    ensure_can_listen("127.0.0.1", port, "chain")
    for host, other_port, what in listens:
        ensure_can_listen(host, other_port, what)
    node = LocalNode(engine, port=port, state_dir=data_dir / engine)
    signal.signal(signal.SIGTERM, _interrupt)  # `node stop` or a supervisor's SIGTERM stops as cleanly as Ctrl-C
    try:
        spec = _spec(None, demo, crypto)
        store_schemas(spec, data_dir)
        log_path = _log_path(data_dir, engine)
        w3 = node.start(log_path=log_path)
        # other `certnet` commands find it while it runs; `node stop` asks this process to stop
        write_node_record(data_dir, node.record(log_path, owner=os.getpid()))
        manifest, deployed, sent = _with_progress(lambda total, advance: deploy_and_bootstrap(
            w3, spec, data_dir / "manifest.json", engine=engine, rpc_url=node.url,
            progress_total=total, progress=advance))
    except LedgerError:
        _stop_foreground(node, data_dir)
        raise
    except KeyboardInterrupt:
        _stop_foreground(node, data_dir)
        raise typer.Exit(code=130) from None
    console.print(f"{'deployed' if deployed else 'reusing'} CertNet on {node.url} (chain id {manifest.chain_id}, "
                  f"crypto suite {manifest.crypto_suite}); bootstrap sent {sent} transactions")
    for name, contract in manifest.contracts.items():
        console.print(f"  {name:<20} {contract['address']}  block {contract['block']}")
    console.print(f"manifest: {data_dir / 'manifest.json'}")
    try:
        yield node
    except KeyboardInterrupt:
        pass
    finally:
        _stop_foreground(node, data_dir)


EngineOption = typer.Option("ganache", help=f"One of {', '.join(LOCAL_ENGINES)}.")
PortOption = typer.Option(8545, min=1, max=65535, help="JSON-RPC port on 127.0.0.1.")
DemoSizeOption = typer.Option("default", help=f"Demo consortium to bootstrap: {', '.join(SIZES)}.")


@node_app.command("run")
def node_run(engine: str = EngineOption, port: int = PortOption, demo: str = DemoSizeOption,
             data_dir: Path = DataDir, crypto: Optional[str] = CryptoOption) -> None:
    """Start a chain in the foreground, deploy once, bootstrap the demo consortium, serve until Ctrl-C."""
    with local_devnet(engine, port, demo, data_dir, crypto=crypto) as node:
        console.print("Ctrl-C stops the chain (its state is kept)")
        node.process.wait()


def _stop_foreground(node: LocalNode, data_dir: Path) -> None:
    node.stop()
    if node.process is not None:
        remove_node_record(data_dir, node.process.pid)


def _log_path(data_dir: Path, engine: str) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    return data_dir / f"{engine}.log"


# ----- deployment and bootstrap (top-level commands) -----


def deploy_command(
    spec_path: Optional[Path] = SpecOption,
    demo: Optional[str] = DemoOption,
    rpc: Optional[str] = RpcUrl,
    data_dir: Path = DataDir,
    force: bool = typer.Option(False, "--force", help="Deploy again even if this chain has CertNet already."),
    crypto: Optional[str] = CryptoOption,
    keystore: Optional[Path] = typer.Option(None, "--keystore", help="Encrypted key file of the deployer "
                                            "(passphrase: CERTNET_KEY_PASSPHRASE[_FILE]); needed outside "
                                            "development chains."),
) -> None:
    """Deploy the contracts with the spec's governors and write the deployment manifest."""
    from ledger_node.accounts import load_keystore, passphrase_from_env
    from ledger_node.devnet import deploy

    spec = _spec(spec_path, demo, crypto)
    url, engine = chain_endpoint(data_dir, rpc)
    deployer = load_keystore(keystore, passphrase_from_env()) if keystore else None
    manifest = deploy(connect(url), spec, data_dir / "manifest.json", engine=engine, rpc_url=url, force=force,
                      deployer=deployer)
    for name, contract in manifest.contracts.items():
        console.print(f"{name:<20} {contract['address']}  block {contract['block']}")
    console.print(f"manifest written to {data_dir / 'manifest.json'}")


def bootstrap_command(
    spec_path: Optional[Path] = typer.Argument(None, help="Bootstrap spec (YAML)."),
    demo: Optional[str] = DemoOption,
    rpc: Optional[str] = RpcUrl,
    data_dir: Path = DataDir,
) -> None:
    """Bring the chain to a spec: admit departments, register types and service items, anchor catalogs.

    Only the difference between the spec and the chain is sent; an invalid spec sends nothing.
    """
    from ledger_node.bootstrap import bootstrap
    from ledger_node.deploy import Manifest

    spec = _spec(spec_path, demo)
    url, engine = chain_endpoint(data_dir, rpc)
    w3 = connect(url)
    deployment = Manifest.load(data_dir / "manifest.json").deployment(w3)  # never deploys implicitly
    store_schemas(spec, data_dir)
    started = time.monotonic()
    sent = _with_progress(lambda total, advance: bootstrap(w3, spec, deployment, progress_total=total,
                                                           progress=advance))
    console.print(f"sent {sent} transactions in {time.monotonic() - started:.1f} s" if sent
                  else "the chain already matches the spec; nothing sent")


def demo_spec_command(
    size: str = typer.Option("default", help=f"One of {', '.join(SIZES)}."),
    seed: int = typer.Option(20261124, help="Generator seed; the same seed gives the same spec."),
) -> None:
    """Print a generated demo consortium as a bootstrap spec (YAML)."""
    import yaml

    if size not in SIZES:
        raise LedgerError(f"unknown demo size {size!r}; choose one of {', '.join(SIZES)}")
    typer.echo(yaml.safe_dump(demo_spec(size, seed=seed), allow_unicode=True, sort_keys=False))


keys_app = typer.Typer(help="Department signing keys in encrypted keystore files.", no_args_is_help=True)


@keys_app.command("new")
def keys_new(path: Path = typer.Argument(..., help="Keystore file to create (never overwritten).")) -> None:
    """Create a key encrypted with the passphrase from CERTNET_KEY_PASSPHRASE(_FILE); print its address."""
    from ledger_node.accounts import create_keystore, passphrase_from_env

    passphrase = passphrase_from_env()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    account = create_keystore(path, passphrase)
    console.print(f"{account.address} -> {path} (put `keystore: {path}` on the department in the spec)")


network_app = typer.Typer(help="A Hyperledger Besu QBFT network for the consortium: write its files, lint them "
                               "(docs/deployment.md).", no_args_is_help=True)


@network_app.command("init")
def network_init(
    out: Path = typer.Option(..., "--out", help="New (or empty) directory for the kit; keys are never overwritten."),
    spec_path: Path = typer.Option(..., "--spec", help="Bootstrap spec (YAML): its departments' keystores give the "
                                   "accounts to allow-list."),
    deployer: Path = typer.Option(..., "--deployer", help="Keystore of the account that deploys the contracts "
                                  "(`certnet keys new`); allow-listed too."),
    validators: int = typer.Option(4, "--validators", help="QBFT validators (4 to 31)."),
    rpc_nodes: int = typer.Option(1, "--rpc-nodes", help="Non-validating nodes the gateways send to (1 to 16)."),
    chain_id: Optional[int] = typer.Option(None, "--chain-id", help="A private chain id; default 320100."),
    block_period: Optional[int] = typer.Option(None, "--block-period", help="Seconds between blocks; default 2."),
    request_timeout: Optional[int] = typer.Option(None, "--request-timeout",
                                                  help="QBFT round timeout in seconds, at least 2 × the period "
                                                       "(the default)."),
    subnet: Optional[str] = typer.Option(None, "--subnet", help="The compose network's private subnet; default "
                                         "172.16.239.0/24."),
) -> None:
    """Write a Besu QBFT network: genesis, node keys and configs, permissions, docker-compose."""
    from ledger_node.network import QbftParameters, init_network
    from ledger_node.spec import load_spec

    qbft = QbftParameters(**_given(block_period_seconds=block_period, request_timeout_seconds=request_timeout))
    keyed = init_network(out, spec=load_spec(spec_path), deployer_keystore=deployer, validators=validators,
                         rpc_nodes=rpc_nodes, qbft=qbft, **_given(chain_id=chain_id, subnet=subnet))
    for node, key in keyed:
        typer.echo(f"{node.name:<14} {key.address}  {key.enode(node.ip)}")
    console.print(f"written to {out}; next: `certnet network check {out}`, then `docker compose up -d` in it")


def _given(**options: object) -> dict[str, object]:
    """The options given on the command line: the others keep the defaults of the function they are passed to."""
    return {name: value for name, value in options.items() if value is not None}


@network_app.command("check")
def network_check(
    directory: Path = typer.Argument(..., help="A directory written by `certnet network init`."),
    spec_path: Optional[Path] = typer.Option(None, "--spec", help="Check the accounts of this spec's departments "
                                             "(and the recorded deployer) instead of those recorded at init."),
) -> None:
    """Lint a network kit: validators, timeouts, chain id, extraData, keys, allow-lists, free gas."""
    from ledger_node.network import NetworkCheckFailed, check_network
    from ledger_node.spec import load_spec

    checks = check_network(directory, spec=load_spec(spec_path) if spec_path is not None else None)
    for check in checks:
        typer.echo(f"{'FAIL' if check.problems else 'ok':<5}{check.name:<23}{check.description}")
    if any(check.problems for check in checks):
        raise NetworkCheckFailed(checks)


def register(app: typer.Typer) -> None:
    """Adds the chain-side commands to the `certnet` root command."""
    app.add_typer(contracts_app, name="contracts")
    app.add_typer(node_app, name="node")
    app.add_typer(keys_app, name="keys")
    app.add_typer(network_app, name="network")
    app.command("deploy")(deploy_command)
    app.command("bootstrap")(bootstrap_command)
    app.command("demo-spec")(demo_spec_command)
