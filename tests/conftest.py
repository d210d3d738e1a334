"""Shared fixtures: one embedded chain with a deployed consortium, reverted after every test."""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from hexbytes import HexBytes
from sqlalchemy import create_engine, delete, make_url, select, text
from sqlalchemy.orm import sessionmaker
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from web3 import EthereumTesterProvider, Web3
from web3.contract.contract import ContractFunction
from web3.logs import DISCARD
from web3.types import TxReceipt

from gateway.certificates.anchoring import Issuing, anchor_batch, anchor_certificate
from gateway.certificates.document import CertificateType, IssuerRef, new_certificate, redact
from gateway.certificates.jsonld_contexts import shipped_context_files
from gateway.certificates.identity import HolderId, pseudonym
from gateway.certificates.signing import IssuerKey, sign
from gateway.certificates.suites import DEFAULT_SUITE, SM2_SM3, CryptoSuite, Sm2PrivateKey
from gateway.certificates.verification import Verifier
from ledger_node.canonical import content_hash
from ledger_node.deploy import Deployment, Founder, deploy_contracts
from ledger_node.accounts import dev_account
from gateway.audit.access_log import append
from gateway.auth import Caller
from gateway.db import AccessedCertificate, AccessLogEntry, Operation, OperationState, make_engine, session_factory
from gateway.models import IssueRequest
from gateway.service import Gateway
from gateway.settings import Settings
from ledger_node.engines import LocalNode, embedded_web3, free_port
from ledger_node.sender import Sender
from ledger_node.transactions import ContractReverted, transact
from ledger_node.types import PROPOSAL_LIFETIME, DepartmentStatus, Role, code32

GOV1, GOV2, GOV3 = code32("GOV-1"), code32("GOV-2"), code32("GOV-3")
CIVIL = code32("CIVIL-AFFAIRS")  # issues marriage certificates
HOUSING = code32("HOUSING")  # issues property certificates only
RELYING = code32("TAX-BUREAU")
AUDITOR = code32("AUDIT-OFFICE")
OPERATOR = code32("BIG-DATA-BUREAU")
SUSPENDED = code32("SUSPENDED-DEPT")

MARRIAGE = code32("MARRIAGE-CERT")
PROPERTY = code32("PROPERTY-CERT")
SERVICE_ITEM = code32("PROPERTY-REGISTRATION")
SCHEMA_V1 = b"\x01" * 32
ACCESS_LOG = code32("ACCESS-LOG")  # registered with OPERATOR

#: Actor name -> the department its key belongs to (None: a key of no department).
ACTORS: dict[str, bytes | None] = {
    "governor": GOV1,
    "issuer": CIVIL,
    "other_issuer": HOUSING,
    "relying": RELYING,
    "auditor": AUDITOR,
    "operator": OPERATOR,
    "suspended": SUSPENDED,
    "outsider": None,
}


def random_hash() -> bytes:
    return os.urandom(32)


@dataclass
class Network:
    """The deployed contracts plus named signing keys, with helpers to act as them."""

    w3: Web3
    deployment: Deployment
    keys: dict[str, ChecksumAddress]
    new_key: Callable[[], ChecksumAddress]
    signers: dict[ChecksumAddress, LocalAccount]  # the private key behind every address of `keys`

    def signer(self, actor: str) -> LocalAccount:
        return self.signers[self.keys[actor]]

    @property
    def consortium(self) -> Any:
        return self.deployment.consortium

    @property
    def catalog(self) -> Any:
        return self.deployment.catalog

    @property
    def registry(self) -> Any:
        return self.deployment.registry

    @property
    def checkpoints(self) -> Any:
        return self.deployment.checkpoints

    def send(self, function: ContractFunction, actor: str) -> TxReceipt:
        return transact(function, self.keys[actor])

    def govern(self, *functions: ContractFunction, description: str = "test proposal") -> TxReceipt:
        """Runs calls through a proposal approved by two of the three governors (the quorum)."""
        calls = [(f.address, f._encode_transaction_data()) for f in functions]
        receipt = transact(self.consortium.functions.propose(calls, description, PROPOSAL_LIFETIME),
                           self.keys["governor"])
        proposal_id = self.consortium.events.ProposalCreated().process_receipt(receipt, errors=DISCARD)[0]["args"]["proposalId"]
        transact(self.consortium.functions.approve(proposal_id), self.keys["governor2"])
        return transact(self.consortium.functions.execute(proposal_id, calls), self.keys["governor"])

    def terms(self, certificate_type: bytes = MARRIAGE, valid_until: int = 0) -> int:
        """The `terms` word of issue and anchorBatch (the type by its code: its id is read from the catalog)."""
        return self.deployment.issuance_terms(certificate_type, valid_until)

    def issue(self, actor: str = "issuer", certificate_type: bytes = MARRIAGE, valid_until: int = 0) -> bytes:
        certificate_hash = random_hash()
        self.send(self.registry.functions.issue(certificate_hash, self.terms(certificate_type, valid_until)), actor)
        return certificate_hash

    def now(self) -> int:
        return self.w3.eth.get_block("latest")["timestamp"]

    def advance_time(self, seconds: int) -> None:
        """Mines a block `seconds` later than the latest one."""
        if isinstance(self.w3.provider, EthereumTesterProvider):
            self.w3.testing.timeTravel(self.now() + seconds)
            self.w3.testing.mine()
        else:  # ganache's eth_call ignores evm_increaseTime; a block mined at a set time is seen
            self.w3.provider.make_request("evm_mine", [{"timestamp": self.now() + seconds}])


