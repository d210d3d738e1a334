"""Stuck transactions (gateway/outbox.py `_replace_if_stuck`, CERTNET_REPLACE_AFTER_SECONDS): an operation
whose transaction has no receipt past the deadline is signed again with the same nonce and higher fees;
whichever of its transactions is mined, the operation is anchored once and its nonce used once. An
in-process gateway on a devnet that mines only when the test says so: a transaction sits in the node's
pool until the test mines a block."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import pytest
from hexbytes import HexBytes
from web3.exceptions import TransactionNotFound

from gateway.db import Operation, OperationState
from gateway.models import IssueRequest
from gateway.service import Gateway
from ledger_node.sender import fees_of
from tests.conftest import (Devnet, GatewayProcess, department_caller, issued_events, marriage_request,
                            wait_done)

pytestmark = pytest.mark.slow

MakeGateway = Callable[..., Gateway]


def _sent(gateway: Gateway, number: str) -> Operation:
    """MZ's issuance, signed and sent, not mined."""
    operation = gateway.issuance.issue(department_caller("MZ"), IssueRequest.model_validate(marriage_request(number)),
                                       None)
    gateway.outbox.sign_prepared()
    gateway.outbox.send_signed()
    return _state(gateway, operation)


def _state(gateway: Gateway, operation: Operation) -> Operation:
    with gateway.sessions() as session:
        found = session.get(Operation, operation.id)
    assert found is not None
    return found


def _stuck_and_replaced(own_devnet: Devnet, gateway_on_own_devnet: MakeGateway) -> tuple[Gateway, Operation, Operation]:
    """A gateway replacing at once, its first transaction, and the operation once the replacement is sent."""
    own_devnet.mine_by_hand()
    gateway = gateway_on_own_devnet(replace_after_seconds=0)
    first = _sent(gateway, "STUCK-1")
    gateway.outbox.collect_receipts()  # no block came: no receipt
    gateway.outbox.send_signed()
    return gateway, first, _state(gateway, first)


def _assert_mined_once_by(own_devnet: Devnet, gateway: Gateway, operation: Operation, tx_hash: str | None) -> None:
    """After the next block: the operation is done with `tx_hash`, anchored once, its nonce used once."""
    own_devnet.mine()
    gateway.outbox.collect_receipts()
    done = _state(gateway, operation)
    assert (done.state, done.tx_hash) == (OperationState.DONE.value, tx_hash)
    assert issued_events(own_devnet, operation.request["certificateHash"]) == 1
    assert own_devnet.w3.eth.get_transaction_count(operation.sender) == operation.nonce + 1


def test_a_transaction_without_a_receipt_past_the_deadline_is_signed_again_with_its_nonce_and_higher_fees(
        own_devnet: Devnet, gateway_on_own_devnet: MakeGateway) -> None:
    _gateway, first, replaced = _stuck_and_replaced(own_devnet, gateway_on_own_devnet)
    assert (replaced.state, replaced.nonce) == (OperationState.SENT.value, first.nonce)
    assert replaced.tx_hash != first.tx_hash
    old_fees, new_fees = fees_of(first.raw_tx), fees_of(replaced.raw_tx)
    assert all(new_fees[name] >= old_fees[name] * 1.25 for name in old_fees), (old_fees, new_fees)


def test_the_history_names_the_transaction_replaced(own_devnet: Devnet, gateway_on_own_devnet: MakeGateway) -> None:
    _gateway, first, replaced = _stuck_and_replaced(own_devnet, gateway_on_own_devnet)
    note = replaced.history[-1]
    assert (note["event"], note["transactions"], note["by"]) == ("replaced", [first.tx_hash], replaced.tx_hash)


def test_a_replaced_transaction_anchors_once_and_uses_its_nonce_once(own_devnet: Devnet,
                                                                     gateway_on_own_devnet: MakeGateway) -> None:
    gateway, first, replaced = _stuck_and_replaced(own_devnet, gateway_on_own_devnet)
    _assert_mined_once_by(own_devnet, gateway, first, replaced.tx_hash)
    with pytest.raises(TransactionNotFound):  # the node took the replacement in its place
        own_devnet.w3.eth.get_transaction(HexBytes(first.tx_hash))


def test_when_the_transaction_replaced_is_mined_instead_the_operation_is_done_with_it(
        own_devnet: Devnet, gateway_on_own_devnet: MakeGateway) -> None:
    gateway, first, replaced = _stuck_and_replaced(own_devnet, gateway_on_own_devnet)
    # Another node of the network mined the first transaction before the replacement reached it.
    own_devnet.w3.provider.make_request("anvil_dropTransaction", [replaced.tx_hash])
    own_devnet.w3.eth.send_raw_transaction(first.raw_tx)
    _assert_mined_once_by(own_devnet, gateway, first, first.tx_hash)


def test_a_transaction_within_the_deadline_is_left_as_it_is(own_devnet: Devnet,
                                                            gateway_on_own_devnet: MakeGateway) -> None:
    own_devnet.mine_by_hand()
    gateway = gateway_on_own_devnet(replace_after_seconds=3600)
    first = _sent(gateway, "PATIENT-1")
    gateway.outbox.collect_receipts()
    waiting = _state(gateway, first)
    assert (waiting.state, waiting.tx_hash) == (OperationState.SENT.value, first.tx_hash)


def test_a_serving_gateway_gets_its_transaction_past_a_fee_spike_by_replacing_it(own_devnet: Devnet,
                                                                                tmp_path: Path) -> None:
    """Through the dispatcher's own loop: the base fee jumps a hundredfold after the transaction was sent,
    far above what it offers. anvil drops it; sent again, it is refused for its fees and replaced."""
    own_devnet.mine_by_hand()
    gateway = GatewayProcess(own_devnet, tmp_path / "gateway", replace_after_seconds="5", issue_wait_seconds="0").start()
    try:
        accepted = gateway.client.post("/v1/certificates", json=marriage_request("J320100-2026-SPIKE"),
                                       headers=gateway.auth("MZ"))
        assert accepted.status_code == 202, accepted.text
        path = f"/v1/operations/{accepted.json()['operation']['id']}"
        first = _until(gateway, path, lambda operation: operation["state"] == "sent")["transactionHash"]
        base_fee = own_devnet.w3.eth.get_block("latest")["baseFeePerGas"]
        own_devnet.w3.provider.make_request("anvil_setNextBlockBaseFeePerGas", [hex(100 * base_fee)])
        own_devnet.mine()  # a block whose base fee the transaction does not meet: anvil drops it from its pool
        assert own_devnet.w3.eth.get_block("latest")["transactions"] == []
        _until(gateway, path, lambda operation: operation["state"] == "sent" and operation["transactionHash"] != first)
        own_devnet.mine()
        done = wait_done(gateway, path)
        assert done["operation"]["state"] == "done"
        assert "replaced" in [event["event"] for event in done["operation"]["history"]]
        assert issued_events(own_devnet, done["certificate"]["proof"]["certificateHash"]) == 1
    finally:
        gateway.stop()


def _until(gateway: GatewayProcess, path: str, condition: Callable[[dict[str, Any]], bool],
           timeout: float = 60) -> dict[str, Any]:
    """The operation's view once `condition` holds for it (polled)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = gateway.client.get(path, headers=gateway.auth("MZ")).json()
        operation = view.get("operation", view)  # (a done issuance comes with its certificate)
        if condition(operation):
            return operation
        time.sleep(0.1)
    raise AssertionError(f"{path}: condition not met within {timeout:.0f} s")
