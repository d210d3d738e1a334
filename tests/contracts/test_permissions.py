"""Every state-changing contract function against every kind of caller.

Each case runs one call as one actor and checks it succeeds or reverts with the expected custom
error. The actors: a governor, the issuer authorised for the type, an issuer of another type, a
relying party, an auditor, the audit-log operator, a suspended department and an outsider key.
"""

from __future__ import annotations

from typing import Callable

import pytest
from web3.contract.contract import ContractFunction

from ledger_node.sm2 import Sm2PrivateKey
from ledger_node.types import PROPOSAL_LIFETIME, TypeStatus
from tests.conftest import (ACCESS_LOG, ACTORS, CIVIL, HOUSING, MARRIAGE, OPERATOR, SCHEMA_V1, SERVICE_ITEM, Network,
                            random_hash)

Operation = Callable[[Network, str], ContractFunction]


def _own_department(actor: str) -> bytes:
    return ACTORS[actor] or CIVIL  # an outsider tries to act on the civil-affairs department


def _proposal_calls(network: Network) -> list[tuple[str, bytes]]:
    setter = network.consortium.functions.setQuorum(2)
    return [(setter.address, setter._encode_transaction_data())]


def _proposed(network: Network, proposer: str = "governor2") -> int:
    network.send(network.consortium.functions.propose(_proposal_calls(network), "keep quorum", PROPOSAL_LIFETIME),
                 proposer)
    return network.consortium.functions.proposalCount().call()


def _approved(network: Network) -> int:
    proposal_id = _proposed(network)
    network.send(network.consortium.functions.approve(proposal_id), "governor3")
    return proposal_id


def _sm2_key_of(network: Network, department: bytes) -> bytes:
    """The id of an SM2 key governance registered for `department`."""
    key = Sm2PrivateKey.generate()
    network.govern(network.consortium.functions.addSm2Key(department, key.public_key))
    return key.key_id


def _issued(network: Network) -> bytes:
    return network.issue("issuer")