def _embedded_chain(signers: dict[ChecksumAddress, LocalAccount]) -> tuple[Web3, Callable[[], ChecksumAddress]]:
    """The in-process chain; new keys are created, registered with it and funded."""
    w3 = embedded_web3()

    def new_key() -> ChecksumAddress:
        account = Account.create()
        w3.provider.ethereum_tester.add_account(account.key.to_0x_hex())
        w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": account.address, "value": 10**20})
        signers[account.address] = account
        return account.address

    return w3, new_key


@pytest.fixture(scope="session")
def ganache() -> Iterator[Web3]:
    """One ganache process for the session, with 200 funded development accounts."""
    node = LocalNode("ganache", accounts=200)
    yield node.start()
    node.stop()


@pytest.fixture
def chain_snapshot(ganache: Web3) -> Iterator[Web3]:
    """The session's ganache, restored to its state before the test."""
    snapshot = ganache.testing.snapshot()
    yield ganache
    ganache.testing.revert(snapshot)


def _mnemonic_keys(signers: dict[ChecksumAddress, LocalAccount]) -> Callable[[], ChecksumAddress]:
    """New keys from a local node's funded development accounts 100..199 (1..99 are left to specs using
    the mnemonic)."""
    unused = (dev_account(i) for i in range(100, 200))

    def new_key() -> ChecksumAddress:
        account = next(unused)
        signers[account.address] = account
        return account.address

    return new_key


@pytest.fixture(scope="session", params=["embedded", pytest.param("ganache", marks=pytest.mark.slow)])
def _network(request: pytest.FixtureRequest) -> Network:
    signers: dict[ChecksumAddress, LocalAccount] = {}
    if request.param == "embedded":
        w3, new_key = _embedded_chain(signers)
    else:
        w3, new_key = request.getfixturevalue("ganache"), _mnemonic_keys(signers)
    return _test_network(w3, new_key, signers)


@pytest.fixture(scope="module")
def _sm2_network() -> Network:
    """The test consortium deployed under the sm2-sm3 crypto suite, on an embedded chain of the module's own."""
    signers: dict[ChecksumAddress, LocalAccount] = {}
    w3, new_key = _embedded_chain(signers)
    return _test_network(w3, new_key, signers, crypto_suite=SM2_SM3.name)


@pytest.fixture
def sm2_network(_sm2_network: Network) -> Iterator[Network]:
    """The sm2-sm3 network, restored to its initial state after the test."""
    yield from _restored(_sm2_network)


@pytest.fixture(scope="module")
def anvil_network() -> Iterator[Network]:
    """The test consortium on an anvil of the module's own, mining each transaction at once."""
    node = LocalNode("anvil", accounts=200)
    w3 = node.start()
    w3.provider.make_request("evm_setIntervalMining", [0])
    w3.provider.make_request("evm_setAutomine", [True])
    signers: dict[ChecksumAddress, LocalAccount] = {}
    yield _test_network(w3, _mnemonic_keys(signers), signers)
    node.stop()


def _test_network(w3: Web3, new_key: Callable[[], ChecksumAddress],
                  signers: dict[ChecksumAddress, LocalAccount], crypto_suite: str = DEFAULT_SUITE.name) -> Network:
    """The test consortium deployed on `w3` under `crypto_suite`: three governors, the departments of ACTORS, two
    types, a service item and an access log."""
    keys = {name: new_key() for name in [*ACTORS, "governor2", "governor3"]}
    founders = [
        Founder(GOV1, "治理部门一", int(Role.GOVERNOR), [keys["governor"]]),
        Founder(GOV2, "治理部门二", int(Role.GOVERNOR), [keys["governor2"]]),
        Founder(GOV3, "治理部门三", int(Role.GOVERNOR), [keys["governor3"]]),
    ]
    deployment = deploy_contracts(w3, Sender(w3, [dev_account(0)]), dev_account(0).address, founders, quorum=2,
                                  crypto_suite=crypto_suite)
    network = Network(w3=w3, deployment=deployment, keys=keys, new_key=new_key, signers=signers)
    consortium, catalog = deployment.consortium, deployment.catalog
    network.govern(
        consortium.functions.admitDepartment(CIVIL, "民政局", int(Role.ISSUER), [keys["issuer"]]),
        consortium.functions.admitDepartment(HOUSING, "住房和城乡建设局", int(Role.ISSUER), [keys["other_issuer"]]),
        consortium.functions.admitDepartment(RELYING, "税务局", int(Role.RELYING_PARTY), [keys["relying"]]),
        consortium.functions.admitDepartment(AUDITOR, "审计局", int(Role.AUDITOR), [keys["auditor"]]),
        consortium.functions.admitDepartment(OPERATOR, "大数据管理局", int(Role.LOG_OPERATOR), [keys["operator"]]),
        consortium.functions.admitDepartment(SUSPENDED, "停用部门", int(Role.ISSUER), [keys["suspended"]]),
        deployment.checkpoints.functions.setLogOperator(ACCESS_LOG, OPERATOR),
    )
    network.send(catalog.functions.registerType(MARRIAGE, SCHEMA_V1, "结婚证", [CIVIL, SUSPENDED]), "issuer")
    network.send(catalog.functions.registerType(PROPERTY, SCHEMA_V1, "不动产权证书", [HOUSING]), "other_issuer")
    network.send(catalog.functions.registerServiceItem(SERVICE_ITEM, "不动产登记", [MARRIAGE, PROPERTY]), "relying")
    network.govern(consortium.functions.setStatus(SUSPENDED, DepartmentStatus.SUSPENDED))
    return network


