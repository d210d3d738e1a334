"""The `certnet` console command: one entry point composing the chain-side and gateway commands."""

from __future__ import annotations

import typer

from gateway.certificates import cli as certificates_cli
from ledger_node import cli as ledger_cli

app = typer.Typer(help="CertNet: anchor, share and audit electronic certificates on a consortium chain.",
                  no_args_is_help=True)
ledger_cli.register(app)
certificates_cli.register(app)
