"""A production chain kit: the files a consortium needs to start a Hyperledger Besu QBFT network, and a linter.

`init_network` writes, into a new directory:

- `genesis.json`: QBFT (block period, epoch, round timeout), the validators in `extraData`, a free-gas chain
  (`zeroBaseFee`, no balances needed);
- `nodes/<name>/`: one folder per node (`validator-1`… and `rpc-1`…) with its secp256k1 key (`key`,
  `key.pub`, as Besu writes them) and its `config.toml` (Besu's command-line options as TOML keys);
- `permissions_config.toml`: the nodes allow-list (every node's enode) and the accounts allow-list (the
  deployer and every department of the bootstrap spec: nobody else can send a transaction);
- `docker-compose.yml`: every node on one bridge network with fixed addresses, the RPC nodes' JSON-RPC
  published on the host's loopback only;
- `network.json`: what the kit was asked for (nodes, their addresses, the accounts), for `check_network`.

`check_network` lints such a directory (also one edited by hand) and names every problem. The formats follow
Besu's documentation (QBFT genesis, local permissioning, configuration file); Besu itself does not run here, so
tests/ledger_node/test_network.py holds the files to those documented names and types.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Literal

import rlp
import tomli_w
import yaml
from coincurve import PrivateKey as CurveKey
from eth_keys import keys
from eth_utils import ValidationError, to_checksum_address

from ledger_node.errors import LedgerError
from ledger_node.spec import ConsortiumSpec
from ledger_node.types import DEVELOPMENT_CHAIN_IDS

#: The Besu release the compose file runs; a consortium upgrades all nodes together (docs/deployment.md).
BESU_IMAGE = "hyperledger/besu:25.12.0"
#: The mixHash every IBFT 2.0 / QBFT block carries ("ctical byzantine fault tolerance"), as Besu requires.
BFT_MIX_HASH = "0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365"
#: QBFT tolerates f faulty validators out of 3f + 1: fewer than 4 tolerate none.
MIN_VALIDATORS = 4
MAX_VALIDATORS = 31  # QBFT's messages grow with the square of the validators; a city's groups fit well below
MAX_RPC_NODES = 16
#: Chain ids of public networks (mainnets and their test networks): a consortium chain that reused one could
#: have its signed transactions replayed there, and wallets would mistake it for them.
PUBLIC_CHAIN_IDS: dict[int, str] = {
    1: "Ethereum", 3: "Ropsten", 4: "Rinkeby", 5: "Goerli", 10: "OP Mainnet", 25: "Cronos", 56: "BNB Smart Chain",
    61: "Ethereum Classic", 63: "Mordor", 97: "BNB testnet", 100: "Gnosis", 137: "Polygon", 250: "Fantom",
    324: "zkSync Era", 1101: "Polygon zkEVM", 8453: "Base", 17000: "Holesky", 42161: "Arbitrum One",
    42220: "Celo", 43114: "Avalanche C-Chain", 59144: "Linea", 80002: "Polygon Amoy", 534352: "Scroll",
    560048: "Hoodi", 11155111: "Sepolia", 11155420: "OP Sepolia",
}
DEFAULT_CHAIN_ID = 320100  # Nanjing's administrative division code: private, and no public network's
DEFAULT_SUBNET = "172.16.239.0/24"
P2P_PORT = 30303
RPC_PORT = 8545
METRICS_PORT = 9545
#: Where the compose file mounts the kit's files inside each container; config.toml's paths are these.
MOUNT = "/network"
DATA_PATH = "/data"  # a named volume: Besu must not have its data at its install path /opt/besu
NodeRole = Literal["validator", "rpc"]


class NetworkKitError(LedgerError):
    """`certnet network init` was asked for something it cannot write."""

    code = "invalid_network"


class NetworkCheckFailed(LedgerError):
    """`certnet network check` found problems; `checks` holds every check with its problems."""

    code = "network_check_failed"

    def __init__(self, checks: list[Check]) -> None:
        failed = [check for check in checks if check.problems]
        super().__init__(f"{sum(len(c.problems) for c in failed)} problem(s): "
                         + "; ".join(f"{c.name}: {problem}" for c in failed for problem in c.problems))
        self.checks = checks


@dataclass(frozen=True)
class QbftParameters:
    """The consensus settings of the genesis file (`config.qbft`) and the block gas limit."""

    block_period_seconds: int = 2
    #: Default: twice the block period, Besu's advice to start from; it must not be shorter (`check_network`).
    request_timeout_seconds: int | None = None
    epoch_length: int = 30_000
    #: With free gas, the gas limit is the only bound on the work a block asks of the validators: 100 M gas holds
    #: about 1 500 single issuances (65 020 gas each, docs/gas.md), 750 a second with 2-second blocks.
    gas_limit: int = 100_000_000

    def __post_init__(self) -> None:
        if not 1 <= self.block_period_seconds <= 60:
            raise NetworkKitError(f"block period {self.block_period_seconds} s: choose 1 to 60 s")
        if self.request_timeout_seconds is None:
            object.__setattr__(self, "request_timeout_seconds", 2 * self.block_period_seconds)
        elif not 2 * self.block_period_seconds <= self.request_timeout_seconds <= 600:
            raise NetworkKitError(f"request timeout {self.request_timeout_seconds} s: choose twice the block period "
                                  f"({2 * self.block_period_seconds} s) to 600 s")
        if not 1_000 <= self.epoch_length <= 1_000_000:
            raise NetworkKitError(f"epoch length {self.epoch_length}: choose 1 000 to 1 000 000 blocks")
        if not 5_000_000 <= self.gas_limit <= 2**53 - 1:
            raise NetworkKitError(f"gas limit {self.gas_limit}: choose 5 000 000 to 2^53 - 1")


@dataclass(frozen=True)
class NodeKey:
    """A node's secp256k1 key: its address is the validator's identity, its public key the enode id."""

    private: keys.PrivateKey

    @classmethod
    def generate(cls) -> NodeKey:
        return cls(keys.PrivateKey(CurveKey().secret))

    @classmethod
    def read(cls, folder: Path) -> NodeKey:
        """The key in `folder/key` (hex, with or without 0x, as Besu reads it)."""
        text = (folder / "key").read_text().strip().removeprefix("0x")
        try:
            return cls(keys.PrivateKey(bytes.fromhex(text)))
        except (ValueError, ValidationError):  # not hex, not 32 bytes, or not a key of the curve (0, ≥ its order)
            raise ValueError("not a secp256k1 private key in hex") from None

    @property
    def address(self) -> str:
        return self.private.public_key.to_checksum_address()

    @property
    def node_id(self) -> str:
        """The uncompressed public key without its 04 prefix, in hex: the id of the enode URL."""
        return self.private.public_key.to_bytes().hex()

    def enode(self, host: str, port: int = P2P_PORT) -> str:
        return f"enode://{self.node_id}@{host}:{port}"

    def write(self, folder: Path) -> None:
        """`key` (mode 0600) and `key.pub`, as `besu operator generate-blockchain-config` writes them."""
        folder.mkdir(parents=True)
        descriptor = os.open(folder / "key", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(self.private.to_hex())
        (folder / "key.pub").write_text("0x" + self.node_id)


@dataclass(frozen=True)
class Node:
    name: str
    role: NodeRole
    ip: str
    rpc_host_port: int | None = None  # the RPC nodes' JSON-RPC port on the host's loopback


def qbft_extra_data(validators: Iterable[str]) -> str:
    """QBFT's genesis `extraData`: RLP([32-byte vanity, [validator addresses], [] votes, round 0, [] seals])."""
    return "0x" + rlp.encode([b"\0" * 32, [bytes.fromhex(v.removeprefix("0x")) for v in validators],
                              [], b"", []]).hex()


