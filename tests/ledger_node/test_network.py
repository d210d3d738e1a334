"""The Besu QBFT network kit: `certnet network init` writes files in Besu's documented formats, `certnet network
check` passes on them and names each lint it breaks. Besu does not run on these machines: the formats are held to
Besu's documentation (QBFT genesis, local permissioning, command-line options as configuration-file keys) and to
the rule of Besu's own configuration test file: numbers and booleans as such, lists as arrays, all else strings."""

from __future__ import annotations

import json
import stat
import tomllib
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml
from coincurve import PublicKey
from eth_utils import keccak, to_checksum_address
from typer.testing import CliRunner

from gateway.cli import app
from ledger_node.network import (BESU_IMAGE, BFT_MIX_HASH, NetworkKitError, NodeKey, QbftParameters,
                                 check_network, decode_extra_data, init_network, qbft_extra_data)
from ledger_node.spec import load_spec
from tests.conftest import NetworkKitFiles, write_keystore, write_keystore_spec

runner = CliRunner()
NODES = ["validator-1", "validator-2", "validator-3", "validator-4", "rpc-1"]
#: Besu's options the node configs use, with the TOML type Besu parses each as (docs: reference/cli/options).
BESU_OPTION_TYPES: dict[str, type] = {
    "data-path": str, "genesis-file": str, "node-private-key-file": str, "profile": str, "p2p-host": str,
    "p2p-port": int, "bootnodes": list, "min-gas-price": int, "rpc-http-enabled": bool, "rpc-http-host": str,
    "rpc-http-port": int, "rpc-http-api": list, "host-allowlist": list, "permissions-nodes-config-file-enabled": bool,
    "permissions-nodes-config-file": str, "permissions-accounts-config-file-enabled": bool,
    "permissions-accounts-config-file": str, "metrics-enabled": bool, "metrics-host": str, "metrics-port": int,
    "logging": str,
}
#: The four validators and extraData of the block-header example in Besu's QBFT documentation.
DOCUMENTED_VALIDATORS = ["0x4592c8e45706cc08b8f44b11e43cba0cfc5892cb", "0x06e23768a0f59cf365e18c2e0c89e151bcdedc70",
                         "0xc5327f96ee02d7bcbc1bf1236b8c15148971e1de", "0xab5e7f4061c605820d3744227eed91ff8e2c8908"]
DOCUMENTED_EXTRA_DATA = ("0xf87aa00000000000000000000000000000000000000000000000000000000000000000f854944592c8e45706cc08"
                         "b8f44b11e43cba0cfc5892cb9406e23768a0f59cf365e18c2e0c89e151bcdedc7094c5327f96ee02d7bcbc1bf1236b"
                         "8c15148971e1de94ab5e7f4061c605820d3744227eed91ff8e2c8908c080c0")


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def edit_json(path: Path, change: Callable[[Any], None]) -> None:
    value = read_json(path)
    change(value)
    path.write_text(json.dumps(value))


