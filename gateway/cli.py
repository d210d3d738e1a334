"""The `certnet` console command: one entry point composing the chain-side, certificate and gateway commands."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import typer
import uvicorn
from rich.console import Console

from gateway.api.app import create_app
from gateway.auth import create_token
from gateway.certificates import cli as certificates_cli
from gateway.chain import CONNECTION_ERRORS
from gateway.errors import GatewayError
from gateway.service import Gateway
from gateway.settings import Settings
from ledger_node import cli as ledger_cli
from ledger_node.errors import LedgerError

console = Console()
app = typer.Typer(help="CertNet: anchor, share and audit electronic certificates on a consortium chain.",
                  no_args_is_help=True)
gateway_app = typer.Typer(help="The HTTP gateway: serve it, hand out development tokens.", no_args_is_help=True)
index_app = typer.Typer(help="The gateway's event index.", no_args_is_help=True)

HostOption = typer.Option("127.0.0.1", help="Interface to listen on.")
GatewayPort = typer.Option(8000, help="HTTP port.")


def _fail(error: Exception) -> NoReturn:
    typer.echo(f"error ({getattr(error, 'code', 'chain_unavailable')}): {error}", err=True)
    raise typer.Exit(code=1)


def _gateway(data_dir: Path) -> Gateway:
    try:
        return Gateway(Settings(data_dir=data_dir))
    except (GatewayError, LedgerError, *CONNECTION_ERRORS) as error:
        _fail(error)


@gateway_app.command("serve")
def serve_command(host: str = HostOption, port: int = GatewayPort, data_dir: Path = ledger_cli.DataDir) -> None:
    """Serve the gateway for the chain and deployment in --data-dir (settings: CERTNET_* / .env)."""
    uvicorn.run(create_app(_gateway(data_dir)), host=host, port=port, log_level="info")


@gateway_app.command("token")
def token_command(department: str = typer.Argument(..., help="Department code."),
                  label: str = typer.Option("", help="What the token is for."),
                  data_dir: Path = ledger_cli.DataDir) -> None:
    """Create a development API token for a department; prints it once (only its hash is kept)."""
    gateway = _gateway(data_dir)
    try:
        typer.echo(create_token(gateway.sessions, gateway.chain, department, label))
    except GatewayError as error:
        _fail(error)


@index_app.command("verify")
def index_verify_command(data_dir: Path = ledger_cli.DataDir) -> None:
    """Re-read the chain's events up to the indexed block and report every difference from the index."""
    gateway = _gateway(data_dir)
    differences = gateway.index.verify()
    for difference in differences:
        console.print(f"block {difference.block_number} log {difference.log_index}: {difference.problem}")
    if differences:
        typer.echo(f"error (index_differs): {len(differences)} events differ from the chain", err=True)
        raise typer.Exit(code=1)
    console.print(f"index matches the chain up to block {gateway.index.indexed_block()}")


@app.command("run")
def run_command(engine: str = ledger_cli.EngineOption, chain_port: int = typer.Option(8545, help="JSON-RPC port."),
                demo: str = ledger_cli.DemoSizeOption, host: str = HostOption, port: int = GatewayPort,
                data_dir: Path = ledger_cli.DataDir) -> None:
    """Local chain + demo consortium + gateway on http://HOST:PORT, until Ctrl-C (what `make run` does)."""
    with ledger_cli.local_devnet(engine, chain_port, demo, data_dir):
        console.print(f"gateway on http://{host}:{port} (API docs at /docs); Ctrl-C stops both")
        uvicorn.run(create_app(_gateway(data_dir)), host=host, port=port, log_level="warning")


ledger_cli.register(app)
certificates_cli.register(app)
app.add_typer(gateway_app, name="gateway")
app.add_typer(index_app, name="index")
