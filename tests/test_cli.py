"""The `certnet` command line: fast to start, and every failure one line with a non-zero exit."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli import app
from gateway.sharing.consent import load_public_key
from ledger_node import cli as ledger_cli
from ledger_node import compiler
from ledger_node.sm2 import Sm2PublicKey

runner = CliRunner()
CERTNET = Path(sys.executable).with_name("certnet")
#: What the gateway and chain commands need and `--help` or a light command must not pay for.
HEAVY_LIBRARIES = {"web3", "eth_account", "eth_tester", "fastapi", "sqlalchemy", "uvicorn", "solcx", "starlette"}
PSEUDONYM = "urn:certnet:holder:" + "ab" * 32


def imported_top_level_modules(*args: str) -> set[str]:
    """The top-level packages a `certnet` call imports, from Python's own `-X importtime` report."""
    result = subprocess.run([sys.executable, "-X", "importtime", str(CERTNET), *args], capture_output=True,
                            text=True, timeout=120)
    return {line.rsplit("|", 1)[1].strip().split(".")[0] for line in result.stderr.splitlines()
            if line.startswith("import time:") and "|" in line}


@pytest.mark.parametrize("args", [["--help"], ["cert", "--help"], ["node", "stop", "--data-dir", "{tmp}"],
                                  ["demo-spec"]], ids=["help", "cert-help", "node-stop", "demo-spec"])
def test_help_and_light_commands_import_no_heavy_library(args: list[str], tmp_path: Path) -> None:
    imported = imported_top_level_modules(*(a.format(tmp=tmp_path) for a in args))
    assert "gateway" in imported  # the report was read: the command's own package is in it
    assert imported & HEAVY_LIBRARIES == set()


def test_contracts_check_passes_on_fresh_artifacts() -> None:
    result = runner.invoke(app, ["contracts", "check"])
    assert result.exit_code == 0, result.output


def test_contracts_check_fails_with_one_line_when_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compiler, "source_hash", lambda: "0" * 64)
    result = runner.invoke(app, ["contracts", "check"])
    assert result.exit_code == 1
    assert "artifacts_stale" in result.output and len(result.output.strip().splitlines()) == 1


def test_an_unexpected_error_in_any_command_is_one_line_without_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("size")

    monkeypatch.setattr(ledger_cli, "demo_spec", broken)
    result = runner.invoke(app, ["demo-spec"])
    assert result.exit_code == 1
    assert result.output.strip() == "error (unexpected): KeyError: 'size'"