def decode_extra_data(extra_data: str) -> list[str]:
    """The validator addresses in a QBFT `extraData`; ValueError when it is not QBFT's layout."""
    try:
        decoded = rlp.decode(bytes.fromhex(extra_data.removeprefix("0x")))
    except (ValueError, rlp.exceptions.DecodingError) as error:
        raise ValueError(f"not RLP: {error}") from None
    if (not isinstance(decoded, list) or len(decoded) != 5 or decoded[0] != b"\0" * 32
            or not isinstance(decoded[1], list) or any(not isinstance(v, bytes) or len(v) != 20 for v in decoded[1])):
        raise ValueError("not QBFT's [vanity, validators, votes, round, seals]")
    return [to_checksum_address(v) for v in decoded[1]]


def keystore_address(path: Path) -> str:
    """The address an eth-account keystore file declares (read without its passphrase)."""
    try:
        address = json.loads(Path(path).read_text()).get("address", "")
    except (OSError, ValueError, AttributeError) as error:
        raise NetworkKitError(f"cannot read the keystore {path}: {getattr(error, 'strerror', None) or error}") from None
    if not isinstance(address, str) or not re.fullmatch(r"(0x)?[0-9a-fA-F]{40}", address):
        raise NetworkKitError(f"the keystore {path} declares no address")
    return to_checksum_address("0x" + address.removeprefix("0x"))


