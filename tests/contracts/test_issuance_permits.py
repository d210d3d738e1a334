"""The registry's issuance permits: remembered by the first issuance of a key and type, forgotten on
every change that can withdraw the permission, so that the next issuance is checked in full again."""

from __future__ import annotations

from typing import Callable

import pytest
from web3.contract.contract import ContractFunction

from ledger_node.accounts import dev_account
from ledger_node.artifacts import load_artifact
from ledger_node.sender import Sender
from ledger_node.types import DepartmentStatus, Role, TypeStatus
from tests.conftest import CIVIL, HOUSING, MARRIAGE, PROPERTY, Network, random_hash

ZERO = b"\0" * 32
NOTHING = [0, 0, 0]
#: PERMIT_LIST_LIMIT in contracts/IssuancePermits.sol.
PERMIT_LIST_LIMIT = 128


def _permit(network: Network, actor: str = "issuer", certificate_type: bytes = MARRIAGE) -> list[int]:
    return list(network.registry.functions.issuancePermit(network.keys[actor], certificate_type).call())


def _department_id(network: Network, code: bytes) -> int:
    return network.consortium.functions.departmentId(code).call()


@pytest.fixture
def remembered(network: Network) -> Network:
    """The network after the issuer's first marriage certificate: its permit is remembered."""
    network.issue()
    assert _permit(network) != NOTHING
    return network


def test_the_consortium_names_the_deployed_registry(network: Network) -> None:
    assert network.consortium.functions.issuancePermits().call() == network.registry.address


def test_the_first_issuance_remembers_department_type_and_version(network: Network) -> None:
    assert _permit(network) == NOTHING
    network.issue()
    assert _permit(network) == [_department_id(network, CIVIL), 1, 1]


def test_a_remembered_permit_issues_as_the_full_check_did(remembered: Network) -> None:
    certificate_hash = remembered.issue()
    anchor = remembered.registry.functions.anchorOf(certificate_hash).call()
    assert anchor[:3] == (_department_id(remembered, CIVIL), 1, 1)


def test_a_refused_issuance_remembers_nothing(network: Network, reverts) -> None:
    with reverts("CatalogIssuerNotAuthorised"):
        network.issue("other_issuer")
    assert _permit(network, "other_issuer") == NOTHING


def test_a_batch_is_anchored_with_the_remembered_permit(remembered: Network) -> None:
    root = random_hash()
    remembered.send(remembered.registry.functions.anchorBatch(root, MARRIAGE, 3, 0), "issuer")
    assert remembered.registry.functions.anchorOf(root).call()[6] == 3


# ----- every change that can withdraw a permission: forgotten, and the next issuance refused -----

WITHDRAWALS: dict[str, tuple[Callable[[Network], None], str]] = {
    "issuer role taken away": (
        lambda n: n.govern(n.consortium.functions.setRoles(CIVIL, int(Role.RELYING_PARTY))), "ConsortiumMissingRole"),
    "department suspended": (
        lambda n: n.govern(n.consortium.functions.setStatus(CIVIL, DepartmentStatus.SUSPENDED)),
        "ConsortiumDepartmentNotActive"),
    "department removed": (
        lambda n: n.govern(n.consortium.functions.setStatus(CIVIL, DepartmentStatus.REMOVED)),
        "ConsortiumDepartmentNotActive"),
    "key removed": (
        lambda n: (n.send(n.consortium.functions.addKey(CIVIL, n.new_key()), "issuer"),
                   n.govern(n.consortium.functions.removeKey(CIVIL, n.keys["issuer"]))), "ConsortiumUnknownKey"),
    "key rotated away": (
        lambda n: n.send(n.consortium.functions.rotateKey(CIVIL, n.keys["issuer"], n.new_key()), "issuer"),
        "ConsortiumUnknownKey"),
    "type deprecated": (
        lambda n: n.send(n.catalog.functions.setTypeStatus(MARRIAGE, TypeStatus.DEPRECATED), "issuer"),
        "CatalogTypeDeprecated"),
    "issuer withdrawn from the type": (
        lambda n: n.send(n.catalog.functions.setIssuer(MARRIAGE, CIVIL, False), "issuer"), "CatalogIssuerNotAuthorised"),
    "issuer withdrawn by governance": (
        lambda n: n.govern(n.catalog.functions.setIssuer(MARRIAGE, CIVIL, False)), "CatalogIssuerNotAuthorised"),
}


@pytest.mark.parametrize("change", list(WITHDRAWALS))
def test_a_withdrawal_forgets_the_permit(remembered: Network, change: str) -> None:
    withdraw, _error = WITHDRAWALS[change]
    withdraw(remembered)
    assert _permit(remembered) == NOTHING


@pytest.mark.parametrize("change", list(WITHDRAWALS))
def test_after_a_withdrawal_issuance_is_refused_with_its_reason(remembered: Network, reverts, change: str) -> None:
    withdraw, error = WITHDRAWALS[change]
    withdraw(remembered)
    with reverts(error):
        remembered.issue()


