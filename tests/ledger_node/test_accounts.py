"""Department keys: deterministic in development, encrypted on disk otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli import app
from ledger_node.accounts import (DevelopmentKeyRefused, KeyStoreError, create_keystore, dev_account,
                                  development_account, load_keystore, passphrase_from_env)
from ledger_node.bootstrap import department_account
from ledger_node.spec import DepartmentSpec
from ledger_node.types import Role

runner = CliRunner()


def test_development_accounts_are_those_every_local_engine_funds() -> None:
    assert dev_account(0).address == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def test_a_keystore_round_trips_with_its_passphrase(tmp_path: Path) -> None:
    created = create_keystore(tmp_path / "dept.json", "correct horse")
    assert load_keystore(tmp_path / "dept.json", "correct horse").address == created.address


def test_the_private_key_is_never_on_disk_in_clear(tmp_path: Path) -> None:
    created = create_keystore(tmp_path / "dept.json", "correct horse")
    on_disk = (tmp_path / "dept.json").read_text()
    assert created.key.hex() not in on_disk and created.key.hex()[2:] not in on_disk
    assert (tmp_path / "dept.json").stat().st_mode & 0o777 == 0o600


def test_a_wrong_passphrase_is_refused(tmp_path: Path) -> None:
    create_keystore(tmp_path / "dept.json", "correct horse")
    with pytest.raises(KeyStoreError, match="wrong passphrase"):
        load_keystore(tmp_path / "dept.json", "battery staple")


def test_a_keystore_is_never_overwritten(tmp_path: Path) -> None:
    create_keystore(tmp_path / "dept.json", "a")
    with pytest.raises(KeyStoreError, match="never overwritten"):
        create_keystore(tmp_path / "dept.json", "b")


def test_the_passphrase_can_come_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pass").write_text("from a file\n")
    monkeypatch.delenv("CERTNET_KEY_PASSPHRASE", raising=False)
    monkeypatch.setenv("CERTNET_KEY_PASSPHRASE_FILE", str(tmp_path / "pass"))
    assert passphrase_from_env() == "from a file"


def test_keys_new_without_a_passphrase_fails_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CERTNET_KEY_PASSPHRASE", raising=False)
    monkeypatch.delenv("CERTNET_KEY_PASSPHRASE_FILE", raising=False)
    result = runner.invoke(app, ["keys", "new", str(tmp_path / "k.json")])
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "k.json").exists()


def test_a_spec_department_with_a_keystore_signs_with_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    created = create_keystore(tmp_path / "dept.json", "s3cret")
    monkeypatch.setenv("CERTNET_KEY_PASSPHRASE", "s3cret")
    department = DepartmentSpec(code="GA", name="市公安局", roles=Role.ISSUER, keystore=str(tmp_path / "dept.json"))
    assert department_account(department, 1).address == created.address


def test_a_development_mnemonic_account_signs_on_a_development_chain() -> None:
    assert development_account(31337, 2).address == dev_account(2).address


@pytest.mark.parametrize("chain_id", [1, 1337_1337])
def test_a_development_mnemonic_account_is_refused_on_any_other_chain(chain_id: int) -> None:
    with pytest.raises(DevelopmentKeyRefused, match=f"chain {chain_id} is not a local development chain"):
        development_account(chain_id, 2)


def test_a_spec_department_with_a_development_account_is_refused_on_a_production_chain() -> None:
    department = DepartmentSpec(code="GA", name="市公安局", roles=Role.ISSUER, account=1)
    with pytest.raises(DevelopmentKeyRefused):
        department_account(department, 1)
