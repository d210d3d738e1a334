"""The `certnet` console command: one entry point composing the chain-side, certificate and gateway commands.

Only typer, rich and the exception trees are imported here at start: FastAPI, SQLAlchemy, web3 and the
gateway's services are imported inside the commands that use them, so that `certnet --help` and the light
commands answer at once (tests/test_cli.py holds the command to that).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NoReturn, Optional

import typer
from rich.console import Console
from typer.core import TyperGroup

from gateway.certificates import cli as certificates_cli
from gateway.errors import GatewayError, InvalidInput
from ledger_node import cli as ledger_cli
from ledger_node.engines import ensure_can_listen
from ledger_node.errors import LedgerError

if TYPE_CHECKING:
    from gateway.service import Gateway


class OneLineErrors(TyperGroup):
    """The root command: whatever a command raises ends as one line on stderr and exit code 1, never
    as a traceback. Typer's own outcomes (help, usage errors, exit codes, a broken pipe) pass through."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.TyperException, typer.Exit, typer.Abort, BrokenPipeError):
            raise
        except (GatewayError, LedgerError) as error:
            _say(f"error ({error.code}): {error}")
        except OSError as error:  # files and sockets, and the chain's HTTP client: its errors are OSErrors too
            import requests

            _say(f"error ({'chain_unavailable' if isinstance(error, requests.RequestException) else 'os_error'}): "
                 f"{error}")
        except Exception as error:  # a defect: still one line, naming what went wrong
            _say(f"error (unexpected): {type(error).__name__}: {error}")
        raise typer.Exit(code=1)


def _say(line: str) -> None:
    typer.echo(" ".join(line.split()), err=True)


console = Console()
app = typer.Typer(help="CertNet: anchor, share and audit electronic certificates on a consortium chain.",
                  no_args_is_help=True, cls=OneLineErrors)
gateway_app = typer.Typer(help="The HTTP gateway: serve it, hand out development tokens.", no_args_is_help=True)
index_app = typer.Typer(help="The gateway's event index.", no_args_is_help=True)
audit_app = typer.Typer(help="The access log: check it against the chain, export it.", no_args_is_help=True)
outbox_app = typer.Typer(help="The queue of chain operations: what waits, and reconciling it with the chain.",
                         no_args_is_help=True)
db_app = typer.Typer(help="The gateway database's schema: upgrade it, show its revision and the revisions.",
                     no_args_is_help=True)
console_app = typer.Typer(help="The auditors' web console (/audit): sign-in links signed by a department's key.",
                          no_args_is_help=True)
holder_app = typer.Typer(help="What a holder's device does (for development): make a P-256 key, sign consents and "
                              "withdrawals. Prints JSON request bodies for the gateway.", no_args_is_help=True)

#: A consent starts this long before it is signed, so that a gateway whose clock is behind honours it at once.
CLOCK_SKEW = dt.timedelta(minutes=1)
HostOption = typer.Option("127.0.0.1", help="Interface to listen on.")
#: Idle HTTP connections are kept longer than clients keep theirs (httpx and most pools: 5 s), so that the
#: client always closes first: a server closing one just as the client reuses it fails that request (the
#: soak saw one ReadError in 35 325 requests with uvicorn's 5 s default).
KEEP_ALIVE_SECONDS = 75
GatewayPort = typer.Option(8000, min=1, max=65535, help="HTTP port.")


def _fail(error: Exception) -> NoReturn:
    typer.echo(f"error ({getattr(error, 'code', 'chain_unavailable')}): {error}", err=True)
    raise typer.Exit(code=1)


def _gateway(data_dir: Path) -> Gateway:
    from gateway.chain import CONNECTION_ERRORS
    from gateway.service import Gateway
    from gateway.settings import Settings

    try:
        return Gateway(Settings.load(data_dir=data_dir))
    except (GatewayError, LedgerError, *CONNECTION_ERRORS) as error:
        _fail(error)


def _report(problems: list[str], error: str, intact: str) -> None:
    """Prints every problem and exits 1 with the one-line `error`, or prints `intact`; plain lines,
    neither wrapped nor read as markup (a problem may quote any text found in the database)."""
    for problem in problems:
        typer.echo(problem)
    if problems:
        typer.echo(error, err=True)
        raise typer.Exit(code=1)
    typer.echo(intact)