def edit_toml(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    import tomli_w

    value = tomllib.loads(path.read_text())
    change(value)
    path.write_text(tomli_w.dumps(value))


def failed(directory: Path) -> set[str]:
    return {check.name for check in check_network(directory) if check.problems}


def node_key(kit: NetworkKitFiles, name: str) -> bytes:
    return bytes.fromhex((kit.directory / "nodes" / name / "key").read_text().removeprefix("0x"))


def test_init_writes_a_kit_that_passes_every_check(network_kit: NetworkKitFiles) -> None:
    checks = check_network(network_kit.directory)
    assert len(checks) == 9 and [c for c in checks if c.problems] == []


def test_check_command_prints_every_check_and_exits_0_on_the_kit_init_wrote(network_kit: NetworkKitFiles) -> None:
    result = runner.invoke(app, ["network", "check", str(network_kit.directory)])
    assert result.exit_code == 0, result.output
    assert len([line for line in result.output.splitlines() if line.startswith("ok ")]) == 9


def test_init_command_writes_a_kit_for_the_validators_asked(tmp_path: Path) -> None:
    spec, _ = write_keystore_spec(tmp_path, ["GA", "MZ"])
    write_keystore(tmp_path / "deployer.json")
    result = runner.invoke(app, ["network", "init", "--validators", "5", "--out", str(tmp_path / "net"),
                                 "--spec", str(spec), "--deployer", str(tmp_path / "deployer.json")])
    assert result.exit_code == 0, result.output
    assert len(decode_extra_data(read_json(tmp_path / "net" / "genesis.json")["extraData"])) == 5


def _drop_validator_4(kit: Path) -> None:
    edit_json(kit / "network.json", lambda record: record["nodes"].pop(3))


def _timeout_below_twice_the_period(kit: Path) -> None:
    edit_json(kit / "genesis.json", lambda g: g["config"]["qbft"].update(blockperiodseconds=2, requesttimeoutseconds=3))


def _public_chain_id(kit: Path) -> None:
    edit_json(kit / "genesis.json", lambda g: g["config"].update(chainId=11155111))


def _development_chain_id(kit: Path) -> None:
    edit_json(kit / "genesis.json", lambda g: g["config"].update(chainId=31337))


def _extra_data_of_other_keys(kit: Path) -> None:
    others = [NodeKey.generate().address for _ in range(4)]
    edit_json(kit / "genesis.json", lambda g: g.update(extraData=qbft_extra_data(others)))


def _key_pub_of_another_key(kit: Path) -> None:
    (kit / "nodes" / "validator-2" / "key.pub").write_text("0x" + NodeKey.generate().node_id)


def _rpc_node_not_allowlisted(kit: Path) -> None:
    edit_toml(kit / "permissions_config.toml", lambda p: p["nodes-allowlist"].pop())


def _unlisted_bootnode(kit: Path) -> None:
    stranger = NodeKey.generate().enode("172.16.239.99")
    edit_toml(kit / "nodes" / "rpc-1" / "config.toml", lambda c: c["bootnodes"].append(stranger))


def _department_not_allowlisted(kit: Path) -> None:
    edit_toml(kit / "permissions_config.toml", lambda p: p["accounts-allowlist"].pop())


def _node_with_a_minimum_gas_price(kit: Path) -> None:
    edit_toml(kit / "nodes" / "validator-3" / "config.toml", lambda c: c.update({"min-gas-price": 1000}))


def _base_fee_not_zero(kit: Path) -> None:
    edit_json(kit / "genesis.json", lambda g: g["config"].pop("zeroBaseFee"))


@pytest.mark.parametrize(("breakage", "named"), [
    (_drop_validator_4, {"validators", "extra-data"}),  # its key is still in extraData
    (_timeout_below_twice_the_period, {"request-timeout"}),
    (_public_chain_id, {"chain-id"}),
    (_development_chain_id, {"chain-id"}),
    (_extra_data_of_other_keys, {"extra-data"}),
    (_key_pub_of_another_key, {"node-keys"}),
    (_rpc_node_not_allowlisted, {"nodes-allowlisted"}),
    (_unlisted_bootnode, {"bootnodes-allowlisted"}),
    (_department_not_allowlisted, {"accounts-allowlisted"}),
    (_node_with_a_minimum_gas_price, {"free-gas"}),
    (_base_fee_not_zero, {"free-gas"}),
], ids=lambda value: value.__name__.strip("_") if callable(value) else None)
def test_check_fails_naming_the_broken_lint(network_kit: NetworkKitFiles, breakage: Callable[[Path], None],
                                            named: set[str]) -> None:
    breakage(network_kit.directory)
    assert failed(network_kit.directory) == named


def test_check_command_exits_1_with_one_line_naming_the_broken_lint(network_kit: NetworkKitFiles) -> None:
    _timeout_below_twice_the_period(network_kit.directory)
    result = runner.invoke(app, ["network", "check", str(network_kit.directory)])
    assert result.exit_code == 1
    error = [line for line in result.output.splitlines() if line.startswith("error")]
    assert len(error) == 1 and error[0].startswith("error (network_check_failed): 1 problem(s): request-timeout:")
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("path", "content"), [("nodes/rpc-1/config.toml", "min-gas-price = = 0\n"),
                                             ("nodes/validator-2/key", "0x" + "00" * 32),
                                             ("genesis.json", "{\"config\": "),
                                             ("network.json", "[]")], ids=["toml", "zero-key", "json", "not-object"])
