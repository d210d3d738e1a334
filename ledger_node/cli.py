"""`certnet contracts ...`: the chain-side commands."""

from __future__ import annotations

import typer
from rich.console import Console

import signal
from pathlib import Path

from ledger_node import compiler
from ledger_node.devnet import run_devnet
from ledger_node.errors import LedgerError

contracts_app = typer.Typer(help="Compile the Solidity contracts and check the shipped artifacts.", no_args_is_help=True)
console = Console()


def fail(error: LedgerError) -> None:
    """One line on stderr saying what is wrong, and a non-zero exit."""
    typer.echo(f"error ({error.code}): {error}", err=True)
    raise typer.Exit(code=1)


@contracts_app.command("compile")
def compile_command() -> None:
    """Compile contracts/ with the pinned solc and write the artifacts the package ships."""
    try:
        artifacts = compiler.compile_contracts()
    except LedgerError as error:
        fail(error)
    compiler.write_artifacts(artifacts)
    for name, artifact in sorted(artifacts.items()):
        size = (len(artifact["deployedBytecode"]) - 2) // 2
        console.print(f"{name:<22} {size:>6} bytes deployed")
    console.print(f"artifacts written to {compiler.ARTIFACTS_DIR}")


@contracts_app.command("check")
def check_command() -> None:
    """Exit non-zero if the shipped artifacts are stale against contracts/."""
    try:
        compiler.check_artifacts()
    except LedgerError as error:
        fail(error)
    console.print("artifacts are up to date")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


node_app = typer.Typer(help="Run a local consortium chain.", no_args_is_help=True)


@node_app.command("run")
def node_run(
    data_dir: Path = typer.Option(Path(".certnet"), help="Where the chain state and manifest live."),
    port: int = typer.Option(8545, help="JSON-RPC port on 127.0.0.1."),
) -> None:
    """Start ganache, deploy and bootstrap the demo consortium once, and serve until Ctrl-C."""
    try:
        node, manifest, deployed = run_devnet(data_dir, port)
    except LedgerError as error:
        fail(error)
    console.print(f"{'deployed' if deployed else 'reusing'} CertNet on {node.url} (chain id {manifest['chainId']})")
    for name, contract in manifest["contracts"].items():
        console.print(f"  {name:<20} {contract['address']}  block {contract['block']}")
    console.print(f"manifest: {data_dir / 'manifest.json'} - Ctrl-C stops the chain (its state is kept)")
    # SIGTERM (e.g. from a supervisor) stops the chain as cleanly as Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        node.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        node.stop()
