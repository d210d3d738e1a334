"""Sends transactions signed locally, pipelined: nonces are assigned here, receipts awaited after.

One `Sender` holds the signing accounts of the departments it acts for. `submit` estimates gas
against the latest state, signs with the next local nonce and sends the raw transaction without
waiting; `wait` then awaits every receipt and reports the first failure with the contract's own
error. Callers order their work in phases so that a transaction only depends on transactions of
earlier, already mined phases (or earlier nonces of the same account).

Fees follow the chain's fee model (`chain_fees`: EIP-1559, legacy gas price, or none on a free-gas
consortium chain); `replacement_fees` prices a transaction that replaces a stuck one at its nonce.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from eth_account.datastructures import SignedTransaction
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils import big_endian_to_int
from hexbytes import HexBytes
import rlp
from web3 import Web3
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.exceptions import (ContractCustomError, ContractLogicError, MethodUnavailable, TimeExhausted,
                             Web3RPCError)
from web3.types import TxReceipt

from ledger_node.errors import LedgerError
from ledger_node.transactions import EMBEDDED_REVERTS, ContractReverted, revert_from

#: What `submit` sends: a contract function call or a contract deployment.
Transactable = ContractFunction | ContractConstructor

#: Head-room over the estimate: same-phase transactions may touch storage the estimate saw empty.
GAS_MARGIN = 1.3
GAS_EXTRA = 30_000

#: The priority fee (tip) offered when the node does not suggest one (`eth_maxPriorityFeePerGas`).
DEFAULT_TIP = 10**9
#: How long fees read from the chain are reused: every block may move the base fee by 12.5 %, and
#: the max fee offered (twice the base fee) leaves room for several.
FEE_REFRESH_SECONDS = 2.0
#: A replacement raises every fee by this much, in percent (nodes want at least 10 %, geth and Besu 12.5 %).
DEFAULT_BUMP_PERCENT = 25.0
#: No transaction offers more per gas than this by default (1000 gwei).
DEFAULT_FEE_CAP = 1000 * 10**9

#: The fee fields of a transaction: {"maxFeePerGas", "maxPriorityFeePerGas"} (EIP-1559) or {"gasPrice"}.
Fees = dict[str, int]


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
    def __init__(self, w3: Web3, accounts: Iterable[LocalAccount], *, bump_percent: float = DEFAULT_BUMP_PERCENT,
                 fee_cap: int = DEFAULT_FEE_CAP) -> None:
        self.w3 = w3
        self.chain_id = w3.eth.chain_id
        self.bump_percent = bump_percent
        self.fee_cap = fee_cap
        self._accounts = {account.address: account for account in accounts}
        self._nonces: dict[ChecksumAddress, int] = {}
        self._fees: Fees = {}
        self._fees_read_at = float("-inf")

    def add_account(self, account: LocalAccount) -> None:
        self._accounts[account.address] = account

    def fees(self) -> Fees:
        """What a transaction offers now (read from the chain at most every FEE_REFRESH_SECONDS)."""
        if time.monotonic() - self._fees_read_at > FEE_REFRESH_SECONDS:
            self._fees = capped(chain_fees(self.w3), self.fee_cap)
            self._fees_read_at = time.monotonic()
        return self._fees

    def replacement_fees(self, raw_transaction: bytes) -> Fees | None:
        """The fees for a transaction replacing `raw_transaction` (same nonce): each of its fees raised by
        `bump_percent`, or the chain's current ones where they are higher, within the cap. None when
        replacing cannot help: a chain without fees (gas price 0), or the old fees already at the cap."""
        old = fees_of(raw_transaction)
        if not any(old.values()):
            return None
        current = chain_fees(self.w3)
        if current.keys() != old.keys():  # (the chain changed its fee model under the transaction)
            current = {}
        bump = round(self.bump_percent * 100)  # in 1/10 000; rounded up: nodes want at least the bump
        raised = capped({name: max(value + _ceil_div(value * bump, 10_000), value + 1, current.get(name, 0))
                         for name, value in old.items()}, self.fee_cap)
        return raised if all(raised[name] > old[name] for name in old) else None

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

    def sign(self, function: Transactable, sender: ChecksumAddress, *, nonce: int, gas: int,
             fees: Fees | None = None) -> SignedTransaction:
        """Signs `function` from `sender` with the given nonce and gas limit (and fees: default the
        chain's current ones), without sending it."""
        account = self._accounts.get(sender)
        if account is None:
            raise LedgerError(f"no signing key for {sender}")
        tx = function.build_transaction({"from": sender, "nonce": nonce, "gas": gas, "chainId": self.chain_id,
                                         **(fees or self.fees())})
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


def chain_fees(w3: Web3) -> Fees:
    """The fees the chain asks for now. Where the latest block has a base fee (EIP-1559): a type-2
    transaction offering twice the base fee plus the node's suggested tip, so that it stays
    includable while the base fee rises for a few blocks; where it has none: the legacy gas price.
    A chain whose gas price is 0 (a Besu consortium with `--min-gas-price=0` and a zero base fee)
    gets fees of 0: its accounts need no ether."""
    base_fee = w3.eth.get_block("latest").get("baseFeePerGas")
    gas_price = w3.eth.gas_price
    if base_fee is None:
        return {"gasPrice": gas_price}
    if base_fee == 0 and gas_price == 0:
        return {"maxFeePerGas": 0, "maxPriorityFeePerGas": 0}
    tip = _suggested_tip(w3)
    return {"maxFeePerGas": 2 * base_fee + tip, "maxPriorityFeePerGas": tip}


def _suggested_tip(w3: Web3) -> int:
    try:
        return w3.eth.max_priority_fee
    except (Web3RPCError, MethodUnavailable, NotImplementedError, ValueError):  # nodes without the method
        return DEFAULT_TIP


def capped(fees: Fees, cap: int) -> Fees:
    """`fees` with none above `cap` (the tip never above the max fee)."""
    return {name: min(value, cap) for name, value in fees.items()}


def fees_of(raw_transaction: bytes) -> Fees:
    """The fee fields of a signed transaction: type 2 (EIP-1559) or legacy; other types are not sent here."""
    if raw_transaction[:1] == b"\x02":  # 0x02 || rlp([chainId, nonce, tip, maxFee, ...])
        fields = rlp.decode(raw_transaction[1:])
        return {"maxPriorityFeePerGas": big_endian_to_int(fields[2]), "maxFeePerGas": big_endian_to_int(fields[3])}
    if raw_transaction[:1] >= b"\xc0":  # legacy: rlp([nonce, gasPrice, ...])
        return {"gasPrice": big_endian_to_int(rlp.decode(raw_transaction)[1])}
    raise LedgerError(f"transaction type 0x{raw_transaction[:1].hex()} has no fees this sender knows")


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


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)