def _serve(data_dir: Path, host: str, port: int, *, log_level: str, workers: int = 1) -> None:
    """The gateway of `data_dir` served by uvicorn with httptools and uvloop, dependencies of the package
    (uvicorn's "auto" takes them when they are installed, else h11 and asyncio's loop: uvloop does not
    exist on Windows). With several `workers`, each is a process with a gateway of its own, sharing the
    database (PostgreSQL only: `Gateway.claim` refuses SQLite before anything starts). Logs go through
    `gateway.logs` (uvicorn's access log, which writes raw paths, stays off); on SIGTERM requests in flight
    get CERTNET_SHUTDOWN_GRACE_SECONDS to finish before the app's shutdown stops the gateway."""
    import logging

    import uvicorn

    from gateway.api.app import create_app
    from gateway.logs import logging_config

    gateway = _gateway(data_dir)
    try:
        gateway.claim(processes=workers)
    except GatewayError as error:
        _fail(error)
    settings = gateway.settings
    logging.captureWarnings(True)  # a library's warning, too, is a line of the log's format
    options: dict[str, Any] = {"host": host, "port": port, "log_level": log_level,
                               "timeout_keep_alive": KEEP_ALIVE_SECONDS, "access_log": False,
                               "log_config": logging_config(settings.log_format, log_level),
                               "timeout_graceful_shutdown": settings.shutdown_grace_seconds}
    if workers == 1:
        uvicorn.run(create_app(gateway), **options)
        return
    gateway.stop()  # each worker builds its own from the same settings
    os.environ["CERTNET_DATA_DIR"] = str(data_dir)
    uvicorn.run("gateway.api.app:app_from_environment", factory=True, workers=workers, **options)


@gateway_app.command("serve")
def serve_command(host: str = HostOption, port: int = GatewayPort, data_dir: Path = ledger_cli.DataDir,
                  workers: int = typer.Option(1, min=1, max=64, help="Processes serving on the port (PostgreSQL "
                                                                    "only; background duties run in one of them at a "
                                                                    "time).")) -> None:
    """Serve the gateway for the chain and deployment in --data-dir (settings: CERTNET_* / .env)."""
    ensure_can_listen(host, port, "gateway")
    _serve(data_dir, host, port, log_level="info", workers=workers)


@gateway_app.command("token")
def token_command(department: str = typer.Argument(..., help="Department code."),
                  label: str = typer.Option("", help="What the token is for."),
                  data_dir: Path = ledger_cli.DataDir) -> None:
    """Create a development API token for a department; prints it once (only its hash is kept)."""
    from gateway.db import ApiToken

    longest = ApiToken.__table__.c.label.type.length
    if len(label) > longest:
        _fail(InvalidInput(f"--label is at most {longest} characters, not {len(label)}"))
    gateway = _gateway(data_dir)
    try:
        typer.echo(gateway.authenticator.issue_token(department, label))
    except GatewayError as error:
        _fail(error)


@index_app.command("verify")
def index_verify_command(data_dir: Path = ledger_cli.DataDir) -> None:
    """Re-read the chain's events up to the indexed block and the contracts' storage behind the derived
    state (anchors, revocations, successors, keys, schema hashes); report every difference from the index."""
    from gateway import chain_state

    gateway = _gateway(data_dir)
    differences = [f"block {d.block_number} log {d.log_index}: {d.problem}" for d in gateway.index.verify()]
    differences += chain_state.differences(gateway.chain.deployment, gateway.sessions)
    _report(differences, f"error (index_differs): {len(differences)} differences from the chain",
            f"index matches the chain up to block {gateway.index.indexed_block()}")


@audit_app.command("verify")
def audit_verify_command(data_dir: Path = ledger_cli.DataDir) -> None:
    """Recompute the access log's tree from the database and compare it with every checkpoint on chain."""
    gateway = _gateway(data_dir)
    problems, anchored = gateway.audit.verify(), len(gateway.audit.checkpoints())  # errors: the root's one line
    _report([p.what for p in problems],
            f"error (log_tampered): {len(problems)} problem(s), the first: {problems[0].what}" if problems else "",
            f"access log intact; it reproduces each of the {anchored} checkpoint(s) on chain")