@pytest.fixture
def network(_network: Network) -> Iterator[Network]:
    """The shared network, restored to its initial state after the test."""
    yield from _restored(_network)


def _restored(network: Network) -> Iterator[Network]:
    """`network` for one test: its chain and keys are put back as they were afterwards."""
    snapshot = network.w3.testing.snapshot()
    keys = dict(network.keys)
    yield network
    network.w3.testing.revert(snapshot)
    network.keys = keys


@pytest.fixture
def reverts() -> Callable[..., Any]:
    """`with reverts("ErrorName", *args):` asserts the block reverts with that custom error."""

    @contextmanager
    def _reverts(error: str, *args: Any) -> Iterator[None]:
        with pytest.raises(ContractReverted) as info:
            yield
        assert info.value.error == error, f"reverted with {info.value.error}{info.value.args_}, expected {error}"
        if args:
            assert info.value.args_ == args

    return _reverts


# ----- certificates -----

MARRIAGE_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "结婚证",
    "type": "object",
    "required": ["id", "spouse", "registeredOn", "certificateNumber"],
    "properties": {
        "id": {"type": "string"},
        "holderName": {"type": "string"},
        "spouse": {"type": "string"},
        "spouseName": {"type": "string"},
        "registeredOn": {"type": "string", "format": "date"},
        "certificateNumber": {"type": "string", "pattern": "^J[0-9]{6}-[0-9]{4}-[0-9]{6}$"},
    },
    "additionalProperties": False,
}
PSEUDONYM_SECRET = b"test consortium pseudonym secret"
HOLDER = HolderId.parse("11010519491231002X")
SPOUSE = HolderId.parse("440524188001010014")


def marriage_subject() -> dict[str, Any]:
    return {"holderName": "张三", "spouse": pseudonym(PSEUDONYM_SECRET, SPOUSE), "spouseName": "李四",
            "registeredOn": "2026-05-20", "certificateNumber": "J320102-2026-000123"}


@dataclass
class CertificateDesk:
    """A civil-affairs desk on the test network: makes, signs and anchors marriage certificates."""

    network: Network
    certificate_type: CertificateType
    issuing: Issuing
    signing_key: IssuerKey  # civil affairs' account key, or under sm2-sm3 its registered SM2 key
    suite: CryptoSuite = DEFAULT_SUITE

    def new(self, subject: dict[str, Any] | None = None, *, valid_for: int | None = None,
            holder: HolderId = HOLDER) -> dict[str, Any]:
        now = dt.datetime.fromtimestamp(self.network.now(), dt.timezone.utc)
        return new_certificate(subject or marriage_subject(), pseudonym(PSEUDONYM_SECRET, holder),
                               self.certificate_type, IssuerRef(CIVIL.rstrip(b"\0").decode(), "民政局"),
                               valid_from=now - dt.timedelta(minutes=1),
                               valid_until=now + dt.timedelta(seconds=valid_for) if valid_for else None,
                               suite=self.suite)

    def signed(self, **kwargs: Any) -> dict[str, Any]:
        return sign(self.new(**kwargs), self.signing_key, self.issuing.domain)

    def anchored(self, **kwargs: Any) -> dict[str, Any]:
        return anchor_certificate(self.issuing, self.signed(**kwargs))

    def batch(self, size: int, **kwargs: Any) -> list[dict[str, Any]]:
        return anchor_batch(self.issuing, [self.signed(**kwargs) for _ in range(size)])

    @property
    def verifier(self) -> Verifier:
        """Verifies against this network, on the chain's clock, knowing the pseudonym secret."""
        return Verifier(self.network.deployment, pseudonym_secret=PSEUDONYM_SECRET, now=self.network.now)


def _desk(network: Network, signing_key: IssuerKey, suite: CryptoSuite) -> CertificateDesk:
    network.send(network.catalog.functions.publishTypeVersion(MARRIAGE, content_hash(MARRIAGE_SCHEMA)), "issuer")
    issuer = network.signer("issuer")
    issuing = Issuing(network.deployment, Sender(network.w3, [issuer]), issuer.address)
    return CertificateDesk(network, CertificateType("MARRIAGE-CERT", 2, MARRIAGE_SCHEMA), issuing, signing_key, suite)


@pytest.fixture
def desk(network: Network) -> CertificateDesk:
    """Civil affairs with the marriage type's real schema published as its version 2."""
    return _desk(network, network.signer("issuer"), DEFAULT_SUITE)


@pytest.fixture
def sm2_desk(sm2_network: Network) -> CertificateDesk:
    """Civil affairs on the sm2-sm3 network, signing with an SM2 key it registered itself."""
    key = Sm2PrivateKey.generate()
    sm2_network.send(sm2_network.consortium.functions.addSm2Key(CIVIL, key.public_key), "issuer")
    return _desk(sm2_network, key, SM2_SM3)


# ----- the gateway: a real anvil chain with the demo consortium, the gateway served over HTTP -----

#: The gateway suites run on an anvil devnet (ledger_node.devnet) served by a gateway process (gateway.process).
from gateway.process import GatewayProcess  # noqa: E402
from ledger_node.devnet import (DEMO_DEPARTMENTS, MZ_MARRIAGE, Devnet, build_devnet_template,  # noqa: E402
                                citizen_id, demo_account, start_devnet, transactions_sent)


