"""Fees read from the chain (ledger_node/sender.py): EIP-1559 where blocks have a base fee, a legacy gas
price where they do not, zero on a free-gas chain; and the fees of a replacement transaction. Each chain
is an anvil of the test's own, started with the options that give it that fee model."""

from __future__ import annotations

from typing import Any, Callable

import pytest
from web3 import Web3

from ledger_node.accounts import dev_account
from ledger_node.sender import Sender, chain_fees, fees_of

pytestmark = pytest.mark.slow

StartAnvil = Callable[..., Web3]


def _transfer(w3: Web3, fees: dict[str, int], *, nonce: int | None = None, account: int = 1) -> Any:
    """A transfer of 1 wei offering `fees`, signed; not sent."""
    sender = dev_account(account)
    return sender.sign_transaction({"to": dev_account(2).address, "value": 1, "gas": 21_000, "chainId": w3.eth.chain_id,
                                    "nonce": w3.eth.get_transaction_count(sender.address) if nonce is None else nonce,
                                    **fees})


def _mined(w3: Web3, fees: dict[str, int]) -> Any:
    return w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(_transfer(w3, fees).raw_transaction),
                                               timeout=30)


def test_a_chain_with_a_base_fee_gets_eip1559_fees_of_twice_the_base_fee_plus_the_nodes_tip(
        bare_anvil: StartAnvil) -> None:
    w3 = bare_anvil()
    base_fee = w3.eth.get_block("latest")["baseFeePerGas"]
    tip = w3.eth.max_priority_fee
    assert chain_fees(w3) == {"maxFeePerGas": 2 * base_fee + tip, "maxPriorityFeePerGas": tip}


def test_eip1559_fees_are_mined_as_a_type_2_transaction(bare_anvil: StartAnvil) -> None:
    w3 = bare_anvil()
    assert _mined(w3, chain_fees(w3))["type"] == 2


def test_a_chain_without_a_base_fee_gets_the_legacy_gas_price(bare_anvil: StartAnvil) -> None:
    w3 = bare_anvil("--hardfork", "berlin")
    assert chain_fees(w3) == {"gasPrice": w3.eth.gas_price}
    assert _mined(w3, chain_fees(w3))["type"] == 0


def test_a_free_gas_chain_gets_fees_of_zero_and_its_accounts_pay_nothing(bare_anvil: StartAnvil) -> None:
    w3 = bare_anvil("--base-fee", "0", "--gas-price", "0", "--disable-min-priority-fee")
    fees = chain_fees(w3)
    assert fees == {"maxFeePerGas": 0, "maxPriorityFeePerGas": 0}
    before = w3.eth.get_balance(dev_account(1).address)
    _mined(w3, fees)
    assert w3.eth.get_balance(dev_account(1).address) == before - 1  # the wei sent, no fee


def test_the_fees_a_transaction_offers_are_read_back_from_its_bytes(bare_anvil: StartAnvil) -> None:
    w3 = bare_anvil()
    for fees in ({"maxFeePerGas": 7 * 10**9, "maxPriorityFeePerGas": 2 * 10**9}, {"gasPrice": 3 * 10**9}):
        assert fees_of(bytes(_transfer(w3, fees).raw_transaction)) == fees


def test_a_replacement_raises_every_fee_by_the_bump(bare_anvil: StartAnvil) -> None:
    w3 = bare_anvil()
    old = {"maxFeePerGas": 100 * 10**9, "maxPriorityFeePerGas": 10 * 10**9}  # above what the chain asks
    raised = Sender(w3, [], bump_percent=25).replacement_fees(bytes(_transfer(w3, old).raw_transaction))
    assert raised == {"maxFeePerGas": 125 * 10**9, "maxPriorityFeePerGas": 12_500_000_000}


def test_a_replacement_offers_the_chains_fees_where_they_are_higher_than_the_bump(bare_anvil: StartAnvil) -> None:
    w3 = bare_anvil()
    current = chain_fees(w3)
    old = {name: value // 10 for name, value in current.items()}
    raised = Sender(w3, []).replacement_fees(bytes(_transfer(w3, old).raw_transaction))
    assert raised == current


def test_a_replacement_is_not_offered_above_the_fee_cap(bare_anvil: StartAnvil) -> None:
    w3 = bare_anvil()
    at_cap = {"maxFeePerGas": 50 * 10**9, "maxPriorityFeePerGas": 10 * 10**9}
    sender = Sender(w3, [], fee_cap=50 * 10**9)
    assert sender.replacement_fees(bytes(_transfer(w3, at_cap).raw_transaction)) is None


def test_a_free_gas_chains_transaction_is_not_replaced(bare_anvil: StartAnvil) -> None:
    """Raising a fee of 0 would make the accounts of a free-gas chain pay, and they hold no ether."""
    w3 = bare_anvil("--base-fee", "0", "--gas-price", "0", "--disable-min-priority-fee")
    zero = {"maxFeePerGas": 0, "maxPriorityFeePerGas": 0}
    assert Sender(w3, []).replacement_fees(bytes(_transfer(w3, zero).raw_transaction)) is None
