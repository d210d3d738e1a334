"""The `certnet` console command: one entry point composing the chain-side and gateway commands."""

from __future__ import annotations

import typer

from ledger_node.cli import contracts_app, node_app

app = typer.Typer(help="CertNet: anchor, share and audit electronic certificates on a consortium chain.",
                  no_args_is_help=True)
app.add_typer(contracts_app, name="contracts")
app.add_typer(node_app, name="node")
