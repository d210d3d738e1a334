"""`certnet cert`: make, sign, anchor, redact, revoke and verify certificate documents. The commands
raise the project's errors; the `certnet` root command (gateway/cli.py) turns them into one line and exit 1.

The certificate library (web3, eth-account, jsonschema) is imported inside the commands: every
`certnet` call, even `--help`, imports this module.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer
from rich.console import Console

from gateway.errors import Conflict, Forbidden, InvalidInput
from ledger_node.cli import DataDir, RpcUrl, chain_endpoint
from ledger_node.types import REVOKE_REASONS

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from gateway.certificates.anchoring import Issuing
    from gateway.certificates.identity import HolderId
    from gateway.certificates.verification import Report, Verifier
    from ledger_node.deploy import Deployment

console = Console()
cert_app = typer.Typer(help="Certificate documents: make, sign, anchor, redact, revoke, verify.",
                       no_args_is_help=True)

AccountOption = typer.Option(None, "--account", min=0, max=2**31 - 1,
                             help="Index of a development-mnemonic account to sign with.")
KeystoreOption = typer.Option(None, "--keystore",
                              help="Encrypted key file to sign with (passphrase: CERTNET_KEY_PASSPHRASE(_FILE)).")
OutputOption = typer.Option(None, "--output", "-o", help="Where to write the result (default: in place).")


def _read(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file") from None
    except json.JSONDecodeError as error:
        raise InvalidInput(f"{path}: not JSON ({error.msg} at line {error.lineno})") from None


def _write(document: dict[str, Any], path: Optional[Path]) -> None:
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    if path is None:
        typer.echo(text, nl=False)
    else:
        path.write_text(text, encoding="utf-8")


def chain_deployment(data_dir: Path, rpc: Optional[str]) -> Deployment:
    from ledger_node.deploy import Manifest
    from ledger_node.engines import connect

    url, _engine = chain_endpoint(data_dir, rpc)
    return Manifest.load(data_dir / "manifest.json").deployment(connect(url))


def signing_account(deployment: Deployment, account: Optional[int], keystore: Optional[Path]) -> LocalAccount:
    """The key of --account N (development chains only) or --keystore FILE."""
    from ledger_node.accounts import development_account, load_keystore, passphrase_from_env

    if (account is None) == (keystore is None):
        raise InvalidInput("give exactly one of --account N or --keystore FILE")
    if account is not None:
        return development_account(deployment.registry.w3.eth.chain_id, account)
    return load_keystore(keystore, passphrase_from_env())


def _issuing(data_dir: Path, rpc: Optional[str], account: Optional[int], keystore: Optional[Path]) -> Issuing:
    from gateway.certificates.anchoring import Issuing
    from ledger_node.sender import Sender

    deployment = chain_deployment(data_dir, rpc)
    key = signing_account(deployment, account, keystore)
    return Issuing(deployment, Sender(deployment.registry.w3, [key]), key.address)


@cert_app.command("new")
def new_command(
    subject_path: Path = typer.Argument(..., metavar="SUBJECT", help="JSON object of the subject's fields."),
    type_code: str = typer.Option(..., "--type", help="Certificate type code in the catalog."),
    issuer: str = typer.Option(..., "--issuer", help="Issuing department's code."),
    holder: str = typer.Option(..., "--holder", help="Holder's RIC:<citizen ID> or USCC:<credit code>."),
    valid_until: Optional[dt.datetime] = typer.Option(None, "--valid-until", help="End of validity (UTC)."),
    schema_path: Optional[Path] = typer.Option(None, "--schema", help="The type's JSON schema (default: the store "
                                                                       "in --data-dir, by the catalog's hash)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Where to write it (default: stdout)."),
    data_dir: Path = DataDir,
    rpc: Optional[str] = RpcUrl,
) -> None:
    """Make an unsigned certificate of a catalog type; the subject is checked against the type's schema."""
    from gateway.certificates.catalog import catalog_type, issuer_ref
    from gateway.certificates.document import new_certificate
    from gateway.certificates.identity import HolderId, pseudonym
    from gateway.certificates.suites import suite_coded
    from gateway.settings import Settings
    from ledger_node.schemas import SchemaStore

    deployment = chain_deployment(data_dir, rpc)
    certificate_type = catalog_type(deployment, type_code, SchemaStore(data_dir / "schemas"),
                                    _read(schema_path) if schema_path else None)
    moment = dt.datetime.now(dt.timezone.utc)
    end = valid_until.replace(tzinfo=valid_until.tzinfo or dt.timezone.utc) if valid_until else None
    pseudonym_key = Settings.load().pseudonym_key_for(deployment.registry.w3.eth.chain_id)
    document = new_certificate(_read(subject_path), pseudonym(pseudonym_key, HolderId.parse(holder)),
                               certificate_type, issuer_ref(deployment, issuer), valid_from=moment,
                               valid_until=end, suite=suite_coded(deployment.consortium.functions.cryptoSuite().call()))
    _write(document, output)