@pytest.mark.parametrize("change", list(WITHDRAWALS))
def test_after_a_withdrawal_a_batch_is_refused_with_its_reason(remembered: Network, reverts, change: str) -> None:
    withdraw, error = WITHDRAWALS[change]
    withdraw(remembered)
    with reverts(error):
        remembered.send(remembered.registry.functions.anchorBatch(random_hash(), MARRIAGE, 3, 0), "issuer")


def test_a_new_version_is_recorded_by_the_next_issuance(remembered: Network) -> None:
    remembered.send(remembered.catalog.functions.publishTypeVersion(MARRIAGE, b"\x02" * 32), "issuer")
    assert _permit(remembered) == NOTHING
    certificate_hash = remembered.issue()
    assert remembered.registry.functions.anchorOf(certificate_hash).call()[2] == 2


def test_a_new_version_is_recorded_by_the_next_supersession(remembered: Network) -> None:
    old, successor = remembered.issue(), random_hash()
    remembered.send(remembered.catalog.functions.publishTypeVersion(MARRIAGE, b"\x02" * 32), "issuer")
    remembered.send(remembered.registry.functions.supersede(old, ZERO, [], successor, 0), "issuer")
    assert remembered.registry.functions.anchorOf(successor).call()[2] == 2


def test_a_reinstated_department_issues_again(remembered: Network) -> None:
    remembered.govern(remembered.consortium.functions.setStatus(CIVIL, DepartmentStatus.SUSPENDED))
    remembered.govern(remembered.consortium.functions.setStatus(CIVIL, DepartmentStatus.ACTIVE))
    remembered.issue()
    assert _permit(remembered) == [_department_id(remembered, CIVIL), 1, 1]


def test_another_departments_change_leaves_the_permit(remembered: Network) -> None:
    remembered.issue("other_issuer", PROPERTY)
    remembered.govern(remembered.consortium.functions.setStatus(HOUSING, DepartmentStatus.SUSPENDED))
    assert _permit(remembered) == [_department_id(remembered, CIVIL), 1, 1]
    assert _permit(remembered, "other_issuer", PROPERTY) == NOTHING


def test_a_new_key_has_a_permit_of_its_own(remembered: Network, reverts) -> None:
    new_key = remembered.new_key()
    remembered.send(remembered.consortium.functions.addKey(CIVIL, new_key), "issuer")
    remembered.keys["new"] = new_key
    remembered.issue("new")
    remembered.send(remembered.catalog.functions.setIssuer(MARRIAGE, CIVIL, False), "issuer")
    with reverts("CatalogIssuerNotAuthorised"):
        remembered.issue("new")


# ----- the bound -----

@pytest.mark.slow  # 258 transactions: about a minute on the embedded chain (Hardhat checks the same in seconds)
def test_a_full_list_is_emptied_and_every_permit_stays_forgettable(network: Network, reverts) -> None:
    types = [random_hash() for _ in range(PERMIT_LIST_LIMIT + 1)]
    for certificate_type in types:  # one department, one key: its list of permits fills up
        network.send(network.catalog.functions.registerType(certificate_type, b"\x01" * 32, "证照", [CIVIL]), "issuer")
        network.issue(certificate_type=certificate_type)
    first, last = types[0], types[-1]
    assert _permit(network, certificate_type=first) == NOTHING  # forgotten when the list was full
    assert _permit(network, certificate_type=last) != NOTHING
    network.govern(network.consortium.functions.setStatus(CIVIL, DepartmentStatus.SUSPENDED))
    for certificate_type in (first, last):
        with reverts("ConsortiumDepartmentNotActive"):
            network.issue(certificate_type=certificate_type)


# ----- who may make the registry forget -----

@pytest.mark.parametrize("hook", ["forgetDepartmentPermits", "forgetTypePermits"])
@pytest.mark.parametrize("actor", ["governor", "issuer", "outsider"])
def test_only_its_consortium_and_catalog_make_it_forget(remembered: Network, reverts, hook: str, actor: str) -> None:
    function: ContractFunction = getattr(remembered.registry.functions, hook)(1)
    with reverts("PermitsUnauthorised", remembered.keys[actor]):
        remembered.send(function, actor)
    assert _permit(remembered) != NOTHING


def test_governance_may_make_it_forget_a_department(remembered: Network) -> None:
    remembered.govern(remembered.registry.functions.forgetDepartmentPermits(_department_id(remembered, CIVIL)))
    assert _permit(remembered) == NOTHING


# ----- a registry the consortium does not name -----

def test_a_registry_the_consortium_does_not_name_refuses_to_issue(network: Network, reverts) -> None:
    """The hooks reach only the registry the consortium names: another would keep permits no change
    makes it forget, so it issues nothing."""
    artifact = load_artifact("CertificateRegistry")
    factory = network.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    deployer = dev_account(0)
    receipt = Sender(network.w3, [deployer]).transact(
        factory.constructor(network.consortium.address, network.catalog.address, "0x" + "00" * 20),
        deployer.address, label="deploy")
    second = network.w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])
    with reverts("RegistryNotYetActive", "0x" + "00" * 20):
        network.send(second.functions.issue(random_hash(), MARRIAGE, 0), "issuer")
