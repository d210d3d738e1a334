"""Sends contract transactions and waits for them, turning reverts into typed errors."""

from __future__ import annotations

import ast
import re
from typing import Any

from eth_typing import ChecksumAddress
from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.types import TxReceipt

from ledger_node.artifacts import decode_error

try:  # the embedded engine raises its own exception type for reverts
    from eth_tester.exceptions import TransactionFailed

    EMBEDDED_REVERTS: tuple[type[Exception], ...] = (TransactionFailed,)
except ImportError:  # pragma: no cover - eth-tester is an optional engine
    EMBEDDED_REVERTS = ()
from ledger_node.errors import LedgerError


_BYTES_REPR = re.compile(r"b'(?:[^'\\]|\\.)*'$|b\"(?:[^\"\\]|\\.)*\"$")


class ContractReverted(LedgerError):
    """A contract call reverted; `error` and `args` name the custom error when it is ours."""

    code = "contract_reverted"

    def __init__(self, error: str, args: tuple[Any, ...] = (), raw: bytes = b"") -> None:
        super().__init__(error)
        self.error = error
        self.args_ = args
        self.raw = raw
        self.label = ""  # what the transaction was for, when a batch of them is sent

    def __str__(self) -> str:
        described = f"{self.error}{_printable(self.args_)}" if self.args_ else self.error
        return f"{self.label}: {described}" if self.label else described


def _printable(args: tuple[Any, ...]) -> str:
    """Arguments as people read them: bytes32 codes as text when they are ASCII, else hex."""
    def show(value: Any) -> str:
        if isinstance(value, bytes):
            text = value.rstrip(b"\0")
            return repr(text.decode()) if text.isascii() and text.decode().isprintable() else "0x" + value.hex()
        return repr(value)

    return "(" + ", ".join(show(a) for a in args) + ")"


def _revert_data(exc: BaseException) -> bytes | None:
    """The raw revert data carried by a web3 or eth-tester exception, if any.

    web3 puts it in `ContractLogicError.data` as hex, except for ganache's gas estimates, whose
    error details (a dict argument) hold it under "result"; the embedded eth-tester backend
    raises its own `TransactionFailed` carrying the bytes, or their `repr`, as first argument.
    """
    seen: BaseException | None = exc
    while seen is not None:
        details = next((a for a in seen.args if isinstance(a, dict)), {})
        for data in (getattr(seen, "data", None), details.get("data"), details.get("result")):
            if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
                return bytes(HexBytes(data))
        first = seen.args[0] if seen.args else None
        if isinstance(first, bytes):
            return first
        if isinstance(first, str) and (match := _BYTES_REPR.search(first)):
            return ast.literal_eval(match.group(0))
        seen = seen.__cause__ or seen.__context__
    return None


def revert_from(exc: BaseException) -> ContractReverted:
    """Decodes a revert into a `ContractReverted` naming our custom error where possible."""
    raw = _revert_data(exc)
    if raw and len(raw) >= 4:
        decoded = decode_error(raw)
        if decoded:
            return ContractReverted(decoded[0], decoded[1], raw)
        return ContractReverted("UnknownRevert", ("0x" + raw.hex(),), raw)
    return ContractReverted(str(exc))


def transact(function: ContractFunction, sender: ChecksumAddress, *, timeout: float = 120) -> TxReceipt:
    """Sends `function` from an account the node holds unlocked (development engines, tests),
    awaits its receipt, and raises `ContractReverted` on failure. Departments' own keys sign
    locally through `ledger_node.sender.Sender` instead.

    The gas estimate runs the call first, so a revert is reported with its custom error before
    anything is sent.
    """
    w3: Web3 = function.w3
    try:
        tx_hash = function.transact({"from": sender})
    except (ContractCustomError, ContractLogicError, *EMBEDDED_REVERTS) as exc:
        raise revert_from(exc) from exc
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout)
    if receipt["status"] != 1:
        raise ContractReverted("TransactionFailed", (tx_hash.to_0x_hex(),))
    return receipt


def read(function: ContractFunction) -> Any:
    """Calls a view, raising `ContractReverted` (with our custom error) when it reverts."""
    try:
        return function.call()
    except (ContractCustomError, ContractLogicError, *EMBEDDED_REVERTS) as exc:
        raise revert_from(exc) from exc