@cert_app.command("sign")
def sign_command(
    path: Path = typer.Argument(..., metavar="FILE"),
    account: Optional[int] = AccountOption,
    keystore: Optional[Path] = KeystoreOption,
    output: Optional[Path] = OutputOption,
    data_dir: Path = DataDir,
    rpc: Optional[str] = RpcUrl,
) -> None:
    """Sign a certificate (for the deployment in the manifest) with a key of its issuing department: EIP-712 by the
    account key, or under sm2-sm3 SM2 by the SM2 key derived from it, which must be registered for the department.

    A certificate already anchored is never signed again: a new signature would not be the one its
    anchor vouches for.
    """
    from gateway.certificates.signing import SigningDomain, sign
    from gateway.certificates.suites import SM2_SM3, suite_of
    from ledger_node.sm2 import department_sm2_key

    document = _read(path)
    _refuse_anchored(document)
    deployment = chain_deployment(data_dir, rpc)
    key = signing_account(deployment, account, keystore)
    _refuse_other_department(deployment, document, key.address)
    domain = SigningDomain(deployment.registry.w3.eth.chain_id, deployment.registry.address)
    _write(sign(document, department_sm2_key(key.key) if suite_of(document) is SM2_SM3 else key, domain),
           output or path)


def _refuse_anchored(document: dict[str, Any]) -> None:
    anchor = document.get("proof", {}).get("anchor") if isinstance(document.get("proof"), dict) else None
    if anchor:
        raise Conflict(f"the certificate is already anchored (block {anchor.get('blockNumber', '?')}): signing it "
                       "again would leave a signature its anchor does not vouch for; make a new certificate")


def _refuse_other_department(deployment: Deployment, document: dict[str, Any], signer: str) -> None:
    """The chain's word on whether `signer` is now a key of the department the document names as issuer."""
    from gateway.certificates.document import issuer_code
    from ledger_node.types import code32

    issuer = issuer_code(document)
    w3 = deployment.registry.w3
    if not deployment.consortium.functions.wasKeyOf(signer, code32(issuer), w3.eth.get_block("latest")["timestamp"]).call():
        raise Forbidden(f"{signer} is not a key of the issuing department {issuer}: only its keys may sign its "
                        "certificates")


@cert_app.command("anchor")
def anchor_command(
    paths: list[Path] = typer.Argument(..., metavar="FILE..."),
    batch: bool = typer.Option(False, "--batch", help="Anchor all files as one Merkle batch (one transaction)."),
    account: Optional[int] = AccountOption,
    keystore: Optional[Path] = KeystoreOption,
    data_dir: Path = DataDir,
    rpc: Optional[str] = RpcUrl,
) -> None:
    """Anchor signed certificates in the registry and write the evidence into each file."""
    from gateway.certificates.anchoring import anchor_batch, anchor_certificate

    issuing = _issuing(data_dir, rpc, account, keystore)
    documents = [_read(p) for p in paths]
    if batch:
        for path, document in zip(paths, anchor_batch(issuing, documents)):
            _record_anchor(path, document)
    else:
        for path, document in zip(paths, documents):  # each written as soon as it is anchored
            _record_anchor(path, anchor_certificate(issuing, document))


def _record_anchor(path: Path, document: dict[str, Any]) -> None:
    _write(document, path)
    console.print(f"{path}: anchored {document['proof']['certificateHash']} "
                  f"in block {document['proof']['anchor']['blockNumber']}")


