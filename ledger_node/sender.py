"""Sends transactions signed locally, pipelined: nonces are assigned here, receipts awaited after.

One `Sender` holds the signing accounts of the departments it acts for. `submit` estimates gas
against the latest state, signs with the next local nonce and sends the raw transaction without
waiting; `wait` then awaits every receipt and reports the first failure with the contract's own
error. Callers order their work in phases so that a transaction only depends on transactions of
earlier, already mined phases (or earlier nonces of the same account).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from eth_account.datastructures import SignedTransaction
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError, TimeExhausted, Web3RPCError
from web3.types import TxReceipt

from ledger_node.errors import LedgerError
from ledger_node.transactions import EMBEDDED_REVERTS, ContractReverted, revert_from

#: What `submit` sends: a contract function call or a contract deployment.
Transactable = ContractFunction | ContractConstructor

#: Head-room over the estimate: same-phase transactions may touch storage the estimate saw empty.
GAS_MARGIN = 1.3
GAS_EXTRA = 30_000


class TransactionFailed(LedgerError):
    """A transaction was mined but reverted, or its receipt did not come."""

    code = "transaction_failed"


@dataclass(frozen=True)
class Submitted:
    """A sent transaction: what it was for, from whom, and its hash."""

    label: str
    sender: ChecksumAddress
    tx_hash: HexBytes
    function: Transactable


class Sender:
    def __init__(self, w3: Web3, accounts: Iterable[LocalAccount]) -> None:
        self.w3 = w3
        self.chain_id = w3.eth.chain_id
        self._accounts = {account.address: account for account in accounts}
        self._nonces: dict[ChecksumAddress, int] = {}
        self._fees = self._fee_fields()

    def add_account(self, account: LocalAccount) -> None:
        self._accounts[account.address] = account

    def _fee_fields(self) -> dict[str, int]:
        base_fee = self.w3.eth.get_block("latest").get("baseFeePerGas")
        if base_fee is None:  # pre-London chains (and consortium chains with gas price 0)
            return {"gasPrice": self.w3.eth.gas_price}
        tip = 10**9
        return {"maxFeePerGas": 2 * base_fee + tip, "maxPriorityFeePerGas": tip}

    def _next_nonce(self, sender: ChecksumAddress, *, resync: bool = False) -> int:
        if resync or sender not in self._nonces:
            self._nonces[sender] = self.w3.eth.get_transaction_count(sender, "pending")
        nonce = self._nonces[sender]
        self._nonces[sender] = nonce + 1
        return nonce

    def gas_limit(self, function: Transactable, sender: ChecksumAddress, *, label: str) -> int:
        """The estimate with head-room; raises `ContractReverted` when the call would revert now."""
        try:
            return int(function.estimate_gas({"from": sender}) * GAS_MARGIN) + GAS_EXTRA
        except (ContractCustomError, ContractLogicError, *EMBEDDED_REVERTS) as exc:
            raise _labelled(revert_from(exc), label) from exc

    def sign(self, function: Transactable, sender: ChecksumAddress, *, nonce: int, gas: int) -> SignedTransaction:
        """Signs `function` from `sender` with the given nonce and gas limit, without sending it."""
        account = self._accounts.get(sender)
        if account is None:
            raise LedgerError(f"no signing key for {sender}")
        tx = function.build_transaction({"from": sender, "nonce": nonce, "gas": gas, "chainId": self.chain_id,
                                         **self._fees})
        return account.sign_transaction(tx)

    def submit(self, function: Transactable, sender: ChecksumAddress, *, label: str) -> Submitted:
        """Signs and sends `function` from `sender` without waiting for it to be mined.

        Raises `ContractReverted` before sending when the call would revert against the latest state.
        """
        gas = self.gas_limit(function, sender, label=label)
        for attempt in (1, 2):
            signed = self.sign(function, sender, nonce=self._next_nonce(sender, resync=attempt == 2), gas=gas)
            try:
                tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
                return Submitted(label=label, sender=sender, tx_hash=tx_hash, function=function)
            except Web3RPCError as exc:
                # Someone else used this account (or a node restarted): take the node's nonce once.
                if attempt == 2 or "nonce" not in str(exc).lower():
                    raise TransactionFailed(f"{label}: node refused the transaction: {exc}") from exc
        raise AssertionError("unreachable")

    def wait(self, submitted: Sequence[Submitted], *, timeout: float = 120,
             on_receipt: Callable[[Submitted], Any] | None = None) -> list[TxReceipt]:
        """Awaits every receipt, in order; raises on the first that reverted or never came."""
        receipts = []
        for item in submitted:
            try:
                receipt = self.w3.eth.wait_for_transaction_receipt(item.tx_hash, timeout=timeout)
            except TimeExhausted as exc:
                raise TransactionFailed(f"{item.label}: no receipt for {item.tx_hash.to_0x_hex()} "
                                        f"after {timeout:.0f} s") from exc
            if receipt["status"] != 1:
                raise self._failure(item, receipt)
            receipts.append(receipt)
            if on_receipt:
                on_receipt(item)
        return receipts

    def transact(self, function: Transactable, sender: ChecksumAddress, *, label: str) -> TxReceipt:
        """Submits one transaction and waits for it."""
        return self.wait([self.submit(function, sender, label=label)])[0]

    def _failure(self, item: Submitted, receipt: TxReceipt) -> LedgerError:
        return explain_failure(item.function, item.sender, receipt, label=item.label)


def explain_failure(function: Transactable, sender: ChecksumAddress, receipt: TxReceipt, *, label: str) -> LedgerError:
    """Why a mined transaction reverted. Receipts carry no revert data: the call is replayed on the
    state it ran against to learn the contract's error."""
    try:
        if isinstance(function, ContractFunction):
            function.call({"from": sender}, block_identifier=receipt["blockNumber"] - 1)
    except (ContractCustomError, ContractLogicError, *EMBEDDED_REVERTS) as exc:
        return _labelled(revert_from(exc), label)
    return TransactionFailed(f"{label}: transaction {receipt['transactionHash'].to_0x_hex()} reverted "
                             f"(out of gas or state changed by an earlier transaction)")


def _labelled(error: ContractReverted, label: str) -> ContractReverted:
    error.label = label
    return error
