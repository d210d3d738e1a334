"""AuditCheckpoints: logs registered by governance with their operator; an operator's checkpoints
only grow and all stay queryable."""

from __future__ import annotations

from web3.logs import DISCARD

from ledger_node.transactions import read
from ledger_node.types import DepartmentStatus, Role
from tests.conftest import ACCESS_LOG, AUDITOR, OPERATOR, Network, random_hash

LOG = ACCESS_LOG  # registered with OPERATOR by the test network
OTHER_OPERATOR = b"OTHER-OPERATOR".ljust(32, b"\0")


def _append(network: Network, size: int, root: bytes | None = None, actor: str = "operator", log: bytes = LOG) -> None:
    network.send(network.checkpoints.functions.appendCheckpoint(log, size, root or random_hash()), actor)


def _admit_other_operator(network: Network) -> None:
    network.govern(network.consortium.functions.admitDepartment(OTHER_OPERATOR, "另一运营方", int(Role.LOG_OPERATOR),
                                                                [key := network.new_key()]))
    network.keys["other_operator"] = key


def test_checkpoints_stay_queryable_in_order(network: Network) -> None:
    roots = [random_hash() for _ in range(3)]
    for size, root in zip((5, 9, 20), roots):
        _append(network, size, root)
    assert network.checkpoints.functions.checkpointCount(LOG).call() == 3
    stored = [network.checkpoints.functions.checkpoint(LOG, i).call() for i in range(3)]
    assert [(s[0], s[3]) for s in stored] == list(zip((5, 9, 20), roots))
    assert read(network.checkpoints.functions.latestCheckpoint(LOG))[0] == 20


def test_tree_size_must_grow(network: Network, reverts) -> None:
    _append(network, 10)
    with reverts("CheckpointTreeNotGrowing", LOG, 10, 10):
        _append(network, 10)
    with reverts("CheckpointTreeNotGrowing", LOG, 10, 9):
        _append(network, 9)


def test_governance_registers_a_log_with_its_operator(network: Network) -> None:
    log = random_hash()
    receipt = network.govern(network.checkpoints.functions.setLogOperator(log, OPERATOR))
    event = network.checkpoints.events.LogOperatorAssigned().process_receipt(receipt, errors=DISCARD)[0]["args"]
    assert (event["logId"], event["previousOperator"], event["operator"]) == (log, b"\0" * 32, OPERATOR)
    assert network.checkpoints.functions.logOperator(log).call() == OPERATOR
    _append(network, 1, log=log)


def test_an_unregistered_log_cannot_be_checkpointed(network: Network, reverts) -> None:
    log = random_hash()
    with reverts("CheckpointUnregisteredLog", log):
        _append(network, 1, log=log)
    assert network.checkpoints.functions.logOperator(log).call() == b"\0" * 32


def test_only_the_registered_operator_checkpoints_a_log(network: Network, reverts) -> None:
    _admit_other_operator(network)
    with reverts("CheckpointNotLogOperator", LOG, OPERATOR, OTHER_OPERATOR):
        _append(network, 1, actor="other_operator")


def test_governance_hands_a_log_to_another_operator(network: Network, reverts) -> None:
    _append(network, 1)
    _admit_other_operator(network)
    receipt = network.govern(network.checkpoints.functions.setLogOperator(LOG, OTHER_OPERATOR))
    event = network.checkpoints.events.LogOperatorAssigned().process_receipt(receipt, errors=DISCARD)[0]["args"]
    assert (event["previousOperator"], event["operator"]) == (OPERATOR, OTHER_OPERATOR)
    _append(network, 2, actor="other_operator")
    with reverts("CheckpointNotLogOperator", LOG, OTHER_OPERATOR, OPERATOR):
        _append(network, 3)


def test_a_log_operator_needs_the_log_operator_role(network: Network, reverts) -> None:
    log = random_hash()
    with reverts("CheckpointOperatorIneligible", log, AUDITOR):
        network.govern(network.checkpoints.functions.setLogOperator(log, AUDITOR))


def test_a_log_operator_must_be_active(network: Network, reverts) -> None:
    network.govern(network.consortium.functions.setStatus(OPERATOR, DepartmentStatus.SUSPENDED))
    log = random_hash()
    with reverts("CheckpointOperatorIneligible", log, OPERATOR):
        network.govern(network.checkpoints.functions.setLogOperator(log, OPERATOR))


def test_a_log_operator_must_be_a_department(network: Network, reverts) -> None:
    unknown = random_hash()
    with reverts("ConsortiumUnknownDepartment", unknown):
        network.govern(network.checkpoints.functions.setLogOperator(random_hash(), unknown))


def test_a_zero_log_id_is_refused(network: Network, reverts) -> None:
    with reverts("CheckpointInvalid", b"\0" * 32, b"\0" * 32):
        network.govern(network.checkpoints.functions.setLogOperator(b"\0" * 32, OPERATOR))


def test_zero_root_is_refused(network: Network, reverts) -> None:
    with reverts("CheckpointInvalid", LOG, b"\0" * 32):
        _append(network, 1, b"\0" * 32)


def test_a_log_without_checkpoints_has_no_latest(network: Network, reverts) -> None:
    with reverts("CheckpointUnknown", LOG, 0):
        read(network.checkpoints.functions.latestCheckpoint(LOG))