@cert_app.command("revoke")
def revoke_command(
    path: Path = typer.Argument(..., metavar="FILE"),
    reason: int = typer.Option(..., help="; ".join(f"{k} {v}" for k, v in REVOKE_REASONS.items())),
    account: Optional[int] = AccountOption,
    keystore: Optional[Path] = KeystoreOption,
    data_dir: Path = DataDir,
    rpc: Optional[str] = RpcUrl,
) -> None:
    """Revoke an anchored certificate (the issuing department's key only)."""
    from gateway.certificates.anchoring import revoke

    receipt = revoke(_issuing(data_dir, rpc, account, keystore), _read(path), reason)
    console.print(f"{path}: revoked in block {receipt['blockNumber']}")


@cert_app.command("supersede")
def supersede_command(
    old_path: Path = typer.Argument(..., metavar="OLD"),
    successor_path: Path = typer.Argument(..., metavar="SUCCESSOR", help="A signed certificate replacing OLD."),
    account: Optional[int] = AccountOption,
    keystore: Optional[Path] = KeystoreOption,
    data_dir: Path = DataDir,
    rpc: Optional[str] = RpcUrl,
) -> None:
    """Replace an anchored certificate by a signed successor, anchored in the same transaction."""
    from gateway.certificates.anchoring import supersede

    successor = supersede(_issuing(data_dir, rpc, account, keystore), _read(old_path), _read(successor_path))
    _write(successor, successor_path)
    console.print(f"{old_path}: superseded by {successor['proof']['certificateHash']}")


@cert_app.command("redact")
def redact_command(
    path: Path = typer.Argument(..., metavar="FILE"),
    fields: list[str] = typer.Argument(..., metavar="FIELD...", help="Subject fields to hide."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Where to write it (default: stdout)."),
) -> None:
    """Hide subject fields; the redacted copy still verifies (the original is left as it is)."""
    from gateway.certificates.document import redact

    _write(redact(_read(path), fields), output)


@cert_app.command("verify")
def verify_command(
    paths: list[Path] = typer.Argument(..., metavar="FILE..."),
    as_json: bool = typer.Option(False, "--json", help="One JSON report per document, as a JSON list."),
    offline: bool = typer.Option(False, "--offline", help="Check integrity and signature only; no chain."),
    holder: Optional[str] = typer.Option(None, "--holder", help="A disclosed RIC:/USCC: identity to check."),
    data_dir: Path = DataDir,
    rpc: Optional[str] = RpcUrl,
) -> None:
    """Verify certificates; exit code 0 only if every one is valid (or, offline, passes what can be checked)."""
    from gateway.certificates.identity import HolderId
    from gateway.certificates.verification import Verdict, Verifier
    from gateway.settings import Settings

    disclosed = HolderId.parse(holder) if holder else None
    verifier = Verifier(None if offline else chain_deployment(data_dir, rpc),
                        pseudonym_secret=Settings.load().pseudonym_key)
    reports = [(path, _verify_file(verifier, path, disclosed)) for path in paths]
    if as_json:
        typer.echo(json.dumps([{"file": str(p), **r.as_dict()} for p, r in reports], ensure_ascii=False, indent=2))
    else:
        for path, report in reports:
            _print_report(path, report)
    passing = {Verdict.VALID, Verdict.INCOMPLETE} if offline else {Verdict.VALID}
    raise typer.Exit(code=0 if all(r.verdict in passing for _, r in reports) else 1)


def _verify_file(verifier: Verifier, path: Path, holder: Optional[HolderId]) -> Report:
    from gateway.certificates.verification import Report

    try:
        return verifier.verify(_read(path), holder=holder)
    except InvalidInput as error:  # an unreadable file is one invalid report, not the end of the run
        return Report.unreadable(str(error))


def _print_report(path: Path, report: Report) -> None:
    from rich.table import Table

    colour = {"valid": "green", "invalid": "red", "error": "yellow", "skipped": "dim", "incomplete": "yellow"}
    table = Table(title=f"{path}: [{colour[report.verdict.value]}]{report.verdict.value.upper()}[/]",
                  title_justify="left", show_header=True)
    table.add_column("check")
    table.add_column("outcome")
    table.add_column("reason")
    for check in report.checks:
        table.add_row(check.name, f"[{colour[check.outcome.value]}]{check.outcome.value}[/]", check.reason)
    console.print(table)
    if report.certificate_identifier:
        console.print(f"certificate identifier {report.certificate_identifier}")
    if report.certificate_hash:
        console.print(f"certificate hash {report.certificate_hash}\n")


def register(app: typer.Typer) -> None:
    app.add_typer(cert_app, name="cert")