OPERATIONS: dict[str, Operation] = {
    "propose": lambda n, a: n.consortium.functions.propose(_proposal_calls(n), "keep quorum", PROPOSAL_LIFETIME),
    "approve": lambda n, a: n.consortium.functions.approve(_proposed(n)),
    "execute": lambda n, a: n.consortium.functions.execute(_approved(n), _proposal_calls(n)),
    "cancel": lambda n, a: n.consortium.functions.cancel(_proposed(n, "governor")),
    "admitDepartment": lambda n, a: n.consortium.functions.admitDepartment(
        random_hash(), "新部门", 1, [n.new_key()]
    ),
    "setRoles": lambda n, a: n.consortium.functions.setRoles(CIVIL, 3),
    "setStatus": lambda n, a: n.consortium.functions.setStatus(CIVIL, 2),
    "setQuorum": lambda n, a: n.consortium.functions.setQuorum(1),
    "addKey": lambda n, a: n.consortium.functions.addKey(_own_department(a), n.new_key()),
    "rotateKey": lambda n, a: n.consortium.functions.rotateKey(_own_department(a), n.keys[a], n.new_key()),
    "addSm2Key": lambda n, a: n.consortium.functions.addSm2Key(_own_department(a), Sm2PrivateKey.generate().public_key),
    "removeSm2Key": lambda n, a: n.consortium.functions.removeSm2Key(_own_department(a),
                                                                      _sm2_key_of(n, _own_department(a))),
    "rotateSm2Key": lambda n, a: n.consortium.functions.rotateSm2Key(
        _own_department(a), _sm2_key_of(n, _own_department(a)), Sm2PrivateKey.generate().public_key),
    "registerType": lambda n, a: n.catalog.functions.registerType(random_hash(), SCHEMA_V1, "新证照", []),
    "publishTypeVersion": lambda n, a: n.catalog.functions.publishTypeVersion(MARRIAGE, b"\x02" * 32),
    "setTypeStatus": lambda n, a: n.catalog.functions.setTypeStatus(MARRIAGE, TypeStatus.DEPRECATED),
    "setIssuer": lambda n, a: n.catalog.functions.setIssuer(MARRIAGE, ACTORS["other_issuer"], True),
    "setRelyingDepartment": lambda n, a: n.catalog.functions.setRelyingDepartment(MARRIAGE, ACTORS["relying"], True),
    "setServiceItemUse": lambda n, a: n.catalog.functions.setServiceItemUse(MARRIAGE, SERVICE_ITEM, True),
    "transferTypeOwnership": lambda n, a: n.catalog.functions.transferTypeOwnership(MARRIAGE, HOUSING),
    "registerServiceItem": lambda n, a: n.catalog.functions.registerServiceItem(random_hash(), "新事项", [MARRIAGE]),
    "setServiceItemHandler": lambda n, a: n.catalog.functions.setServiceItemHandler(SERVICE_ITEM, HOUSING, True),
    "transferServiceItemOwnership": lambda n, a: n.catalog.functions.transferServiceItemOwnership(SERVICE_ITEM, HOUSING),
    "anchorCatalogSnapshot": lambda n, a: n.catalog.functions.anchorCatalogSnapshot(random_hash(), "https://x/c.json"),
    "issue": lambda n, a: n.registry.functions.issue(random_hash(), n.terms()),
    "anchorBatch": lambda n, a: n.registry.functions.anchorBatch(random_hash(), n.terms(), 100),
    "revoke": lambda n, a: n.registry.functions.revoke(_issued(n), b"\0" * 32, [], 1),
    "supersede": lambda n, a: n.registry.functions.supersede(_issued(n), b"\0" * 32, [], random_hash(), 0),
    "forgetDepartmentPermits": lambda n, a: n.registry.functions.forgetDepartmentPermits(1),
    "forgetTypePermits": lambda n, a: n.registry.functions.forgetTypePermits(1),
    "retire": lambda n, a: n.registry.functions.retire(n.new_key()),
    "takeOver": lambda n, a: n.registry.functions.takeOver(),
    "handOverIssuancePermits": lambda n, a: n.consortium.functions.handOverIssuancePermits(n.new_key()),
    "setLogOperator": lambda n, a: n.checkpoints.functions.setLogOperator(random_hash(), OPERATOR),
    "appendCheckpoint": lambda n, a: n.checkpoints.functions.appendCheckpoint(ACCESS_LOG, 1, random_hash()),
}