class TmpfsGatewayProcess(GatewayProcess):
    """The gateway in a user and mount namespace of its own (`unshare -Urm`) with its SQLite database
    on a tmpfs of `size_mb` mounted there, so that a test can fill the database's disk; the tmpfs is
    gone with the process. The test writes files there through /proc/<pid>/root (`storage`), but
    reaches the database from inside the namespace (`inside`, `sql`): SQLite resolves the magic link
    /proc/<pid>/root to "/", the host's directory under the mount."""

    def __init__(self, devnet: Devnet, data_dir: Path, *, size_mb: int, **settings: str) -> None:
        self.mount_point = data_dir / "storage"  # empty seen from outside the namespace
        self.size_mb = size_mb
        super().__init__(devnet, data_dir, database_url=f"sqlite:///{self.mount_point / 'gateway.db'}", **settings)
        self.mount_point.mkdir(exist_ok=True)

    @property
    def command(self) -> list[str]:
        mount = f'mount -t tmpfs -o size={self.size_mb}M tmpfs "$0" && exec "$@"'
        return ["unshare", "-Urm", "sh", "-c", mount, str(self.mount_point), *super().command]

    @property
    def storage(self) -> Path:
        """The tmpfs, seen from outside the namespace."""
        assert self.process is not None
        return Path(f"/proc/{self.process.pid}/root") / self.mount_point.relative_to("/")

    def inside(self, *command: str) -> subprocess.CompletedProcess[str]:
        """Runs `command` in the gateway's namespaces with its settings; raises when it fails."""
        assert self.process is not None
        return subprocess.run(["nsenter", "-t", str(self.process.pid), "-U", "-m", "--preserve-credentials",
                               *command], env=self.env, capture_output=True, text=True, timeout=120, check=True)

    def sql(self, statement: str) -> list[list[Any]]:
        """The rows of one statement on the gateway's database."""
        script = "import json, sqlite3, sys; print(json.dumps(sqlite3.connect(sys.argv[1]).execute(sys.argv[2])" \
                 ".fetchall()))"
        return json.loads(self.inside(sys.executable, "-c", script, str(self.mount_point / "gateway.db"),
                                      statement).stdout)

    def auth(self, abbr: str) -> dict[str, str]:
        if abbr not in self._tokens:
            self._tokens[abbr] = self.inside(str(Path(sys.executable).with_name("certnet")), "gateway", "token",
                                             DEMO_DEPARTMENTS[abbr], "--data-dir", str(self.data_dir)).stdout.strip()
        return super().auth(abbr)


@dataclass
class NetworkKitFiles:
    """A Besu network kit written by `init_network` for a three-department spec, and what it was made from."""

    directory: Path
    spec: Path
    deployer: Path
    accounts: dict[str, str]  # name (deployer, department code) -> address


def write_keystore(path: Path) -> str:
    """A keystore file for a new key (a cheap KDF: only its declared address is read); returns the address."""
    account = Account.create()
    path.write_text(json.dumps(Account.encrypt(account.key, "test", kdf="pbkdf2", iterations=2)))
    return account.address


def write_keystore_spec(directory: Path, codes: list[str]) -> tuple[Path, dict[str, str]]:
    """A bootstrap spec whose departments `codes` (the first one governs) each have a keystore in `directory`."""
    accounts = {code: write_keystore(directory / f"{code}.json") for code in codes}
    departments = [{"code": code, "name": f"Department {code}", "roles": ["governor", "issuer"] if i == 0
                    else ["issuer", "relying_party"], "keystore": str(directory / f"{code}.json")}
                   for i, code in enumerate(codes)]
    spec = directory / "spec.yaml"
    spec.write_text(json.dumps({"quorum": 1, "governors": codes[:1], "departments": departments}))
    return spec, accounts


@pytest.fixture
def network_kit(tmp_path: Path) -> NetworkKitFiles:
    from ledger_node.network import init_network
    from ledger_node.spec import load_spec

    spec, accounts = write_keystore_spec(tmp_path, ["GA", "MZ", "ZJ"])
    deployer = tmp_path / "deployer.json"
    accounts["deployer"] = write_keystore(deployer)
    init_network(tmp_path / "network", spec=load_spec(spec), deployer_keystore=deployer)
    return NetworkKitFiles(tmp_path / "network", spec, deployer, accounts)