def department_accounts(spec: ConsortiumSpec) -> dict[str, str]:
    """Each department's address, from its keystore (a path as `certnet bootstrap` reads it). A department on
    the public development mnemonic is refused: anyone could send as it on this network."""
    on_mnemonic = [d.code for d in spec.departments if d.keystore is None]
    if on_mnemonic:
        raise NetworkKitError(f"departments {', '.join(on_mnemonic)} use the public development mnemonic "
                              "(`account:`): give each a keystore (`certnet keys new`) for a production network")
    return {d.code: keystore_address(Path(d.keystore)) for d in spec.departments if d.keystore is not None}


def chain_id_problem(chain_id: int) -> str | None:
    """Why `chain_id` is unfit for a consortium chain, or None."""
    if chain_id in PUBLIC_CHAIN_IDS:
        return f"chain id {chain_id} is {PUBLIC_CHAIN_IDS[chain_id]}'s: choose a private one"
    if chain_id in DEVELOPMENT_CHAIN_IDS:
        return (f"chain id {chain_id} is a local development chain's: the gateway would accept the public "
                "development keys and tokens on it")
    if not 1 <= chain_id < 2**32:
        return f"chain id {chain_id} is outside 1 to 2^32 - 1"
    return None


def plan_nodes(validators: int, rpc_nodes: int, subnet: str) -> list[Node]:
    """Validators first, then RPC nodes, at consecutive addresses from .11 of `subnet`."""
    if not MIN_VALIDATORS <= validators <= MAX_VALIDATORS:
        raise NetworkKitError(f"{validators} validators: QBFT needs {MIN_VALIDATORS} to tolerate one faulty "
                              f"validator; choose {MIN_VALIDATORS} to {MAX_VALIDATORS}")
    if not 1 <= rpc_nodes <= MAX_RPC_NODES:
        raise NetworkKitError(f"{rpc_nodes} RPC nodes: choose 1 to {MAX_RPC_NODES}")
    try:
        network = ipaddress.IPv4Network(subnet)
    except ValueError as error:
        raise NetworkKitError(f"subnet {subnet!r}: {error}") from None
    if not network.is_private or network.num_addresses < 11 + validators + rpc_nodes:
        raise NetworkKitError(f"subnet {subnet} must be a private range with room for every node from .11 on")
    names = [(f"validator-{i}", "validator") for i in range(1, validators + 1)]
    names += [(f"rpc-{i}", "rpc") for i in range(1, rpc_nodes + 1)]
    return [Node(name, role, str(network[11 + i]), RPC_PORT + i - validators if role == "rpc" else None)
            for i, (name, role) in enumerate(names)]


def genesis(chain_id: int, validators: list[str], qbft: QbftParameters) -> dict[str, Any]:
    """A QBFT genesis for a free-gas chain. Milestones up to London (EIP-1559, needed for `zeroBaseFee`): the
    contracts are compiled for Paris, which on a chain without proof of stake runs what London runs."""
    milestones = ["homesteadBlock", "eip150Block", "eip155Block", "eip158Block", "byzantiumBlock",
                  "constantinopleBlock", "petersburgBlock", "istanbulBlock", "berlinBlock", "londonBlock"]
    return {
        "config": {
            "chainId": chain_id,
            **{milestone: 0 for milestone in milestones},
            "zeroBaseFee": True,
            "qbft": {"blockperiodseconds": qbft.block_period_seconds, "epochlength": qbft.epoch_length,
                     "requesttimeoutseconds": qbft.request_timeout_seconds},
        },
        "nonce": "0x0",
        "timestamp": hex(int(time.time())),
        "gasLimit": hex(qbft.gas_limit),
        "difficulty": "0x1",
        "mixHash": BFT_MIX_HASH,
        "coinbase": "0x" + "00" * 20,
        "alloc": {},  # free gas: senders need no balance
        "extraData": qbft_extra_data(validators),
        "number": "0x0",
        "gasUsed": "0x0",
        "parentHash": "0x" + "00" * 32,
    }