@audit_app.command("check-inclusion")
def audit_check_inclusion_command(
    proof_file: Path = typer.Argument(..., help="JSON from GET /v1/audit/log/entries/{position}/inclusion."),
    data_dir: Path = ledger_cli.DataDir,
) -> None:
    """Check that a log entry is in the tree whose root is anchored on chain for the proof's size."""
    from gateway.audit.access_log import parse_json

    gateway = _gateway(data_dir)
    try:
        problems, anchored = gateway.audit.check_inclusion(parse_json(proof_file.read_text(encoding="utf-8")))
    except (OSError, ValueError) as error:  # unreadable, not UTF-8, not JSON, nested too deep
        _fail(InvalidInput(f"{proof_file}: {error}"))
    except GatewayError as error:
        _fail(error)
    _report(problems, f"error (proof_rejected): {problems[0]}" if problems else "",
            f"entry is in the access log's checkpoint of size {anchored['treeSize']} anchored in block "
            f"{anchored['anchoredBlock']}" if anchored else "")


@audit_app.command("export")
def audit_export_command(
    since: Optional[dt.datetime] = typer.Option(None, help="From (inclusive, UTC)."),
    until: Optional[dt.datetime] = typer.Option(None, help="Until (exclusive, UTC)."),
    output_format: str = typer.Option("jsonl", "--format", help="jsonl or csv."),
    data_dir: Path = ledger_cli.DataDir,
) -> None:
    """Write the access log's entries in a time range to stdout."""
    if output_format not in ("jsonl", "csv"):
        _fail(GatewayError(f"unknown format {output_format!r}; use jsonl or csv"))
    gateway = _gateway(data_dir)
    writer = csv.writer(sys.stdout) if output_format == "csv" else None
    if writer:
        writer.writerow(["position", "recordedAt", "department", "action", "leafHash", "entry"])
    after = -1
    while True:
        try:
            page = gateway.audit.entries(since=_utc(since), until=_utc(until), after=after, limit=1000)
        except ValueError:  # the database's JSON decoder on a damaged entry
            _fail(GatewayError(f"an entry at position {after + 1} or later is unreadable; certnet audit verify "
                               "names it"))
        for entry in page["entries"]:
            if writer:
                writer.writerow([entry["position"], entry["recordedAt"], entry["department"], entry["action"],
                                 entry["leafHash"], json.dumps(entry, ensure_ascii=False, sort_keys=True)])
            else:
                typer.echo(json.dumps(entry, ensure_ascii=False, sort_keys=True))
        if page["next"] is None:
            break
        after = page["next"]


@outbox_app.command("status")
def outbox_status_command(data_dir: Path = ledger_cli.DataDir) -> None:
    """Open operations per signing account: how many in each state, their nonces beside the chain's, the oldest's age."""
    import time

    from rich.table import Table

    gateway = _gateway(data_dir)
    backlog = gateway.outbox.backlog()
    if not backlog:
        typer.echo("no open operations")
        return
    departments = {key: info.code for info in gateway.chain.departments() for key in info.keys}
    table = Table("account", "department", "open operations", "their nonces", "chain nonce (pending)", "oldest")
    for account in backlog:
        nonces = f"{min(account.nonces)}–{max(account.nonces)}" if account.nonces else "none yet"
        table.add_row(account.sender, departments.get(account.sender, "?"),
                      ", ".join(f"{count} {state}" for state, count in sorted(account.states.items())), nonces,
                      f"{account.mined_nonce} ({account.pending_nonce})", f"{time.time() - account.oldest:.0f} s")
    console.print(table)


@outbox_app.command("retry")
def outbox_retry_command(data_dir: Path = ledger_cli.DataDir) -> None:
    """Reconcile now, with no gateway running: operations in blocks the chain lost go back to be sent, nonce gaps
    heal (the next start sends them; a running gateway reconciles every second on its own)."""
    gateway = _gateway(data_dir)
    try:
        with gateway.leases.holding():
            reopened, healed = gateway.outbox.reopen_lost(), gateway.outbox.heal_nonces()
    except GatewayError as error:
        _fail(error)
    typer.echo(f"{reopened} operation(s) of lost blocks and {healed} for accounts' nonces set to be sent again")