def test_check_names_a_file_that_does_not_parse_without_a_traceback(network_kit: NetworkKitFiles, path: str,
                                                                    content: str) -> None:
    (network_kit.directory / path).write_text(content)
    result = runner.invoke(app, ["network", "check", str(network_kit.directory)])
    assert result.exit_code == 1
    assert f"files: {path}:" in result.output and "Traceback" not in result.output


def test_check_with_a_spec_requires_a_department_added_since_init(network_kit: NetworkKitFiles) -> None:
    spec = read_json(network_kit.spec)
    added = write_keystore(network_kit.spec.with_name("SW.json"))
    spec["departments"].append({"code": "SW", "name": "Department SW", "roles": ["issuer"],
                                "keystore": str(network_kit.spec.with_name("SW.json"))})
    network_kit.spec.write_text(json.dumps(spec))
    problems = [p for c in check_network(network_kit.directory, spec=load_spec(network_kit.spec)) for p in c.problems]
    assert len(problems) == 1 and f"SW's account {added}" in problems[0]


def test_extra_data_encodes_besus_documented_example() -> None:
    assert qbft_extra_data(DOCUMENTED_VALIDATORS) == DOCUMENTED_EXTRA_DATA


def test_genesis_extra_data_decodes_to_the_addresses_of_the_validator_keys(network_kit: NetworkKitFiles) -> None:
    addresses = []
    for name in NODES[:4]:
        public = PublicKey.from_secret(node_key(network_kit, name)).format(compressed=False)[1:]
        addresses.append(to_checksum_address(keccak(public)[12:]))
    assert decode_extra_data(read_json(network_kit.directory / "genesis.json")["extraData"]) == addresses


def test_enode_ids_in_the_allowlist_are_the_public_keys_of_the_key_files(network_kit: NetworkKitFiles) -> None:
    allowlist = tomllib.loads((network_kit.directory / "permissions_config.toml").read_text())["nodes-allowlist"]
    ids = [PublicKey.from_secret(node_key(network_kit, name)).format(compressed=False)[1:].hex() for name in NODES]
    assert [enode.removeprefix("enode://").split("@")[0] for enode in allowlist] == ids


def test_node_key_files_are_readable_by_their_owner_only(network_kit: NetworkKitFiles) -> None:
    modes = {stat.S_IMODE((network_kit.directory / "nodes" / name / "key").stat().st_mode) for name in NODES}
    assert modes == {0o600}


def test_node_configs_use_besus_option_names_and_types(network_kit: NetworkKitFiles) -> None:
    for name in NODES:
        config = tomllib.loads((network_kit.directory / "nodes" / name / "config.toml").read_text())
        assert {key: type(value) for key, value in config.items()} == {key: BESU_OPTION_TYPES[key] for key in config}


def test_validators_boot_from_the_other_validators_and_rpc_nodes_from_all_of_them(
        network_kit: NetworkKitFiles) -> None:
    allowlist = tomllib.loads((network_kit.directory / "permissions_config.toml").read_text())["nodes-allowlist"]
    validators = allowlist[:4]
    bootnodes = {name: tomllib.loads((network_kit.directory / "nodes" / name / "config.toml").read_text())["bootnodes"]
                 for name in NODES}
    assert bootnodes == {**{name: [e for e in validators if e != own] for name, own in zip(NODES, validators)},
                         "rpc-1": validators}


def test_permissions_config_has_besus_two_allowlists_of_strings(network_kit: NetworkKitFiles) -> None:
    permissions = tomllib.loads((network_kit.directory / "permissions_config.toml").read_text())
    assert set(permissions) == {"nodes-allowlist", "accounts-allowlist"}
    assert all(isinstance(v, str) for values in permissions.values() for v in values)
    assert set(permissions["accounts-allowlist"]) == {a.lower() for a in network_kit.accounts.values()}