def node_config(node: Node, bootnodes: list[str]) -> dict[str, Any]:
    """The node's Besu options as configuration-file keys; paths are those inside its container."""
    apis = ["ETH", "NET", "WEB3", "QBFT"] if node.role == "validator" else ["ETH", "NET", "WEB3", "TXPOOL"]
    return {
        "data-path": DATA_PATH,
        "genesis-file": f"{MOUNT}/genesis.json",
        "node-private-key-file": f"{MOUNT}/node/key",
        "profile": "ENTERPRISE",  # full sync, the private-network defaults
        "p2p-host": node.ip,
        "p2p-port": P2P_PORT,
        "bootnodes": bootnodes,
        "min-gas-price": 0,  # a node with a higher minimum silently drops the free transactions
        "rpc-http-enabled": True,
        "rpc-http-host": "0.0.0.0",
        "rpc-http-port": RPC_PORT,
        "rpc-http-api": apis,
        "host-allowlist": ["*"],  # reachable only on the compose network and the host's loopback
        "permissions-nodes-config-file-enabled": True,
        "permissions-nodes-config-file": f"{MOUNT}/permissions_config.toml",
        "permissions-accounts-config-file-enabled": True,
        "permissions-accounts-config-file": f"{MOUNT}/permissions_config.toml",
        "metrics-enabled": True,
        "metrics-host": "0.0.0.0",
        "metrics-port": METRICS_PORT,
        "logging": "INFO",
    }


def compose_file(nodes: list[Node], subnet: str) -> dict[str, Any]:
    services: dict[str, Any] = {}
    for node in nodes:
        service: dict[str, Any] = {
            "image": BESU_IMAGE,
            "command": [f"--config-file={MOUNT}/node/config.toml"],
            "volumes": ["./genesis.json:/network/genesis.json:ro",
                        "./permissions_config.toml:/network/permissions_config.toml:ro",
                        f"./nodes/{node.name}:{MOUNT}/node:ro", f"{node.name}-data:{DATA_PATH}"],
            "networks": {"certnet": {"ipv4_address": node.ip}},
            "restart": "unless-stopped",
        }
        if node.rpc_host_port is not None:
            service["ports"] = [f"127.0.0.1:{node.rpc_host_port}:{RPC_PORT}"]
        services[node.name] = service
    return {
        "name": "certnet-besu",
        "services": services,
        "networks": {"certnet": {"driver": "bridge", "ipam": {"config": [{"subnet": subnet}]}}},
        "volumes": {f"{node.name}-data": {} for node in nodes},
    }


def init_network(out: Path, *, spec: ConsortiumSpec, deployer_keystore: Path, validators: int = 4,
                 rpc_nodes: int = 1, chain_id: int = DEFAULT_CHAIN_ID, qbft: QbftParameters = QbftParameters(),
                 subnet: str = DEFAULT_SUBNET) -> list[tuple[Node, NodeKey]]:
    """Writes the kit into `out`, which must not exist or be empty (keys are never overwritten)."""
    if problem := chain_id_problem(chain_id):
        raise NetworkKitError(problem)
    nodes = plan_nodes(validators, rpc_nodes, subnet)
    accounts = {"deployer": keystore_address(deployer_keystore), **department_accounts(spec)}
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise NetworkKitError(f"{out} exists and is not empty: a network's keys are never overwritten")
    keyed = [(node, NodeKey.generate()) for node in nodes]
    validator_enodes = [key.enode(node.ip) for node, key in keyed if node.role == "validator"]
    out.mkdir(parents=True, exist_ok=True)
    _write_json(out / "genesis.json",
                genesis(chain_id, [key.address for node, key in keyed if node.role == "validator"], qbft))
    (out / "permissions_config.toml").write_text(tomli_w.dumps({
        "nodes-allowlist": [key.enode(node.ip) for node, key in keyed],
        "accounts-allowlist": sorted({address.lower() for address in accounts.values()}),
    }))
    for node, key in keyed:
        folder = out / "nodes" / node.name
        key.write(folder)
        own = key.enode(node.ip)
        (folder / "config.toml").write_text(tomli_w.dumps(node_config(node, [e for e in validator_enodes
                                                                             if e != own])))
    (out / "docker-compose.yml").write_text(yaml.safe_dump(compose_file(nodes, subnet), sort_keys=False))
    _write_json(out / "network.json", {
        "chainId": chain_id, "subnet": subnet, "besuImage": BESU_IMAGE,
        "nodes": [{"name": node.name, "role": node.role, "ip": node.ip, "address": key.address}
                  for node, key in keyed],
        "accounts": accounts,
    })
    return keyed


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2) + "\n")


