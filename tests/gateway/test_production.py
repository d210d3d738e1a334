"""Production mode: a gateway with CERTNET_ENV=production, or on a chain that is not a local
development one, refuses to start while the pseudonym secret, the department keys or the API
tokens are still the development ones, naming the setting to provide; configured properly it
serves, and then accepts signed requests only. `certnet cert new` does not make pseudonyms with the
development secret in production either."""

from __future__ import annotations

import json
import secrets
import subprocess
from pathlib import Path
from typing import Iterator

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from gateway.auth import signed_headers
from gateway.chain import Custody
from gateway.errors import UnsafeConfiguration
from gateway.service import refuse_unsafe_production
from gateway.settings import Settings
from ledger_node.accounts import dev_account
from tests.conftest import DEMO_DEPARTMENTS, MZ_MARRIAGE, Devnet, GatewayProcess, demo_account, marriage_request

pytestmark = pytest.mark.slow

PASSPHRASE = "production test passphrase"
SETTING_NAMES = {"CERTNET_PSEUDONYM_SECRET", "CERTNET_KEY_STORE", "CERTNET_DEV_TOKENS"}
ANVIL_CHAIN_ID = 31337


def _key_store(directory: Path, *accounts: LocalAccount) -> Path:
    """Encrypted key files (light scrypt parameters: these keys guard nothing)."""
    directory.mkdir(parents=True)
    for account in accounts:
        encrypted = Account.encrypt(account.key, PASSPHRASE, iterations=2**4)
        (directory / f"{account.address}.json").write_text(json.dumps(encrypted))
    return directory


def _production_settings(directory: Path, **overrides: str | None) -> dict[str, str]:
    """CERTNET_* settings of a proper production gateway (a fresh key, its own secret, no tokens);
    an override of None leaves that setting at its default."""
    settings: dict[str, str | None] = {
        "env": "production", "pseudonym_secret": secrets.token_hex(32),
        "key_store": str(_key_store(directory / "keys", Account.create())), "key_passphrase": PASSPHRASE,
        **overrides}
    return {name: value for name, value in settings.items() if value is not None}


def _settings(**values: object) -> Settings:
    """Settings from `values` only, not from the environment or a `.env` file."""
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def production_gateway(devnet: Devnet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    root = tmp_path_factory.mktemp("production")
    gateway = GatewayProcess(devnet, root / "gateway", **_production_settings(root)).start()
    yield gateway
    gateway.stop()


@pytest.mark.parametrize(("unsafe", "named"), [
    ({"pseudonym_secret": None}, "CERTNET_PSEUDONYM_SECRET"),
    ({"pseudonym_secret": "too short to be a secret"}, "CERTNET_PSEUDONYM_SECRET"),
    ({"key_store": None}, "CERTNET_KEY_STORE"),
    ({"dev_tokens": "true"}, "CERTNET_DEV_TOKENS"),
], ids=["development-secret", "short-secret", "development-keys", "tokens-on"])
def test_production_refuses_to_start_with_a_development_setting_naming_it_in_one_line(
        devnet: Devnet, tmp_path: Path, unsafe: dict[str, str | None], named: str) -> None:
    gateway = GatewayProcess(devnet, tmp_path / "gateway", **_production_settings(tmp_path, **unsafe))
    result = subprocess.run(gateway.command, env=gateway.env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.startswith("error (unsafe_configuration): refusing to start in production "
                                    "(CERTNET_ENV=production); set ")
    assert result.stderr.count("\n") == 1
    assert {name for name in SETTING_NAMES if name in result.stderr} == {named}


def test_a_setting_that_does_not_parse_is_named_in_one_line(devnet: Devnet, tmp_path: Path) -> None:
    gateway = GatewayProcess(devnet, tmp_path / "gateway", env="prod")
    result = subprocess.run(gateway.command, env=gateway.env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr == "error (invalid_setting): CERTNET_ENV: Input should be 'development' or 'production'\n"


def test_a_chain_that_is_not_for_development_gets_the_production_checks_without_certnet_env() -> None:
    with pytest.raises(UnsafeConfiguration) as refused:
        refuse_unsafe_production(_settings(), chain_id=1, custody=Custody([]))
    assert "(chain id 1 is not a local development chain)" in refused.value.message
    assert refused.value.details["settings"] == ["CERTNET_PSEUDONYM_SECRET", "CERTNET_KEY_STORE"]


def test_development_defaults_are_accepted_on_a_development_chain() -> None:
    refuse_unsafe_production(_settings(), chain_id=ANVIL_CHAIN_ID, custody=Custody([dev_account(1)]))


def test_api_tokens_are_on_by_default_only_for_development_chains() -> None:
    defaults = _settings()
    assert (defaults.dev_tokens_enabled(ANVIL_CHAIN_ID), defaults.dev_tokens_enabled(1)) == (True, False)
    assert _settings(env="production").dev_tokens_enabled(ANVIL_CHAIN_ID) is False


def test_a_key_store_holding_a_development_mnemonic_key_is_refused_naming_the_key(tmp_path: Path) -> None:
    settings = _settings(env="production", pseudonym_secret=secrets.token_hex(32), key_store=tmp_path)
    with pytest.raises(UnsafeConfiguration) as refused:
        refuse_unsafe_production(settings, chain_id=ANVIL_CHAIN_ID,
                                 custody=Custody([Account.create(), dev_account(2)]))
    assert refused.value.details["settings"] == ["CERTNET_KEY_STORE"]
    assert dev_account(2).address in refused.value.message


def test_a_production_gateway_with_its_own_secret_and_keys_serves(production_gateway: GatewayProcess) -> None:
    health = production_gateway.client.get("/healthz")
    assert (health.status_code, health.json()["status"]) == (200, "ok")


def test_a_production_gateway_refuses_api_tokens(production_gateway: GatewayProcess) -> None:
    response = production_gateway.client.get("/v1/audit/events", headers=production_gateway.auth("SJ"))
    assert (response.status_code, response.json()["code"]) == (401, "tokens_disabled")


def test_a_production_gateway_accepts_signed_requests(production_gateway: GatewayProcess) -> None:
    path = "/v1/audit/events?limit=1"
    response = production_gateway.client.get(path, headers=signed_headers(demo_account("SJ"), "GET", path))
    assert response.status_code == 200, response.text


def test_gateway_token_refuses_to_make_a_token_when_tokens_are_off(production_gateway: GatewayProcess) -> None:
    certnet = production_gateway.command[0]
    result = subprocess.run([certnet, "gateway", "token", DEMO_DEPARTMENTS["SJ"], "--data-dir",
                             str(production_gateway.data_dir)], env=production_gateway.env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.startswith("error (tokens_disabled): ") and result.stderr.count("\n") == 1
    assert result.stdout == ""


def test_cert_new_refuses_the_development_pseudonym_secret_in_production(devnet: Devnet, tmp_path: Path) -> None:
    subject = tmp_path / "subject.json"
    subject.write_text(json.dumps(marriage_request()["subject"]))
    gateway = GatewayProcess(devnet, tmp_path / "gateway", env="production")
    result = subprocess.run([gateway.command[0], "cert", "new", str(subject), "--type", MZ_MARRIAGE, "--issuer",
                             DEMO_DEPARTMENTS["MZ"], "--holder", "RIC:11010519491231002X", "--data-dir",
                             str(gateway.data_dir), "--rpc", devnet.node.url], env=gateway.env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.startswith("error (unsafe_configuration): ") and result.stderr.count("\n") == 1
    assert "CERTNET_PSEUDONYM_SECRET" in result.stderr and result.stdout == ""
