"""Shared fixtures: one embedded chain with a deployed consortium, reverted after every test."""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import pytest
from eth_account import Account
from eth_typing import ChecksumAddress
from web3 import EthereumTesterProvider, Web3
from web3.contract.contract import ContractFunction
from web3.logs import DISCARD
from web3.types import TxReceipt

from ledger_node.deploy import Deployment, Founder, deploy_contracts
from ledger_node.accounts import dev_account
from ledger_node.engines import LocalNode, embedded_web3
from ledger_node.sender import Sender
from ledger_node.transactions import ContractReverted, transact
from ledger_node.types import DepartmentStatus, Role, code32

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
        receipt = transact(self.consortium.functions.propose(calls, description), self.keys["governor"])
        proposal_id = self.consortium.events.ProposalCreated().process_receipt(receipt, errors=DISCARD)[0]["args"]["proposalId"]
        transact(self.consortium.functions.approve(proposal_id), self.keys["governor2"])
        return transact(self.consortium.functions.execute(proposal_id, calls), self.keys["governor"])

    def issue(self, actor: str = "issuer", certificate_type: bytes = MARRIAGE, valid_until: int = 0) -> bytes:
        certificate_hash = random_hash()
        self.send(self.registry.functions.issue(certificate_hash, certificate_type, valid_until), actor)
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


def _embedded_chain() -> tuple[Web3, Callable[[], ChecksumAddress]]:
    """The in-process chain; new keys are created, registered with it and funded."""
    w3 = embedded_web3()

    def new_key() -> ChecksumAddress:
        account = Account.create()
        w3.provider.ethereum_tester.add_account(account.key.to_0x_hex())
        w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": account.address, "value": 10**20})
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


@pytest.fixture(scope="session", params=["embedded", pytest.param("ganache", marks=pytest.mark.slow)])
def _network(request: pytest.FixtureRequest) -> Network:
    if request.param == "embedded":
        w3, new_key = _embedded_chain()
    else:
        w3 = request.getfixturevalue("ganache")
        unused = iter(w3.eth.accounts[100:])  # leaves 1..99 to specs that use the mnemonic's accounts
        new_key = lambda: next(unused)  # noqa: E731
    keys = {name: new_key() for name in [*ACTORS, "governor2", "governor3"]}
    founders = [
        Founder(GOV1, "治理部门一", int(Role.GOVERNOR), [keys["governor"]]),
        Founder(GOV2, "治理部门二", int(Role.GOVERNOR), [keys["governor2"]]),
        Founder(GOV3, "治理部门三", int(Role.GOVERNOR), [keys["governor3"]]),
    ]
    deployment = deploy_contracts(w3, Sender(w3, [dev_account(0)]), dev_account(0).address, founders, quorum=2)
    network = Network(w3=w3, deployment=deployment, keys=keys, new_key=new_key)
    consortium, catalog = deployment.consortium, deployment.catalog
    network.govern(
        consortium.functions.admitDepartment(CIVIL, "民政局", int(Role.ISSUER), [keys["issuer"]]),
        consortium.functions.admitDepartment(HOUSING, "住房和城乡建设局", int(Role.ISSUER), [keys["other_issuer"]]),
        consortium.functions.admitDepartment(RELYING, "税务局", int(Role.RELYING_PARTY), [keys["relying"]]),
        consortium.functions.admitDepartment(AUDITOR, "审计局", int(Role.AUDITOR), [keys["auditor"]]),
        consortium.functions.admitDepartment(OPERATOR, "大数据管理局", int(Role.LOG_OPERATOR), [keys["operator"]]),
        consortium.functions.admitDepartment(SUSPENDED, "停用部门", int(Role.ISSUER), [keys["suspended"]]),
    )
    network.send(catalog.functions.registerType(MARRIAGE, SCHEMA_V1, "结婚证", [CIVIL, SUSPENDED]), "issuer")
    network.send(catalog.functions.registerType(PROPERTY, SCHEMA_V1, "不动产权证书", [HOUSING]), "other_issuer")
    network.send(catalog.functions.registerServiceItem(SERVICE_ITEM, "不动产登记", [MARRIAGE, PROPERTY]), "relying")
    network.govern(consortium.functions.setStatus(SUSPENDED, DepartmentStatus.SUSPENDED))
    return network


@pytest.fixture
def network(_network: Network) -> Iterator[Network]:
    """The shared network, restored to its initial state after the test."""
    snapshot = _network.w3.testing.snapshot()
    keys = dict(_network.keys)
    yield _network
    _network.w3.testing.revert(snapshot)
    _network.keys = keys


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
