"""AuditCheckpoints: an operator's log checkpoints only grow and all stay queryable."""

from __future__ import annotations

from ledger_node.transactions import read
from ledger_node.types import Role
from tests.conftest import OPERATOR, Network, random_hash

LOG = b"access-log".ljust(32, b"\0")


def _append(network: Network, size: int, root: bytes | None = None, actor: str = "operator") -> None:
    network.send(network.checkpoints.functions.appendCheckpoint(LOG, size, root or random_hash()), actor)


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


def test_first_checkpoint_binds_the_log_to_its_operator(network: Network, reverts) -> None:
    _append(network, 1)
    assert network.checkpoints.functions.logOperator(LOG).call() == OPERATOR
    other = b"OTHER-OPERATOR".ljust(32, b"\0")
    network.govern(network.consortium.functions.admitDepartment(other, "另一运营方", int(Role.LOG_OPERATOR), [key := network.new_key()]))
    network.keys["other_operator"] = key
    with reverts("CheckpointNotLogOperator", LOG, OPERATOR, other):
        _append(network, 2, actor="other_operator")


def test_zero_root_is_refused(network: Network, reverts) -> None:
    with reverts("CheckpointInvalid", LOG, b"\0" * 32):
        _append(network, 1, b"\0" * 32)


def test_a_log_without_checkpoints_has_no_latest(network: Network, reverts) -> None:
    with reverts("CheckpointUnknown", LOG, 0):
        read(network.checkpoints.functions.latestCheckpoint(LOG))