#: Per operation: the actors allowed, and the error every other active actor gets. A suspended
#: department always gets ConsortiumDepartmentNotActive and an outsider ConsortiumUnknownKey,
#: except where governance alone may call. (Where governance may act in an owner's place, the
#: contract tests of each function check it; governance is no actor here.)
RULES: dict[str, tuple[set[str], str]] = {
    "propose": ({"governor"}, "ConsortiumMissingRole"),
    "approve": ({"governor"}, "ConsortiumMissingRole"),
    "execute": ({"governor"}, "ConsortiumMissingRole"),
    "cancel": ({"governor"}, "ConsortiumNotProposer"),  # proposed by the governor's department
    "admitDepartment": (set(), "ConsortiumOnlyGovernance"),
    "setRoles": (set(), "ConsortiumOnlyGovernance"),
    "setStatus": (set(), "ConsortiumOnlyGovernance"),
    "setQuorum": (set(), "ConsortiumOnlyGovernance"),
    "addKey": ({"governor", "issuer", "other_issuer", "relying", "auditor", "operator"}, ""),
    "rotateKey": ({"governor", "issuer", "other_issuer", "relying", "auditor", "operator"}, ""),
    # SM2 keys are authorised as account keys are: the department itself (or governance, tested apart)
    "addSm2Key": ({"governor", "issuer", "other_issuer", "relying", "auditor", "operator"}, ""),
    "removeSm2Key": ({"governor", "issuer", "other_issuer", "relying", "auditor", "operator"}, ""),
    "rotateSm2Key": ({"governor", "issuer", "other_issuer", "relying", "auditor", "operator"}, ""),
    "registerType": ({"issuer", "other_issuer"}, "ConsortiumMissingRole"),
    "publishTypeVersion": ({"issuer"}, "CatalogNotTypeOwner"),
    "setTypeStatus": ({"issuer"}, "CatalogNotTypeOwner"),
    "setIssuer": ({"issuer"}, "CatalogNotTypeOwner"),
    "setRelyingDepartment": ({"issuer"}, "CatalogNotTypeOwner"),
    "setServiceItemUse": ({"issuer"}, "CatalogNotTypeOwner"),
    "transferTypeOwnership": ({"issuer"}, "CatalogNotTypeOwner"),
    "registerServiceItem": ({"relying"}, "ConsortiumMissingRole"),
    "setServiceItemHandler": ({"relying"}, "CatalogNotServiceItemOwner"),
    "transferServiceItemOwnership": ({"relying"}, "CatalogNotServiceItemOwner"),
    "anchorCatalogSnapshot": ({"governor", "issuer", "other_issuer", "relying", "auditor", "operator"}, ""),
    "issue": ({"issuer"}, "ConsortiumMissingRole"),
    "anchorBatch": ({"issuer"}, "ConsortiumMissingRole"),
    "revoke": ({"issuer"}, "RegistryNotIssuer"),
    "supersede": ({"issuer"}, "ConsortiumMissingRole"),
    "forgetDepartmentPermits": (set(), "PermitsUnauthorised"),
    "forgetTypePermits": (set(), "PermitsUnauthorised"),
    "retire": (set(), "RegistryOnlyGovernance"),
    "takeOver": (set(), "RegistryNotPredecessor"),  # only the predecessor, while it retires
    "handOverIssuancePermits": (set(), "ConsortiumNotIssuancePermits"),  # only the registry named, retiring
    "setLogOperator": (set(), "CheckpointOnlyGovernance"),
    "appendCheckpoint": ({"operator"}, "ConsortiumMissingRole"),
}

#: Errors of the functions only governance (or, for the registry's permit hooks, the Consortium and the
#: Catalog themselves; for takeOver, a retiring predecessor; for the hand-over, the registry named) may
#: call: every direct caller gets them, whatever its state.
GOVERNANCE_ONLY = {"ConsortiumOnlyGovernance", "CheckpointOnlyGovernance", "PermitsUnauthorised",
                   "RegistryOnlyGovernance", "RegistryNotPredecessor", "ConsortiumNotIssuancePermits"}

#: Where an active actor's error differs from the operation's general one.
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("issue", "other_issuer"): "CatalogIssuerNotAuthorised",
    ("anchorBatch", "other_issuer"): "CatalogIssuerNotAuthorised",
    ("supersede", "other_issuer"): "RegistryNotIssuer",
}


def expected_error(operation: str, actor: str) -> str | None:
    allowed, error = RULES[operation]
    if actor in allowed:
        return None
    if error in GOVERNANCE_ONLY:
        return error
    if actor == "suspended":
        return "ConsortiumDepartmentNotActive"
    if actor == "outsider":
        return "ConsortiumUnknownKey"
    return EXCEPTIONS.get((operation, actor), error)


CASES = [(operation, actor) for operation in OPERATIONS for actor in ACTORS]


def test_every_operation_has_a_rule() -> None:
    assert set(OPERATIONS) == set(RULES)


@pytest.mark.parametrize(("operation", "actor"), CASES, ids=[f"{o}-{a}" for o, a in CASES])
def test_permission(network: Network, reverts, operation: str, actor: str) -> None:
    function = OPERATIONS[operation](network, actor)
    error = expected_error(operation, actor)
    if error is None:
        assert network.send(function, actor)["status"] == 1
    else:
        with reverts(error):
            network.send(function, actor)
