"""`certnet cert` against a real ganache over JSON-RPC, with the small spec bootstrapped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest
from typer.testing import CliRunner
from web3 import Web3

from gateway.certificates.signing import SigningDomain, sign
from gateway.cli import app
from ledger_node.accounts import dev_account
from ledger_node.deploy import Manifest

pytestmark = pytest.mark.slow
runner = CliRunner()
SPEC = Path(__file__).parents[1] / "ledger_node" / "specs" / "small.yaml"
CIVIL_AFFAIRS_ACCOUNT = "2"  # the account of department MZ in the small spec


def invoke(*args: str, ok: bool = True) -> Any:
    result = runner.invoke(app, list(args))
    if ok:
        assert result.exit_code == 0, result.output
    return result


class Desk:
    """Runs `certnet` against one chain and data directory."""

    def __init__(self, w3: Web3, data_dir: Path) -> None:
        self.w3, self.data_dir = w3, data_dir
        self.url = w3.provider.endpoint_uri

    def run(self, *args: str, ok: bool = True) -> Any:
        return invoke(*args, "--data-dir", str(self.data_dir), ok=ok)

    def chain(self, *args: str, ok: bool = True) -> Any:
        return self.run(*args, "--rpc", self.url, ok=ok)

    def issue(self, name: str, *extra: str) -> Path:
        subject = self.data_dir / "subject.json"
        subject.write_text(json.dumps({"spouse": "urn:certnet:holder:" + "cd" * 32}))
        path = self.data_dir / f"{name}.json"
        self.chain("cert", "new", str(subject), "--type", "JHZ", "--issuer", "MZ", "--holder", "11010519491231002X",
                   "-o", str(path), *extra)
        self.chain("cert", "sign", str(path), "--account", CIVIL_AFFAIRS_ACCOUNT)
        self.chain("cert", "anchor", str(path), "--account", CIVIL_AFFAIRS_ACCOUNT)
        return path

    def domain(self) -> SigningDomain:
        registry = Manifest.load(self.data_dir / "manifest.json").deployment(self.w3).registry
        return SigningDomain(self.w3.eth.chain_id, registry.address)

    def new(self, name: str) -> Path:
        """An unsigned certificate of civil affairs."""
        subject = self.data_dir / "subject.json"
        subject.write_text(json.dumps({"spouse": "urn:certnet:holder:" + "cd" * 32}))
        path = self.data_dir / f"{name}.json"
        self.chain("cert", "new", str(subject), "--type", "JHZ", "--issuer", "MZ", "--holder", "11010519491231002X",
                   "-o", str(path))
        return path

    def report(self, path: Path) -> dict[str, Any]:
        result = self.chain("cert", "verify", str(path), "--json", ok=False)
        return json.loads(result.stdout)[0]


@pytest.fixture
def desk(chain_snapshot: Web3, tmp_path: Path) -> Iterator[Desk]:
    desk = Desk(chain_snapshot, tmp_path)
    desk.chain("deploy", "--spec", str(SPEC))
    desk.chain("bootstrap", str(SPEC))
    yield desk


def outcomes(report: dict[str, Any]) -> dict[str, str]:
    return {check["name"]: check["outcome"] for check in report["checks"]}


def test_valid_tampered_redacted_revoked_and_expired_documents_give_five_different_reports(desk: Desk) -> None:
    valid, revoked = desk.issue("valid"), desk.issue("revoked")
    tampered = desk.data_dir / "tampered.json"
    document = json.loads(valid.read_text())
    document["credentialSubject"]["spouse"] = "urn:certnet:holder:" + "ee" * 32
    tampered.write_text(json.dumps(document))
    redacted = desk.data_dir / "redacted.json"
    invoke("cert", "redact", str(valid), "spouse", "-o", str(redacted))
    desk.chain("cert", "revoke", str(revoked), "--reason", "1", "--account", CIVIL_AFFAIRS_ACCOUNT)
    latest = desk.w3.eth.get_block("latest")["timestamp"]
    expired = desk.issue("expired", "--valid-until", _iso(latest + 30))
    desk.w3.provider.make_request("evm_mine", [{"timestamp": latest + 60}])

    reports = {p.stem: desk.report(p) for p in (valid, tampered, redacted, revoked, expired)}

    assert reports["valid"]["verdict"] == "valid"
    assert reports["redacted"]["verdict"] == "valid" and "1 field(s) redacted" in reports["redacted"]["checks"][0]["reason"]
    assert outcomes(reports["tampered"])["integrity"] == "invalid"
    assert outcomes(reports["revoked"])["not_revoked"] == "invalid"
    assert "issued in error" in reports["revoked"]["checks"][4]["reason"]
    assert outcomes(reports["expired"])["validity"] == "invalid"
    failing = {name: {k for k, v in outcomes(r).items() if v == "invalid"} for name, r in reports.items()}
    assert failing == {"valid": set(), "redacted": set(), "tampered": {"integrity"}, "revoked": {"not_revoked"},
                       "expired": {"validity"}}


def test_verify_exits_non_zero_when_any_document_is_invalid(desk: Desk) -> None:
    valid = desk.issue("valid")
    tampered = desk.data_dir / "tampered.json"
    tampered.write_text(valid.read_text().replace("urn:certnet:department:MZ", "urn:certnet:department:GA"))
    assert desk.chain("cert", "verify", str(valid), ok=False).exit_code == 0
    assert desk.chain("cert", "verify", str(valid), str(tampered), ok=False).exit_code == 1


def test_a_batch_anchored_from_the_command_line_verifies(desk: Desk) -> None:
    subject = desk.data_dir / "subject.json"
    subject.write_text(json.dumps({"spouse": "urn:certnet:holder:" + "cd" * 32}))
    paths = [desk.data_dir / f"member-{i}.json" for i in range(3)]
    for path in paths:
        desk.chain("cert", "new", str(subject), "--type", "JHZ", "--issuer", "MZ", "--holder", "11010519491231002X",
                   "-o", str(path))
        desk.chain("cert", "sign", str(path), "--account", CIVIL_AFFAIRS_ACCOUNT)
    desk.chain("cert", "anchor", *map(str, paths), "--batch", "--account", CIVIL_AFFAIRS_ACCOUNT)
    assert [desk.report(p)["verdict"] for p in paths] == ["valid"] * 3
    assert len({json.loads(p.read_text())["proof"]["anchor"]["batchRoot"] for p in paths}) == 1


def test_an_invalid_holder_id_is_one_line_and_exit_one(desk: Desk) -> None:
    subject = desk.data_dir / "subject.json"
    subject.write_text(json.dumps({"spouse": "x"}))
    result = desk.chain("cert", "new", str(subject), "--type", "JHZ", "--issuer", "MZ",
                        "--holder", "110105194912310021", ok=False)
    assert result.exit_code == 1
    assert result.output.strip() == "error (invalid_holder_id): citizen ID number has check character 1, expected X"


def test_a_subject_breaking_the_schema_is_refused_before_signing(desk: Desk) -> None:
    subject = desk.data_dir / "subject.json"
    subject.write_text(json.dumps({"spouse": 7}))
    result = desk.chain("cert", "new", str(subject), "--type", "JHZ", "--issuer", "MZ",
                        "--holder", "11010519491231002X", ok=False)
    assert result.exit_code == 1 and "schema_violation" in result.output


def test_an_unknown_type_is_refused(desk: Desk) -> None:
    subject = desk.data_dir / "subject.json"
    subject.write_text("{}")
    result = desk.chain("cert", "new", str(subject), "--type", "NOPE", "--issuer", "MZ",
                        "--holder", "11010519491231002X", ok=False)
    assert result.exit_code == 1 and "no certificate type 'NOPE'" in result.output


def test_anchoring_with_a_department_not_authorised_for_the_type_is_refused_by_the_chain(desk: Desk) -> None:
    subject = desk.data_dir / "subject.json"
    subject.write_text(json.dumps({"spouse": "y"}))
    path = desk.data_dir / "cert.json"
    desk.chain("cert", "new", str(subject), "--type", "JHZ", "--issuer", "MZ", "--holder", "11010519491231002X",
               "-o", str(path))
    zj = dev_account(4)  # ZJ: an issuer, but not of 结婚证 (signed outside `cert sign`, which refuses the key)
    path.write_text(json.dumps(sign(json.loads(path.read_text()), zj, desk.domain())))
    result = desk.chain("cert", "anchor", str(path), "--account", "4", ok=False)
    assert result.exit_code == 1 and "CatalogIssuerNotAuthorised" in result.output
    assert "anchor" not in json.loads(path.read_text())["proof"]


def test_offline_verification_succeeds_on_an_intact_signed_document(desk: Desk) -> None:
    valid = desk.issue("valid")
    result = desk.run("cert", "verify", str(valid), "--offline", "--json", ok=False)
    assert result.exit_code == 0 and json.loads(result.stdout)[0]["verdict"] == "incomplete"


def _iso(timestamp: int) -> str:
    import datetime as dt
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def test_signing_an_anchored_certificate_again_is_refused_and_leaves_it_valid(desk: Desk) -> None:
    anchored = desk.issue("anchored")
    before = anchored.read_text()
    result = desk.chain("cert", "sign", str(anchored), "--account", CIVIL_AFFAIRS_ACCOUNT, ok=False)
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert result.output.startswith("error (conflict): the certificate is already anchored")
    assert anchored.read_text() == before and desk.report(anchored)["verdict"] == "valid"


def test_signing_with_a_key_of_another_department_is_refused(desk: Desk) -> None:
    unsigned = desk.new("unsigned")
    before = unsigned.read_text()
    result = desk.chain("cert", "sign", str(unsigned), "--account", "4", ok=False)  # ZJ's key; MZ issues
    assert result.exit_code == 1
    assert result.output.strip() == (f"error (forbidden): {dev_account(4).address} is not a key of the issuing "
                                     "department MZ: only its keys may sign its certificates")
    assert unsigned.read_text() == before