# ----- the linter -----


@dataclass
class Check:
    name: str
    description: str
    problems: list[str] = field(default_factory=list)


@dataclass
class Kit:
    """A kit directory as read from disk."""

    genesis: dict[str, Any]
    permissions: dict[str, Any]
    record: dict[str, Any]
    configs: dict[str, dict[str, Any]]  # by node name
    keys: dict[str, NodeKey]  # by node name
    published_keys: dict[str, str]  # each node's key.pub, "" when missing

    def nodes(self, role: NodeRole | None = None) -> list[dict[str, Any]]:
        return [n for n in self.record["nodes"] if role is None or n["role"] == role]

    def enode(self, node: dict[str, Any]) -> str:
        return self.keys[node["name"]].enode(node["ip"])


def read_kit(directory: Path) -> tuple[Kit | None, list[str]]:
    """The kit, or None with what could not be read (each file named)."""
    problems: list[str] = []

    def load(path: Path, parse: Callable[[str], Any]) -> Any:
        try:
            value = parse(path.read_text())
        except (OSError, ValueError) as error:  # JSONDecodeError and TOMLDecodeError are ValueErrors
            problems.append(f"{path.relative_to(directory)}: {getattr(error, 'strerror', None) or error}")
            return {}
        if not isinstance(value, dict):
            problems.append(f"{path.relative_to(directory)}: not an object")
            return {}
        return value

    genesis_file = load(directory / "genesis.json", json.loads)
    permissions = load(directory / "permissions_config.toml", tomllib.loads)
    record = load(directory / "network.json", json.loads)
    nodes = record.get("nodes", [])
    if (not isinstance(nodes, list) or len(nodes) > MAX_VALIDATORS + MAX_RPC_NODES
            or not all(isinstance(n, dict) and isinstance(n.get("name"), str) and n.get("role") in ("validator", "rpc")
                       and isinstance(n.get("ip"), str) for n in nodes)):
        problems.append(f"network.json: `nodes` must list at most {MAX_VALIDATORS + MAX_RPC_NODES} objects with a "
                        "name, a role (validator or rpc) and an ip")
        nodes = []
    configs: dict[str, dict[str, Any]] = {}
    node_keys: dict[str, NodeKey] = {}
    published: dict[str, str] = {}
    for node in nodes:
        folder = directory / "nodes" / node["name"]
        configs[node["name"]] = load(folder / "config.toml", tomllib.loads)
        try:
            node_keys[node["name"]] = NodeKey.read(folder)
        except (OSError, ValueError) as error:
            problems.append(f"nodes/{node['name']}/key: {getattr(error, 'strerror', None) or error}")
        public = folder / "key.pub"
        published[node["name"]] = public.read_text().strip() if public.is_file() else ""
    if problems:
        return None, problems
    return Kit(genesis_file, permissions, record | {"nodes": nodes}, configs, node_keys, published), []


def check_network(directory: Path, *, spec: ConsortiumSpec | None = None) -> list[Check]:
    """Every check of the kit in `directory`. The accounts that must be allow-listed are those recorded at
    `init` (the deployer and the departments), or the recorded deployer and `spec`'s departments."""
    kit, unreadable = read_kit(directory)
    if kit is None:
        return [Check("files", "the kit's files can be read and parsed", unreadable)]
    recorded = kit.record.get("accounts")
    accounts: dict[str, str] = recorded if isinstance(recorded, dict) else {}
    if spec is not None:
        accounts = {name: address for name, address in accounts.items() if name == "deployer"}
        accounts |= department_accounts(spec)
    return [Check(name, description, lint(kit, accounts)) for name, description, lint in CHECKS]


def _validators(kit: Kit, accounts: dict[str, str]) -> list[str]:
    count = len(kit.nodes("validator"))
    return [] if count >= MIN_VALIDATORS else [
        f"{count} validators: QBFT needs {MIN_VALIDATORS} to keep going with one faulty or stopped"]


def _qbft(kit: Kit) -> dict[str, Any]:
    config = kit.genesis.get("config")
    qbft = config.get("qbft") if isinstance(config, dict) else None
    return qbft if isinstance(qbft, dict) else {}