def fill_disk(directory: Path) -> Path:
    """Writes a file in `directory` until its filesystem has no byte left; returns the file."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as out:
        for block in (1 << 20, 4096, 1):
            try:
                while True:
                    out.write(bytes(block))
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
    return filler


class RpcProxy:
    """A TCP proxy on 127.0.0.1 in front of a chain's JSON-RPC port, with real sockets, that a test can
    `cut` (live connections closed, new ones refused: the node is gone), `blackhole` (connections
    accepted, nothing answered: a network that drops packets) and `restore`."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.port = free_port()
        self.forwarding = True
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._listen()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self) -> None:
        self.forwarding = False
        assert self._listener is not None
        _shut(self._listener)  # wakes the accepting thread; connections are refused from now on
        self._listener = None
        self._close_connections()

    def blackhole(self) -> None:
        """From now on nothing passes: bytes sent on live or new connections are swallowed."""
        self.forwarding = False

    def restore(self) -> None:
        self._close_connections()  # the blackholed ones: their clients get an error instead of waiting on
        self.forwarding = True
        if self._listener is None:
            self._listen()

    def close(self) -> None:
        if self._listener is not None:
            _shut(self._listener)
        self._close_connections()

    def _listen(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", self.port))  # SO_REUSEADDR: the same port again
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _address = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(1 << 16):
                if self.forwarding:
                    sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            _shut(end)
            with self._lock:
                self._sockets.discard(end)

    def _close_connections(self) -> None:
        with self._lock:
            live, self._sockets = self._sockets, set()
        for end in live:
            _shut(end)


def _shut(end: socket.socket) -> None:
    """Closes a socket so that a thread blocked on it wakes up (close alone does not wake it)."""
    try:
        end.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    end.close()


#: What a client waits for an answer before it gives up on a request.
CLIENT_TIMEOUT = 45


@dataclass
class Tally:
    """What a failure did to the requests of one test; `str()` is the line the issue's note quotes."""

    failure: str
    sent: int = 0
    statuses: Counter[int | str] = field(default_factory=Counter)  # "no answer": the connection failed
    accepted: dict[str, str] = field(default_factory=dict)  # Idempotency-Key -> the certificate hash answered
    certificates: int = 0  # accepted certificates, batch members included
    anchored: int = 0
    duplicated: int = 0
    lost: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, gateway: GatewayProcess, method: str, path: str, **kwargs: object) -> httpx.Response | None:
        with self._lock:
            self.sent += 1
        try:
            response = gateway.client.request(method, path, timeout=CLIENT_TIMEOUT, **kwargs)  # type: ignore[arg-type]
        except httpx.TransportError:
            with self._lock:
                self.statuses["no answer"] += 1
            return None
        with self._lock:
            self.statuses[response.status_code] += 1
        return response

    def count_anchoring(self, anchor_events: int, certificates: int = 1) -> None:
        """One accepted certificate (or a batch of `certificates`) anchored `anchor_events` times."""
        self.certificates += certificates
        if anchor_events >= 1:
            self.anchored += certificates
        self.duplicated += certificates * max(0, anchor_events - 1)
        self.lost += certificates if anchor_events == 0 else 0

    def __str__(self) -> str:
        answered = sum(n for status, n in self.statuses.items() if status != "no answer")
        by_status = ", ".join(f"{status}: {n}" for status, n in sorted(self.statuses.items(), key=str))
        return (f"{self.failure}: requests sent {self.sent}, answered {answered} ({by_status}); certificates "
                f"accepted {self.certificates}, anchored {self.anchored}, duplicated {self.duplicated}, "
                f"lost {self.lost}")


def issued_events(devnet: Devnet, certificate_hash: str) -> int:
    """How many times the chain anchored this single certificate (its CertificateIssued events)."""
    registry = devnet.deployment.registry
    return len(registry.events.CertificateIssued().get_logs(
        from_block=0, argument_filters={"certificateHash": HexBytes(certificate_hash)}))


def batch_anchorings(devnet: Devnet, root: str) -> list[int]:
    """How many times the chain anchored this batch root (its BatchAnchored events), as the member count of
    each: the event carries the root alone, the count is in the anchor."""
    registry = devnet.deployment.registry
    events = registry.events.BatchAnchored().get_logs(from_block=0, argument_filters={"batchRoot": HexBytes(root)})
    return [registry.functions.anchorOf(HexBytes(root)).call()[6]] * len(events)


def wait_done(gateway: GatewayProcess, path: str, timeout: float = 120) -> dict:
    """Polls an operation or batch of civil affairs (MZ) until it is done or failed; its view."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = gateway.client.get(path, headers=gateway.auth("MZ")).json()
        state = view.get("state") or view.get("operation", {}).get("state")
        if state in ("done", "failed"):
            return view
        time.sleep(0.2)
    raise AssertionError(f"{path} did not finish")


def marriage_request(number: str = "J320100-2026-000001", holder: str = "RIC:11010519491231002X") -> dict[str, Any]:
    return {"type": MZ_MARRIAGE, "holder": holder,
            "subject": {"holderName": "张三", "certificateNumber": number, "issuedOn": "2026-11-24"}}


def issued_marriage(gateway: GatewayProcess, **request: str) -> dict:
    """A marriage certificate issued by civil affairs (MZ) through `gateway`: its 201 answer."""
    response = gateway.client.post("/v1/certificates", json=marriage_request(**request), headers=gateway.auth("MZ"))
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture(scope="module")
def document_kinds(gateway_http: GatewayProcess) -> dict[str, dict[str, Any]]:
    """One document of each kind the gateway issues — a single certificate, a batch member, a superseding
    successor — and a holder's redacted copy. Revoking or superseding changes only the chain, not a document."""
    client, auth = gateway_http.client, gateway_http.auth("MZ")
    tag = uuid.uuid4().hex[:8]
    single = client.post("/v1/certificates", json=marriage_request(f"KIND-{tag}-1"), headers=auth).json()["certificate"]
    members = [{k: v for k, v in marriage_request(f"KIND-{tag}-B{n}").items() if k != "type"} for n in range(2)]
    batch = client.post("/v1/batches", json={"type": marriage_request()["type"], "certificates": members}, headers=auth)
    batch_member = wait_done(gateway_http, f"/v1/batches/{batch.json()['id']}")["certificates"][0]
    replacement = {k: v for k, v in marriage_request(f"KIND-{tag}-2").items() if k != "type"}
    successor = client.post(f"/v1/certificates/{single['proof']['certificateHash']}/supersede", json=replacement,
                            headers=auth).json()["certificate"]
    return {"single": single, "batch member": batch_member, "successor": successor,
            "redacted": redact(single, ["holderName"])}