def _database_url(data_dir: Path) -> str:
    from gateway.settings import Settings

    return Settings.load(data_dir=data_dir).database


def _upgrade_database(data_dir: Path) -> None:
    """Upgrades the gateway database (a new SQLite file in the data dir, made as the gateway would) and says
    from which revision to which."""
    from gateway import migrations
    from gateway.db import connect

    data_dir.mkdir(parents=True, exist_ok=True)
    found, head = migrations.upgrade(connect(_database_url(data_dir)))
    if found == head:
        typer.echo(f"database schema at {head}, the newest revision")
    else:
        typer.echo(f"database schema upgraded from {found or 'no revision'} to {head}")


@db_app.command("upgrade")
def db_upgrade_command(data_dir: Path = ledger_cli.DataDir) -> None:
    """Bring the gateway database (CERTNET_DATABASE_URL, else the data dir's SQLite file) to the newest schema
    revision. A gateway does it at start too; run it alone to upgrade before starting a new release's gateways."""
    _upgrade_database(data_dir)


@db_app.command("current")
def db_current_command(data_dir: Path = ledger_cli.DataDir) -> None:
    """The database's schema revision, beside the newest this gateway knows; changes nothing."""
    from gateway import migrations
    from gateway.db import connect

    found, head = migrations.current(connect(_database_url(data_dir))), migrations.head()
    if found == head:
        typer.echo(f"{head} (the newest revision)")
    else:
        typer.echo(f"{found or 'no revision (an empty database, or one made before migrations)'}; the newest is "
                   f"{head}: `certnet db upgrade` upgrades it")


@db_app.command("history")
def db_history_command() -> None:
    """Every schema revision, oldest first."""
    from gateway import migrations

    for revision in migrations.history():
        typer.echo(f"{revision.revision}  {revision.doc}")


@holder_app.command("keygen")
def holder_keygen_command(key_file: Path = typer.Argument(..., help="Where to write the new private key (PEM)."),
                          holder: str = typer.Option(..., help="RIC:<citizen ID> or USCC:<credit code>."),
                          curve: str = typer.Option("P-256", help="P-256, or SM2 (the national algorithm).")) -> None:
    """Make a device key; print the holder channel's registration body for POST /v1/holders/keys."""
    from gateway.certificates.identity import HolderId
    from gateway.sharing.consent import HOLDER_CURVES, holder_public_key, new_holder_key

    try:
        HolderId.parse(holder)
        if key_file.exists():
            raise InvalidInput(f"{key_file} exists; a key file is never overwritten")
        if curve not in HOLDER_CURVES:
            raise InvalidInput(f"--curve is one of {', '.join(HOLDER_CURVES)}, not {curve!r}")
    except GatewayError as error:
        _fail(error)
    key = new_holder_key(curve)
    key_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key_file.touch(mode=0o600)
    key_file.write_bytes(key.to_pem())
    typer.echo(json.dumps({"holder": holder, "publicKey": holder_public_key(key).to_pem().decode()}))


@holder_app.command("consent")
def holder_consent_command(
    key_file: Path = typer.Argument(..., help="The holder's private key (PEM)."),
    holder: str = typer.Option(..., help="The holder's pseudonym (credentialSubject.id of their certificates)."),
    grantee: str = typer.Option(..., help="Code of the department that may receive the certificates."),
    service_item: str = typer.Option(..., help="Code of the service item."),
    certificate_type: list[str] = typer.Option(..., "--type", help="Certificate type code (repeatable)."),
    days: float = typer.Option(30, help="How long the consent lasts, from now (more than 0, at most 366)."),
) -> None:
    """Sign a consent; print its body for POST /v1/consents."""
    from gateway.certificates.identity import PSEUDONYM_PREFIX
    from gateway.sharing.consent import MAX_CONSENT_DAYS, new_consent, parse_consent

    if not holder.startswith(PSEUDONYM_PREFIX):  # the identity itself goes only to `holder keygen`
        _fail(InvalidInput(f"--holder is the holder's pseudonym ({PSEUDONYM_PREFIX}<64 hex digits>, the "
                           "credentialSubject.id of their certificates), not a RIC:/USCC: identity"))
    if not 0 < days <= MAX_CONSENT_DAYS:  # also refuses nan
        _fail(InvalidInput(f"--days must be more than 0 and at most {MAX_CONSENT_DAYS}, not {days:g}: a consent "
                           "runs from now for one service item's handling"))
    not_before = dt.datetime.now(dt.timezone.utc) - CLOCK_SKEW  # the days run from here: --days 366 stays in bounds
    record = new_consent(holder, grantee, service_item, certificate_type, not_before=not_before,
                         not_after=not_before + dt.timedelta(days=days))
    _print_signed(key_file, record, parse_consent)