def _request_timeout(kit: Kit, accounts: dict[str, str]) -> list[str]:
    period, timeout = _qbft(kit).get("blockperiodseconds"), _qbft(kit).get("requesttimeoutseconds")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (period, timeout)):
        return [f"config.qbft: blockperiodseconds {period!r} and requesttimeoutseconds {timeout!r} must be "
                "positive integers"]
    return [] if timeout >= 2 * period else [
        f"requesttimeoutseconds {timeout} < 2 × blockperiodseconds {period}: rounds would time out before a "
        "block can be proposed"]


def _chain_id(kit: Kit, accounts: dict[str, str]) -> list[str]:
    config = kit.genesis.get("config")
    chain_id = config.get("chainId") if isinstance(config, dict) else None
    if not isinstance(chain_id, int) or isinstance(chain_id, bool):
        return [f"config.chainId {chain_id!r} is not an integer"]
    problem = chain_id_problem(chain_id)
    return [problem] if problem else []


def _extra_data(kit: Kit, accounts: dict[str, str]) -> list[str]:
    try:
        listed = decode_extra_data(str(kit.genesis.get("extraData", "")))
    except ValueError as error:
        return [f"extraData: {error}"]
    expected = {kit.keys[node["name"]].address: node["name"] for node in kit.nodes("validator")}
    problems = [f"extraData lists {address}, which is no validator's key" for address in listed
                if address not in expected]
    problems += [f"validator {name} ({address}) is not in extraData" for address, name in expected.items()
                 if address not in listed]
    return problems


def _node_keys(kit: Kit, accounts: dict[str, str]) -> list[str]:
    return [f"nodes/{name}/key.pub is not the public key of nodes/{name}/key" for name, key in kit.keys.items()
            if kit.published_keys[name].removeprefix("0x").lower() != key.node_id]


def _allowlist(kit: Kit, key: str) -> list[str]:
    values = kit.permissions.get(key, [])
    return [str(v).lower() for v in values] if isinstance(values, list) else []


def _nodes_allowlisted(kit: Kit, accounts: dict[str, str]) -> list[str]:
    allowed = _allowlist(kit, "nodes-allowlist")
    return [f"{node['name']} ({kit.enode(node)}) is not in nodes-allowlist: its peers would refuse it"
            for node in kit.nodes() if kit.enode(node).lower() not in allowed]


def _bootnodes_allowlisted(kit: Kit, accounts: dict[str, str]) -> list[str]:
    allowed = _allowlist(kit, "nodes-allowlist")
    return [f"nodes/{name}/config.toml: bootnode {bootnode} is not in nodes-allowlist (Besu would not start)"
            for name, config in kit.configs.items() for bootnode in _list(config.get("bootnodes"))
            if str(bootnode).lower() not in allowed]


def _accounts_allowlisted(kit: Kit, accounts: dict[str, str]) -> list[str]:
    allowed = _allowlist(kit, "accounts-allowlist")
    return [f"{name}'s account {address} is not in accounts-allowlist: its transactions would be refused"
            for name, address in accounts.items() if str(address).lower() not in allowed]


def _free_gas(kit: Kit, accounts: dict[str, str]) -> list[str]:
    config = kit.genesis.get("config")
    problems = [] if isinstance(config, dict) and config.get("zeroBaseFee") is True else [
        "genesis config.zeroBaseFee is not true: senders would need a balance for the base fee"]
    problems += [f"nodes/{name}/config.toml: min-gas-price is {options.get('min-gas-price')!r}, not 0: the node "
                 "would drop the free transactions" for name, options in kit.configs.items()
                 if options.get("min-gas-price") != 0]
    return problems


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


#: name, what it checks, the check.
CHECKS: list[tuple[str, str, Callable[[Kit, dict[str, str]], list[str]]]] = [
    ("validators", f"at least {MIN_VALIDATORS} validators", _validators),
    ("request-timeout", "QBFT's round timeout is at least twice the block period", _request_timeout),
    ("chain-id", "the chain id is neither a public network's nor a development chain's", _chain_id),
    ("extra-data", "genesis extraData lists exactly the validators' keys", _extra_data),
    ("node-keys", "each node's key.pub is its key's public key", _node_keys),
    ("nodes-allowlisted", "every node's enode is in the nodes allow-list", _nodes_allowlisted),
    ("bootnodes-allowlisted", "every bootnode of every node is in the nodes allow-list", _bootnodes_allowlisted),
    ("accounts-allowlisted", "the deployer and every department account are in the accounts allow-list",
     _accounts_allowlisted),
    ("free-gas", "zero base fee in the genesis and a zero minimum gas price on every node", _free_gas),
]