def test_keys_new_creates_the_directory_the_key_goes_into(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CERTNET_KEY_PASSPHRASE", "correct horse")
    key_file = tmp_path / "keys" / "zj.json"
    result = runner.invoke(app, ["keys", "new", str(key_file)])
    assert result.exit_code == 0, result.output
    assert key_file.stat().st_mode & 0o777 == 0o600 and "crypto" in json.loads(key_file.read_text())


def test_holder_keygen_creates_the_directory_the_key_goes_into(tmp_path: Path) -> None:
    key_file = tmp_path / "phone" / "holder-key.pem"
    result = runner.invoke(app, ["holder", "keygen", str(key_file), "--holder", "RIC:11010519491231002X"])
    assert result.exit_code == 0, result.output
    assert key_file.read_text().startswith("-----BEGIN EC PRIVATE KEY-----")


@pytest.mark.parametrize("days", ["-3", "0", "367", "nan"])
def test_a_consent_duration_out_of_range_is_named_as_such(days: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["holder", "consent", str(tmp_path / "key.pem"), "--holder", PSEUDONYM,
                                 "--grantee", "11320100MB0000051T", "--service-item", "320100-SX-ZJ-0001",
                                 "--type", "320100-MZ-001", "--days", days])
    assert result.exit_code == 1
    assert result.output.startswith("error (invalid_input): --days must be more than 0 and at most 366, not ")
    assert len(result.output.strip().splitlines()) == 1


def test_a_consent_of_the_longest_duration_is_signed(tmp_path: Path) -> None:
    key_file = tmp_path / "holder-key.pem"
    assert runner.invoke(app, ["holder", "keygen", str(key_file), "--holder", "RIC:11010519491231002X"]).exit_code == 0
    result = runner.invoke(app, ["holder", "consent", str(key_file), "--holder", PSEUDONYM,
                                 "--grantee", "11320100MB0000051T", "--service-item", "320100-SX-ZJ-0001",
                                 "--type", "320100-MZ-001", "--days", "366"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)["record"]
    assert dt.datetime.fromisoformat(record["notAfter"]) - dt.datetime.fromisoformat(record["notBefore"]) == \
        dt.timedelta(days=366)


def test_node_logs_without_its_log_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "node.json").write_text(json.dumps({"engine": "anvil", "pid": 1, "port": 1, "command": ["anvil"],
                                                   "log": str(tmp_path / "gone.log"), "started_at": 0}))
    result = runner.invoke(app, ["node", "logs", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.strip() == f"error (engine_error): cannot read the node's log {tmp_path / 'gone.log'}: " \
                                    "No such file or directory"


def test_a_damaged_node_record_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "node.json").write_text("{not json")
    result = runner.invoke(app, ["node", "status", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.startswith(f"error (engine_error): {tmp_path / 'node.json'} is not a node record")
    assert len(result.output.strip().splitlines()) == 1


def test_a_consent_for_a_cleartext_identity_names_the_pseudonym_it_needs(tmp_path: Path) -> None:
    result = runner.invoke(app, ["holder", "consent", str(tmp_path / "key.pem"), "--holder", "RIC:11010519491231002X",
                                 "--grantee", "11320100MB0000051T", "--service-item", "320100-SX-ZJ-0001",
                                 "--type", "320100-MZ-001"])
    assert result.exit_code == 1
    assert result.output.startswith("error (invalid_input): --holder is the holder's pseudonym (urn:certnet:holder:")
    assert "11010519491231002X" not in result.output


def test_a_token_label_longer_than_the_database_keeps_is_refused(tmp_path: Path) -> None:
    result = runner.invoke(app, ["gateway", "token", "11320100MB0000027A", "--label", "x" * 201,
                                 "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.strip() == "error (invalid_input): --label is at most 200 characters, not 201"


def test_gateway_serve_on_a_taken_port_is_one_line(taken_port: int, tmp_path: Path) -> None:
    result = runner.invoke(app, ["gateway", "serve", "--port", str(taken_port), "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.strip() == (f"error (engine_error): gateway port {taken_port} on 127.0.0.1 is in use: stop "
                                     "what listens there or choose another port")


def test_node_stop_of_a_node_that_no_longer_runs_says_so_and_forgets_it(tmp_path: Path) -> None:
    (tmp_path / "node.json").write_text(json.dumps({"engine": "anvil", "pid": 2 ** 22 + 1, "port": 1,
                                                   "command": ["anvil"], "log": "anvil.log", "started_at": 0}))
    result = runner.invoke(app, ["node", "stop", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0
    assert "no longer ran; its record is removed" in " ".join(result.output.split())  # rich wraps long lines
    assert not (tmp_path / "node.json").exists()


def test_holder_keygen_makes_an_sm2_key_when_asked(tmp_path: Path) -> None:
    key_file = tmp_path / "holder-key.pem"
    result = runner.invoke(app, ["holder", "keygen", str(key_file), "--holder", "RIC:11010519491231002X",
                                 "--curve", "SM2"])
    assert result.exit_code == 0, result.output
    assert isinstance(load_public_key(json.loads(result.output)["publicKey"]), Sm2PublicKey)


def test_holder_keygen_refuses_an_unknown_curve_in_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["holder", "keygen", str(tmp_path / "k.pem"), "--holder", "RIC:11010519491231002X",
                                 "--curve", "P-384"])
    assert (result.exit_code, result.output.strip()) == (1, "error (invalid_input): --curve is one of P-256, SM2, "
                                                            "not 'P-384'")


def test_an_unknown_crypto_suite_is_refused_in_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["deploy", "--demo", "default", "--crypto", "rsa", "--rpc", "http://127.0.0.1:9",
                                 "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.strip().startswith("error (ledger_error): unknown crypto suite 'rsa'")