@holder_app.command("withdraw")
def holder_withdraw_command(key_file: Path = typer.Argument(..., help="The holder's private key (PEM)."),
                            consent_id: str = typer.Argument(..., help="The consent's id.")) -> None:
    """Sign a withdrawal; print its body for POST /v1/consents/{id}/withdraw."""
    from gateway.sharing.consent import new_withdrawal, parse_withdrawal

    _print_signed(key_file, new_withdrawal(consent_id, dt.datetime.now(dt.timezone.utc)), parse_withdrawal)


def _print_signed(key_file: Path, record: dict[str, Any], check: Callable[[dict[str, Any]], object]) -> None:
    from gateway.sharing.consent import load_signing_key, sign_record

    try:
        check(record)
        key = load_signing_key(key_file)
    except GatewayError as error:
        _fail(error)
    typer.echo(json.dumps({"record": record, "signature": sign_record(key, record)}, ensure_ascii=False))


def _utc(moment: Optional[dt.datetime]) -> Optional[dt.datetime]:
    return moment.replace(tzinfo=moment.tzinfo or dt.timezone.utc) if moment else None


@console_app.command("login")
def console_login_command(
    department: str = typer.Argument(..., help="Code of the auditor department to sign in as."),
    url: str = typer.Option("http://127.0.0.1:8000", "--url", help="The gateway's address, as the browser reaches it."),
    account: Optional[int] = certificates_cli.AccountOption,
    keystore: Optional[Path] = certificates_cli.KeystoreOption,
    data_dir: Path = ledger_cli.DataDir,
    rpc: Optional[str] = ledger_cli.RpcUrl,
) -> None:
    """Print a sign-in link for the console: valid for 5 minutes, once, signed by the key of --account N (development
    chains) or --keystore FILE, which must be a current key of the department, an active one holding the auditor
    role. The link's secret is after `#`: browsers send it to no server and no log."""
    from gateway.auth import sign_in_token
    from gateway.chain import Chain
    from ledger_node.types import Role

    deployment = certificates_cli.chain_deployment(data_dir, rpc)
    key = certificates_cli.signing_account(deployment, account, keystore)
    chain = Chain(deployment, role_cache_seconds=0)
    chain.require_active(department, Role.AUDITOR)  # NotFound for a department the consortium does not know
    if chain.department_of_key(key.address) != department:
        raise InvalidInput(f"{key.address} is not a current key of department {department}")
    typer.echo(f"{url.rstrip('/')}/audit/sign-in#{sign_in_token(key, department)}")


@app.command("run")
def run_command(engine: str = ledger_cli.EngineOption, chain_port: int = ledger_cli.PortOption,
                demo: str = ledger_cli.DemoSizeOption, host: str = HostOption, port: int = GatewayPort,
                data_dir: Path = ledger_cli.DataDir, crypto: Optional[str] = ledger_cli.CryptoOption) -> None:
    """Local chain + demo consortium + gateway on http://HOST:PORT, until Ctrl-C (what `make run` does);
    `--crypto sm2-sm3` deploys the demo under the national suite (SM2 signatures, SM3 hashes)."""
    with ledger_cli.local_devnet(engine, chain_port, demo, data_dir, listens=[(host, port, "gateway")],
                                 crypto=crypto):
        _upgrade_database(data_dir)
        console.print(f"gateway on http://{host}:{port} (API docs at /docs); Ctrl-C stops both")
        _serve(data_dir, host, port, log_level="warning")


ledger_cli.register(app)
certificates_cli.register(app)
app.add_typer(gateway_app, name="gateway")
app.add_typer(index_app, name="index")
app.add_typer(audit_app, name="audit")
app.add_typer(outbox_app, name="outbox")
app.add_typer(holder_app, name="holder")
app.add_typer(console_app, name="console")
app.add_typer(db_app, name="db")