def jsonld_expand(documents: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    """jsonld.js's safe-mode expansion of `documents` (tests/certificates/jsonld_expand.js), contexts
    loaded only from the files the package ships."""
    contexts = {url: str(path) for d in documents for url, path in shipped_context_files(d["@context"]).items()}
    return subprocess.run(["node", str(Path(__file__).parent / "certificates" / "jsonld_expand.js")],
                          input=json.dumps({"contexts": contexts, "documents": documents}), capture_output=True,
                          text=True, timeout=60, check=False)


def _devnet_from(template: Path, data_dir: Path) -> Iterator[Devnet]:
    """A devnet started in `data_dir` from `template`, stopped after its fixture's scope."""
    net = start_devnet(data_dir, template)
    yield net
    net.node.stop()


def _gateway_on(devnet: Devnet, data_dir: Path, **settings: str) -> Iterator[GatewayProcess]:
    """A gateway process serving `devnet` from `data_dir` (with `settings`), stopped after its fixture's scope."""
    server = GatewayProcess(devnet, data_dir, **settings).start()
    yield server
    server.stop()


#: The crypto suite the gateway suites' devnet is deployed under: CERTNET_TEST_CRYPTO=sm2-sm3 runs every test on
#: `devnet`, `gateway_http` and `own_devnet` under the national suite (default: the original secp256k1-keccak).
TEST_CRYPTO = os.environ.get("CERTNET_TEST_CRYPTO", DEFAULT_SUITE.name)


@pytest.fixture(scope="session")
def devnet_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_devnet_template(tmp_path_factory.mktemp("template"), TEST_CRYPTO)


@pytest.fixture(scope="module")
def sm2_devnet_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo consortium deployed under sm2-sm3, whatever CERTNET_TEST_CRYPTO says."""
    return build_devnet_template(tmp_path_factory.mktemp("sm2-template"), SM2_SM3.name)


@pytest.fixture(scope="module")
def sm2_devnet(sm2_devnet_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """A devnet of the module's own under sm2-sm3."""
    yield from _devnet_from(sm2_devnet_template, tmp_path_factory.mktemp("sm2") / "devnet")


@pytest.fixture
def own_sm2_devnet(sm2_devnet_template: Path, tmp_path: Path) -> Iterator[Devnet]:
    """An sm2-sm3 devnet of this test's own, for a test that changes the consortium's keys."""
    yield from _devnet_from(sm2_devnet_template, tmp_path / "chain")


@pytest.fixture(scope="module")
def sm2_gateway(sm2_devnet: Devnet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """A gateway process serving the sm2-sm3 devnet."""
    yield from _gateway_on(sm2_devnet, tmp_path_factory.mktemp("sm2-gateway"))


@pytest.fixture(scope="session")
def devnet(devnet_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """The session's anvil devnet, shared by the gateway tests that do not rewrite its history."""
    yield from _devnet_from(devnet_template, tmp_path_factory.mktemp("session") / "devnet")


@pytest.fixture(scope="session")
def gateway_http(devnet: Devnet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """One gateway process serving the session's devnet."""
    yield from _gateway_on(devnet, tmp_path_factory.mktemp("gateway"))


@pytest.fixture
def own_devnet(devnet_template: Path, tmp_path: Path) -> Iterator[Devnet]:
    """A devnet of this test's own, for tests that stop the chain or rewrite its history."""
    yield from _devnet_from(devnet_template, tmp_path / "chain")


def signing_keys(devnet: Devnet, department: str) -> list[str]:
    """The keys a department's certificates are signed with under the devnet's suite, as `proof.signature.signer`
    names them: its account keys, or under sm2-sm3 the ids of its SM2 keys."""
    consortium, code = devnet.deployment.consortium.functions, code32(department)
    if consortium.cryptoSuite().call() == SM2_SM3.code:
        return ["0x" + key.hex() for key in consortium.sm2KeysOf(code).call()]
    return consortium.keysOf(code).call()


def department_caller(abbr: str) -> Caller:
    """A demo department as an authenticated caller of the gateway's services."""
    return Caller(DEMO_DEPARTMENTS[abbr], "token")


def issued_by_hand(gateway: Gateway, devnet: Devnet, number: str) -> Operation:
    """MZ's issuance through an in-process gateway on a devnet that mines by hand: sent, mined and done,
    not yet read by the index."""
    operation = gateway.issuance.issue(department_caller("MZ"), IssueRequest.model_validate(marriage_request(number)),
                                       None)
    gateway.outbox.sign_prepared()
    gateway.outbox.send_signed()
    devnet.mine()
    gateway.outbox.collect_receipts()
    with gateway.sessions() as session:
        done = session.get(Operation, operation.id)
    assert done is not None and done.state == OperationState.DONE.value
    return done


@pytest.fixture
def gateway_on_own_devnet(own_devnet: Devnet, tmp_path: Path) -> Callable[..., Gateway]:
    """Makes gateways in this process on the test's own devnet, all on one data dir and database (a second
    one is the first restarted: the first gives up its leases), background threads not started, every
    duty held: a test drives the outbox step by step."""
    data_dir = GatewayProcess(own_devnet, tmp_path / "gateway").data_dir  # manifest and schemas copied in
    made: list[Gateway] = []

    def make(**settings: Any) -> Gateway:
        for earlier in made:
            earlier.leases.release()
        gateway = Gateway(Settings(data_dir=data_dir, rpc_url=own_devnet.node.url, **settings))
        gateway.leases.renew()
        made.append(gateway)
        return gateway

    return make


@pytest.fixture
def rpc_proxy(own_devnet: Devnet) -> Iterator[RpcProxy]:
    """A proxy in front of this test's own devnet, for a gateway whose chain connection the test cuts."""
    proxy = RpcProxy(own_devnet.node.port)
    yield proxy
    proxy.close()


@pytest.fixture
def rpc_proxies(devnet: Devnet) -> Iterator[tuple[RpcProxy, RpcProxy]]:
    """Two proxies in front of the session's devnet: a primary and a secondary JSON-RPC URL of one chain
    (`CERTNET_RPC_URLS`), each of which a test can cut."""
    primary, secondary = RpcProxy(devnet.node.port), RpcProxy(devnet.node.port)
    yield primary, secondary
    primary.close()
    secondary.close()


@pytest.fixture
def bare_anvil() -> Iterator[Callable[..., Web3]]:
    """Starts anvil chains with the development accounts, nothing deployed, and the given anvil options
    (`--hardfork berlin`, `--gas-price 0`, ...), mining a block for each transaction only (no empty
    blocks lowering the base fee while a test reads it); stops them after the test."""
    nodes: list[LocalNode] = []

    def start(*options: str) -> Web3:
        nodes.append(LocalNode("anvil", options=options))
        w3 = nodes[-1].start()
        w3.provider.make_request("evm_setIntervalMining", [0])
        w3.provider.make_request("evm_setAutomine", [True])
        return w3

    yield start
    for node in nodes:
        node.stop()


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port on 127.0.0.1 that something else listens on for the test's duration."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


@dataclass
class CertnetRun:
    """`certnet run` as `make run` starts it (ganache, the default demo consortium, the gateway), from a
    directory of its own whose `.venv` is this one: what a new user has after `make run`."""

    process: subprocess.Popen[bytes]
    root: Path  # the stand-in for the repository's root: `.venv`, `.certnet`
    gateway_port: int

    @property
    def data_dir(self) -> Path:
        return self.root / ".certnet"


@pytest.fixture
def certnet_run(tmp_path: Path) -> Iterator[CertnetRun]:
    root = tmp_path / "repo"
    root.mkdir()
    (root / ".venv").symlink_to(Path(sys.executable).parents[1])
    gateway_port = free_port()
    log = open(tmp_path / "certnet-run.log", "ab")
    process = subprocess.Popen([str(root / ".venv" / "bin" / "certnet"), "run", "--chain-port", str(free_port()),
                                "--port", str(gateway_port)], cwd=root, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, (tmp_path / "certnet-run.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "certnet run did not serve within 180 s"
            try:
                if httpx.get(f"http://127.0.0.1:{gateway_port}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        yield CertnetRun(process, root, gateway_port)
    finally:
        if process.poll() is None:  # as Ctrl-C: the gateway and the chain stop cleanly
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)
        log.close()


@pytest.fixture(scope="module")
def own_gateway(devnet_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """A gateway serving a devnet of its own, for a module whose requests may change any state (fuzzing)."""
    net = start_devnet(tmp_path_factory.mktemp("own") / "devnet", devnet_template)
    server = GatewayProcess(net, tmp_path_factory.mktemp("own-gateway")).start()
    yield server
    server.stop()
    net.node.stop()


def rewrite_access_log(sessions: sessionmaker, position: int) -> None:
    """What an operator who changes the outcome of one access-log entry and recomputes every hash
    after it does: each row stays internally consistent, times included; only the checkpoints
    anchored before the rewrite tell."""
    with sessions.begin() as session:
        rows = list(session.scalars(select(AccessLogEntry).where(AccessLogEntry.position >= position)
                                    .order_by(AccessLogEntry.position)))
        survivors = [dict(row.entry) for row in rows]
        survivors[0]["outcome"] = "refused"
        session.execute(delete(AccessedCertificate).where(AccessedCertificate.position >= position))
        session.execute(delete(AccessLogEntry).where(AccessLogEntry.position >= position))
        for entry in survivors:
            kept = {k: v for k, v in entry.items() if k not in ("position", "department", "action")}
            append(session, entry["department"], entry["action"], kept).recorded_at = \
                dt.datetime.fromisoformat(entry["recordedAt"]).timestamp()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The PostgreSQL server of `make test-postgres` (`scripts/with_postgres.sh` sets CERTNET_DATABASE_URL); tests
    marked `postgres` need it and fail without it rather than pass unseen."""
    url = os.environ.get("CERTNET_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        pytest.fail("this test needs PostgreSQL: run it under scripts/with_postgres.sh (make test-postgres)")
    return url


#: The database backends a test of the schema runs on: `make test` runs the SQLite ones, `make test-postgres` the others.
DATABASE_BACKENDS = [pytest.param("sqlite"), pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a new, empty database of the backend the test is parametrised with (`DATABASE_BACKENDS`,
    indirect): a SQLite file, or a database of its own on the server of `postgres_url`, dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'gateway.db'}"
        return
    server = make_url(request.getfixturevalue("postgres_url"))
    name = f"certnet_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")  # CREATE DATABASE cannot run in a transaction
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:  # FORCE: the test's engines may still hold pooled connections
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


# --- Browser tests: Debian's Chromium driven by Playwright (never `playwright install`: it downloads a browser) ---

CHROMIUM = Path("/usr/bin/chromium")
AXE_SCRIPT = Path(__file__).parent.parent / "node_modules" / "axe-core" / "axe.min.js"
#: axe-core's impacts that fail a page's test.
BLOCKING_IMPACTS = ("serious", "critical")


@dataclass
class BrowserTab:
    """One page of a fresh browser context on a gateway: what its scripts logged as errors (a CSP refusal
    of an inline script is one), its accessibility check and its screenshot."""
    page: Page
    base_url: str
    screenshots: Path
    errors: list[str] = field(default_factory=list)

    def open(self, path: str) -> None:
        response = self.page.goto(self.base_url + path)
        assert response is not None and response.ok, f"{path}: {response and response.status}"

    def accessibility_violations(self) -> list[str]:
        """axe-core's serious and critical violations on the page as it is now (injected through the
        DevTools protocol, which the page's CSP does not apply to); each `rule: where`."""
        self.page.evaluate(AXE_SCRIPT.read_text())
        found = self.page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']}))"
                                   ".violations.map(v => [v.id, v.impact, v.nodes.map(n => n.target.join(' '))])")
        return [f"{rule}: {', '.join(nodes)}" for rule, impact, nodes in found if impact in BLOCKING_IMPACTS]

    def screenshot(self, name: str) -> Path:
        """The whole page as `<name>.png` in the screenshot folder (`make screenshots` makes it docs/screenshots)."""
        path = self.screenshots / f"{name}.png"
        self.page.screenshot(path=path, full_page=True)
        return path


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """One headless Chromium per test module. Not per session: Playwright's synchronous API keeps an asyncio
    loop running in the worker's thread while it is open, and the tests after it that run a loop of their own
    (`asyncio.run`) would fail."""
    if not CHROMIUM.exists():
        pytest.fail(f"browser tests need Debian's Chromium at {CHROMIUM}: `make test` installs it")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                             args=["--no-sandbox", "--disable-background-networking"])
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def screenshot_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where browser tests save page screenshots: $CERTNET_SCREENSHOTS, else a temporary folder."""
    folder = Path(os.environ.get("CERTNET_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def open_tab(chromium: Browser, screenshot_folder: Path) -> Iterator[Callable[[GatewayProcess], BrowserTab]]:
    """Opens browser tabs on gateways, each in a context of its own (no shared cookies), closed after the test."""
    contexts: list[BrowserContext] = []

    def open_on(gateway: GatewayProcess) -> BrowserTab:
        context = chromium.new_context(locale="zh-CN", viewport={"width": 1200, "height": 900})
        contexts.append(context)
        tab = BrowserTab(context.new_page(), str(gateway.client.base_url).rstrip("/"), screenshot_folder)
        tab.page.on("console", lambda message: tab.errors.append(message.text) if message.type == "error" else None)
        tab.page.on("pageerror", lambda error: tab.errors.append(str(error)))
        return tab

    yield open_on
    for context in contexts:
        context.close()


@pytest.fixture
def browser_tab(open_tab: Callable[[GatewayProcess], BrowserTab], gateway_http: GatewayProcess) -> BrowserTab:
    """A browser tab on the session's gateway."""
    return open_tab(gateway_http)


# --- Auditor console (/audit): an HTTP client with a cookie jar of its own, signing in as a browser does ---

CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


def form_token(page: httpx.Response) -> str:
    """The CSRF token a console page's forms carry."""
    found = CSRF_FIELD.search(page.text)
    assert found, page.text[-2000:]
    return found.group(1)


@dataclass
class ConsoleBrowser:
    """An httpx client of its own (its own cookies) on a gateway's console: `sign_in_*` POST the forms of the
    sign-in page with its form token, as the page does."""
    client: httpx.Client

    def sign_in_with_token(self, token: str) -> httpx.Response:
        csrf = form_token(self.client.get("/audit/sign-in"))
        return self.client.post("/audit/sign-in", data={"token": token, "csrf": csrf})

    def sign_in_with_link(self, link: str) -> httpx.Response:
        csrf = form_token(self.client.get("/audit/sign-in"))
        return self.client.post("/audit/sign-in/link", data={"link": link, "csrf": csrf})


@pytest.fixture
def console_browser(gateway_http: GatewayProcess) -> Iterator[ConsoleBrowser]:
    with httpx.Client(base_url=gateway_http.client.base_url, timeout=120) as client:
        yield ConsoleBrowser(client)


@pytest.fixture
def auditor_console(console_browser: ConsoleBrowser, gateway_http: GatewayProcess) -> ConsoleBrowser:
    """A console signed in as the demo audit office (SJ) with its development token."""
    token = gateway_http.auth("SJ")["Authorization"].removeprefix("Bearer ")
    assert console_browser.sign_in_with_token(token).status_code == 303
    return console_browser


@pytest.fixture
def console_database(tmp_path: Path) -> sessionmaker:
    """A gateway database of this test's own (SQLite, at the newest schema) for the console's sessions."""
    return session_factory(make_engine(f"sqlite:///{tmp_path / 'gateway.db'}"))


@pytest.fixture(scope="module")
def tokenless_gateway(devnet: Devnet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """A gateway on the session's devnet that takes no API tokens (CERTNET_DEV_TOKENS=false), as in production."""
    yield from _gateway_on(devnet, tmp_path_factory.mktemp("tokenless"), dev_tokens="false")
