"""The registry's issuance permits: remembered by the first issuance of a key and type, forgotten on
every change that can withdraw the permission, so that the next issuance is checked in full again."""

from __future__ import annotations

from typing import Callable

import pytest
from web3.contract.contract import ContractFunction

from ledger_node.accounts import dev_account
from ledger_node.artifacts import load_artifact
from ledger_node.sender import Sender
from ledger_node.types import DepartmentStatus, Role, TypeStatus, issuance_terms
from tests.conftest import CIVIL, HOUSING, MARRIAGE, PROPERTY, SCHEMA_V1, Network, random_hash

ZERO = b"\0" * 32
NOTHING = [0, 0, 0]
#: PERMIT_LIST_LIMIT in contracts/IssuancePermits.sol.
PERMIT_LIST_LIMIT = 128


def _permit(network: Network, actor: str = "issuer", certificate_type: bytes = MARRIAGE) -> list[int]:
    """(issuer id, type id, type version) the registry remembers for the actor's key and the type."""
    type_id = _type_id(network, certificate_type)
    return list(network.registry.functions.issuancePermit(network.keys[actor], type_id).call())


def _department_id(network: Network, code: bytes) -> int:
    return network.consortium.functions.departmentId(code).call()


def _type_id(network: Network, code: bytes) -> int:
    return network.catalog.functions.certificateType(code).call()[1]


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
    assert _permit(network) == [_department_id(network, CIVIL), _type_id(network, MARRIAGE), 1]


def test_a_remembered_permit_issues_as_the_full_check_did(remembered: Network) -> None:
    certificate_hash = remembered.issue()
    anchor = remembered.registry.functions.anchorOf(certificate_hash).call()
    assert anchor[:3] == (_department_id(remembered, CIVIL), _type_id(remembered, MARRIAGE), 1)


def test_a_refused_issuance_remembers_nothing(network: Network, reverts) -> None:
    with reverts("CatalogIssuerNotAuthorised"):
        network.issue("other_issuer")
    assert _permit(network, "other_issuer") == NOTHING


def test_a_batch_is_anchored_with_the_remembered_permit(remembered: Network) -> None:
    root, terms = random_hash(), remembered.terms()
    remembered.send(remembered.registry.functions.anchorBatch(root, terms, 3), "issuer")
    assert remembered.registry.functions.anchorOf(root).call()[6] == 3


def test_a_permit_is_remembered_whatever_the_validity_issued_with(network: Network) -> None:
    """`terms` carries the validity above the type id; the permit is the key's and the type's alone."""
    network.issue(valid_until=network.now() + 86_400)
    assert _permit(network) == [_department_id(network, CIVIL), _type_id(network, MARRIAGE), 1]


@pytest.fixture
def two_types(remembered: Network) -> Network:
    """The issuer's key has issued marriage certificates (version 1) and, once authorised, property
    certificates (version 2): two permits of one key."""
    remembered.send(remembered.catalog.functions.setIssuer(PROPERTY, CIVIL, True), "other_issuer")
    remembered.send(remembered.catalog.functions.publishTypeVersion(PROPERTY, b"\x02" * 32), "other_issuer")
    remembered.issue("issuer", PROPERTY)
    return remembered


def test_two_types_of_one_key_have_permits_of_their_own(two_types: Network) -> None:
    civil = _department_id(two_types, CIVIL)
    assert (_permit(two_types, certificate_type=MARRIAGE), _permit(two_types, certificate_type=PROPERTY)) == (
        [civil, _type_id(two_types, MARRIAGE), 1], [civil, _type_id(two_types, PROPERTY), 2])


def test_forgetting_one_types_permits_leaves_the_keys_other_type(two_types: Network) -> None:
    two_types.send(two_types.catalog.functions.setIssuer(PROPERTY, CIVIL, False), "other_issuer")
    assert _permit(two_types, certificate_type=PROPERTY) == NOTHING
    assert _permit(two_types, certificate_type=MARRIAGE) == [_department_id(two_types, CIVIL),
                                                             _type_id(two_types, MARRIAGE), 1]


def test_a_permit_is_stored_under_the_key_and_the_type_id_side_by_side(two_types: Network) -> None:
    """The permit id is `key << 32 | typeId` (no hash): each permit's word is in the permits mapping under
    its id. (The mapping's slot is the registry's storage layout; it is found, not assumed.)"""
    w3, registry, key = two_types.w3, two_types.registry.address, int(two_types.keys["issuer"], 16)

    def stored(mapping_slot: int, type_id: int) -> int:
        location = w3.keccak((key << 32 | type_id).to_bytes(32, "big") + mapping_slot.to_bytes(32, "big"))
        return int.from_bytes(w3.eth.get_storage_at(registry, int.from_bytes(location, "big")), "big")

    permits = {code: _permit(two_types, certificate_type=code) for code in (MARRIAGE, PROPERTY)}
    words = {code: issuer | type_id << 32 | version << 64 for code, (issuer, type_id, version) in permits.items()}
    slots = [slot for slot in range(64)
             if all(stored(slot, permits[code][1]) == words[code] for code in (MARRIAGE, PROPERTY))]
    assert len(slots) == 1, slots


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
        remembered.send(remembered.registry.functions.anchorBatch(
            random_hash(), remembered.terms(), 3), "issuer")


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
    assert _permit(remembered) == [_department_id(remembered, CIVIL), _type_id(remembered, MARRIAGE), 1]


def test_another_departments_change_leaves_the_permit(remembered: Network) -> None:
    remembered.issue("other_issuer", PROPERTY)
    remembered.govern(remembered.consortium.functions.setStatus(HOUSING, DepartmentStatus.SUSPENDED))
    assert _permit(remembered) == [_department_id(remembered, CIVIL), _type_id(remembered, MARRIAGE), 1]
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
    first_id = network.catalog.functions.typeCount().call() + 1
    type_ids = range(first_id, first_id + PERMIT_LIST_LIMIT + 1)  # the ids the types below are registered under
    key = network.keys["issuer"]

    def issue(type_id: int) -> None:
        network.send(network.registry.functions.issue(random_hash(), issuance_terms(type_id, 0)), "issuer")

    def permit(type_id: int) -> list[int]:
        return list(network.registry.functions.issuancePermit(key, type_id).call())

    for type_id in type_ids:  # one department, one key: its list of permits fills up
        network.send(network.catalog.functions.registerType(random_hash(), SCHEMA_V1, "证照", [CIVIL]), "issuer")
        issue(type_id)
    first, last = type_ids[0], type_ids[-1]
    assert permit(first) == NOTHING  # forgotten when the list was full
    assert permit(last) != NOTHING
    network.govern(network.consortium.functions.setStatus(CIVIL, DepartmentStatus.SUSPENDED))
    for type_id in (first, last):
        with reverts("ConsortiumDepartmentNotActive"):
            issue(type_id)


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
        network.send(second.functions.issue(random_hash(), network.terms()), "issuer")