def test_genesis_has_besus_qbft_field_names_and_types(network_kit: NetworkKitFiles) -> None:
    genesis = read_json(network_kit.directory / "genesis.json")
    config = genesis["config"]
    assert config["qbft"] == {"blockperiodseconds": 2, "epochlength": 30000, "requesttimeoutseconds": 4}
    assert type(config["chainId"]) is int and config["zeroBaseFee"] is True and config["londonBlock"] == 0
    assert all(isinstance(genesis[field], str) and genesis[field].startswith("0x")
               for field in ("nonce", "timestamp", "gasLimit", "difficulty", "mixHash", "coinbase", "extraData"))
    assert genesis["mixHash"] == BFT_MIX_HASH and genesis["alloc"] == {}


def test_compose_runs_the_pinned_besu_for_every_node_and_publishes_rpc_on_loopback_only(
        network_kit: NetworkKitFiles) -> None:
    compose = yaml.safe_load((network_kit.directory / "docker-compose.yml").read_text())
    services = compose["services"]
    assert list(services) == NODES and {s["image"] for s in services.values()} == {BESU_IMAGE}
    assert not BESU_IMAGE.endswith(":latest")
    assert {name: s.get("ports") for name, s in services.items() if s.get("ports")} == {
        "rpc-1": ["127.0.0.1:8545:8545"]}


def test_compose_gives_each_node_its_own_key_folder_and_the_address_its_enode_names(
        network_kit: NetworkKitFiles) -> None:
    services = yaml.safe_load((network_kit.directory / "docker-compose.yml").read_text())["services"]
    allowlist = tomllib.loads((network_kit.directory / "permissions_config.toml").read_text())["nodes-allowlist"]
    for name, enode in zip(NODES, allowlist):
        assert f"./nodes/{name}:/network/node:ro" in services[name]["volumes"]
        assert enode.endswith(f"@{services[name]['networks']['certnet']['ipv4_address']}:30303")


def test_init_never_writes_into_a_directory_that_has_files(network_kit: NetworkKitFiles) -> None:
    before = (network_kit.directory / "nodes" / "validator-1" / "key").read_text()
    with pytest.raises(NetworkKitError, match="not empty"):
        init_network(network_kit.directory, spec=load_spec(network_kit.spec), deployer_keystore=network_kit.deployer)
    assert (network_kit.directory / "nodes" / "validator-1" / "key").read_text() == before


def test_init_refuses_fewer_than_four_validators(network_kit: NetworkKitFiles, tmp_path: Path) -> None:
    with pytest.raises(NetworkKitError, match="3 validators"):
        init_network(tmp_path / "three", spec=load_spec(network_kit.spec), deployer_keystore=network_kit.deployer,
                     validators=3)
    assert not (tmp_path / "three").exists()


@pytest.mark.parametrize("chain_id", [1, 137, 11155111, 1337, 31337])
def test_init_refuses_a_public_or_development_chain_id(network_kit: NetworkKitFiles, tmp_path: Path,
                                                       chain_id: int) -> None:
    with pytest.raises(NetworkKitError, match=f"chain id {chain_id}"):
        init_network(tmp_path / "net", spec=load_spec(network_kit.spec), deployer_keystore=network_kit.deployer,
                     chain_id=chain_id)


def test_init_refuses_a_round_timeout_shorter_than_twice_the_block_period() -> None:
    with pytest.raises(NetworkKitError, match="request timeout 5 s"):
        QbftParameters(block_period_seconds=3, request_timeout_seconds=5)


def test_round_timeout_defaults_to_twice_the_block_period() -> None:
    assert QbftParameters(block_period_seconds=3).request_timeout_seconds == 6


def test_init_refuses_departments_on_the_public_development_mnemonic(network_kit: NetworkKitFiles,
                                                                     tmp_path: Path) -> None:
    spec = tmp_path / "dev.yaml"
    spec.write_text(json.dumps({"quorum": 1, "governors": ["GA"], "departments": [
        {"code": "GA", "name": "GA", "roles": ["governor"], "account": 1}]}))
    with pytest.raises(NetworkKitError, match="GA use the public development mnemonic"):
        init_network(tmp_path / "net", spec=load_spec(spec), deployer_keystore=network_kit.deployer)
