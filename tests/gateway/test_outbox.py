"""The outbox against a chain that loses what it had: operations are done only when final, blocks that
leave the chain are re-checked, nonces heal. Each test mines blocks by hand, so it decides exactly
what the chain holds at every step."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Callable

import pytest

from gateway.db import Operation, OperationState
from gateway.models import IssueRequest, RevokeRequest
from gateway.service import Gateway
from tests.conftest import DEMO_DEPARTMENTS, Devnet, department_caller, issued_events, marriage_request

pytestmark = pytest.mark.slow


def _issue(gateway: Gateway, number: str) -> Operation:
    return gateway.issuance.issue(department_caller("MZ"), IssueRequest.model_validate(marriage_request(number)), None)


def _state(gateway: Gateway, operation: Operation) -> Operation:
    with gateway.sessions() as session:
        found = session.get(Operation, operation.id)
    assert found is not None
    return found


def _send_and_mine(gateway: Gateway, devnet: Devnet) -> None:
    """One dispatcher round around one mined block."""
    gateway.outbox.sign_prepared()
    gateway.outbox.send_signed()
    devnet.mine()
    gateway.outbox.collect_receipts()


@pytest.fixture
def by_hand(own_devnet: Devnet, gateway_on_own_devnet: Callable[..., Gateway]) -> Callable[..., Gateway]:
    """In-process gateways on a devnet that mines only when the test says so."""
    own_devnet.mine_by_hand()
    return gateway_on_own_devnet


def test_an_operation_is_mined_until_its_block_is_confirmations_deep(own_devnet: Devnet,
                                                                     by_hand: Callable[..., Gateway]) -> None:
    gateway = by_hand(confirmations=2)
    operation = _issue(gateway, "DEEP-1")
    _send_and_mine(gateway, own_devnet)
    assert _state(gateway, operation).state == OperationState.MINED.value
    own_devnet.mine()
    gateway.outbox.confirm_mined()
    assert _state(gateway, operation).state == OperationState.MINED.value  # one block deep
    own_devnet.mine()
    gateway.outbox.confirm_mined()
    assert _state(gateway, operation).state == OperationState.DONE.value


def test_without_confirmations_an_operation_is_done_when_mined(own_devnet: Devnet,
                                                              by_hand: Callable[..., Gateway]) -> None:
    gateway = by_hand(confirmations=0)
    operation = _issue(gateway, "DEEP-0")
    _send_and_mine(gateway, own_devnet)
    assert _state(gateway, operation).state == OperationState.DONE.value


def test_a_done_operation_whose_block_left_the_chain_is_anchored_again(own_devnet: Devnet,
                                                                     by_hand: Callable[..., Gateway]) -> None:
    gateway = by_hand(confirmations=1)
    before = own_devnet.w3.provider.make_request("evm_snapshot", [])["result"]
    operation = _issue(gateway, "REORG-1")
    _send_and_mine(gateway, own_devnet)
    own_devnet.mine(2)
    gateway.outbox.confirm_mined()
    lost_block = _state(gateway, operation).block_number
    assert _state(gateway, operation).state == OperationState.DONE.value
    own_devnet.w3.provider.make_request("evm_revert", [before])  # three blocks deep: deeper than confirmations
    own_devnet.mine(4)  # the chain grows past the lost block again, with other blocks
    assert issued_events(own_devnet, operation.request["certificateHash"]) == 0

    assert gateway.outbox.reconcile() == 1
    reopened = _state(gateway, operation)
    assert reopened.state == OperationState.SIGNED.value
    assert [(event["event"], event["block"]) for event in reopened.history] == [("rolled_back", lost_block)]
    _send_and_mine(gateway, own_devnet)
    own_devnet.mine()
    gateway.outbox.confirm_mined()
    assert _state(gateway, operation).state == OperationState.DONE.value
    assert issued_events(own_devnet, operation.request["certificateHash"]) == 1


def test_blocks_still_on_the_chain_are_left_alone(own_devnet: Devnet, by_hand: Callable[..., Gateway]) -> None:
    gateway = by_hand()
    operation = _issue(gateway, "KEPT-1")
    _send_and_mine(gateway, own_devnet)
    own_devnet.mine(3)
    assert gateway.outbox.reconcile() == 0
    assert _state(gateway, operation).state == OperationState.DONE.value


def test_a_transaction_the_node_dropped_is_sent_again(own_devnet: Devnet, by_hand: Callable[..., Gateway]) -> None:
    gateway = by_hand()
    operation = _issue(gateway, "DROP-1")
    gateway.outbox.sign_prepared()
    gateway.outbox.send_signed()
    sent = _state(gateway, operation)
    own_devnet.w3.provider.make_request("anvil_dropTransaction", [sent.tx_hash])
    gateway.outbox.reconcile()
    assert _state(gateway, operation).history[-1]["event"] == "unknown_to_node"
    _send_and_mine(gateway, own_devnet)
    assert _state(gateway, operation).state == OperationState.DONE.value
    assert issued_events(own_devnet, operation.request["certificateHash"]) == 1


def test_operations_behind_a_nonce_no_transaction_holds_are_signed_again(own_devnet: Devnet,
                                                                        by_hand: Callable[..., Gateway]) -> None:
    gateway = by_hand()
    refused, behind = _issue(gateway, "GAP-1"), _issue(gateway, "GAP-2")
    with gateway.sessions.begin() as session:  # more gas than a block holds: the node refuses it
        session.get(Operation, refused.id).gas = 10**9
    gateway.outbox.sign_prepared()
    gateway.outbox.send_signed()
    assert _state(gateway, refused).error_code == "transaction_refused"
    gap_nonce = _state(gateway, refused).nonce
    own_devnet.mine()
    gateway.outbox.collect_receipts()
    assert _state(gateway, behind).state == OperationState.SENT.value  # waits behind the gap for ever, unhealed

    gateway.outbox.reconcile()
    assert _state(gateway, behind).state == OperationState.PREPARED.value
    _send_and_mine(gateway, own_devnet)
    healed = _state(gateway, behind)
    assert (healed.state, healed.nonce) == (OperationState.DONE.value, gap_nonce)
    assert [event["event"] for event in healed.history] == ["nonce_gap", "signed", "mined"]


def _sent_twice(gateway: Gateway, devnet: Devnet, operation: Operation) -> tuple[Operation, Operation]:
    """The operation mined, then signed and sent again as if its nonce had been taken: (first, second)."""
    _send_and_mine(gateway, devnet)
    first = _state(gateway, operation)
    with gateway.sessions.begin() as session:
        session.get(Operation, operation.id).state = OperationState.PREPARED.value
    _send_and_mine(gateway, devnet)  # the second transaction reverts: the contract refuses doing it twice
    return first, _state(gateway, operation)


def test_a_second_transaction_of_an_anchored_certificate_finds_it_where_the_first_landed(
        own_devnet: Devnet, by_hand: Callable[..., Gateway]) -> None:
    gateway = by_hand()
    operation = _issue(gateway, "TWICE-1")
    first, again = _sent_twice(gateway, own_devnet, operation)
    assert (again.state, again.block_number, again.block_hash) == (OperationState.DONE.value, first.block_number,
                                                                   first.block_hash)
    assert again.history[-2] == {**again.history[-2], "event": "already_anchored", "reason": "RegistryAlreadyAnchored"}
    assert issued_events(own_devnet, operation.request["certificateHash"]) == 1


def test_a_second_transaction_of_a_revocation_finds_it_where_the_first_landed(
        own_devnet: Devnet, by_hand: Callable[..., Gateway]) -> None:
    gateway = by_hand()
    issued = _issue(gateway, "TWICE-2")
    _send_and_mine(gateway, own_devnet)
    revocation = gateway.issuance.revoke(department_caller("MZ"), issued.request["certificateHash"],
                                         RevokeRequest(reason=1), None)
    first, again = _sent_twice(gateway, own_devnet, revocation)
    assert (again.state, again.block_number) == (OperationState.DONE.value, first.block_number)
    assert again.history[-2]["reason"] == "RegistryAlreadyRevoked"


def _certnet(gateway: Gateway, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CERTNET_RPC_URL": gateway.settings.rpc_url or "", "COLUMNS": "200"}
    return subprocess.run([str(Path(sys.executable).with_name("certnet")), "outbox", *args, "--data-dir",
                           str(gateway.settings.data_dir)], env=env, capture_output=True, text=True, timeout=120)


def test_outbox_status_shows_open_operations_per_account_with_the_chains_nonce(
        own_devnet: Devnet, by_hand: Callable[..., Gateway]) -> None:
    gateway = by_hand()
    operation = _issue(gateway, "STATUS-1")
    gateway.outbox.sign_prepared()
    signed = _state(gateway, operation)
    shown = _certnet(gateway, "status")
    assert shown.returncode == 0, shown.stderr
    row = next(line for line in shown.stdout.splitlines() if signed.sender in line)
    assert DEMO_DEPARTMENTS["MZ"] in row and "1 signed" in row and f"{signed.nonce}–{signed.nonce}" in row
    assert f"{signed.nonce} ({signed.nonce})" in row  # nothing of it reached the node yet


def test_outbox_retry_sends_again_what_the_node_lost(own_devnet: Devnet, by_hand: Callable[..., Gateway]) -> None:
    gateway = by_hand()
    operation = _issue(gateway, "RETRY-1")
    gateway.outbox.sign_prepared()
    gateway.outbox.send_signed()
    own_devnet.w3.provider.make_request("anvil_dropTransaction", [_state(gateway, operation).tx_hash])
    gateway.leases.release()  # the gateway stops; the command takes its duties
    retried = _certnet(gateway, "retry")
    assert retried.returncode == 0, retried.stderr
    assert "1 for accounts' nonces" in retried.stdout
    assert _state(gateway, operation).state == OperationState.SIGNED.value


def test_a_request_waiting_for_an_operation_leaves_no_wake_up_behind(own_devnet: Devnet,
                                                                     by_hand: Callable[..., Gateway]) -> None:
    """Neither a wait that times out nor one that the dispatcher ends keeps its wake-up (the outbox
    kept one per operation once, and the soak found them piling up)."""
    gateway = by_hand()
    operation = _issue(gateway, "WAIT-1")
    timed_out = asyncio.run(gateway.outbox.settled(operation.id, timeout=0.01))  # nothing sent yet
    finished: list[Operation] = []
    waiting = threading.Thread(target=lambda: finished.append(asyncio.run(gateway.outbox.settled(operation.id, 120))))
    waiting.start()
    _send_and_mine(gateway, own_devnet)  # the receipt wakes the waiting request
    waiting.join()
    assert (timed_out.state, finished[0].state, gateway.outbox._waiters) == ("prepared", "done", {})
