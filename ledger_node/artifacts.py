"""Loads the compiled contract artifacts shipped inside the package and decodes their errors."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from ledger_node.compiler import ARTIFACTS_DIR, DEPLOYABLE


@cache
def load_artifact(name: str) -> dict[str, Any]:
    """The artifact (abi, bytecode) of one deployable contract."""
    if name not in DEPLOYABLE:
        raise KeyError(f"unknown contract {name!r}; known: {', '.join(DEPLOYABLE)}")
    return json.loads((ARTIFACTS_DIR / f"{name}.json").read_text())


def _signature(entry: dict[str, Any]) -> str:
    return f"{entry['name']}({','.join(_abi_type(i) for i in entry['inputs'])})"


def _abi_type(param: dict[str, Any]) -> str:
    if param["type"].startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in param["components"]) + ")" + param["type"][5:]
    return param["type"]


@cache
def error_table() -> dict[bytes, tuple[str, list[str]]]:
    """Every custom error of every CertNet contract, keyed by its 4-byte selector."""
    table: dict[bytes, tuple[str, list[str]]] = {}
    for name in DEPLOYABLE:
        for entry in load_artifact(name)["abi"]:
            if entry["type"] == "error":
                selector = function_signature_to_4byte_selector(_signature(entry))
                table[selector] = (entry["name"], [_abi_type(i) for i in entry["inputs"]])
    return table


def decode_error(data: bytes) -> tuple[str, tuple[Any, ...]] | None:
    """(error name, arguments) of revert data raised by a CertNet contract, or None if unknown."""
    known = error_table().get(bytes(data[:4]))
    if known is None:
        return None
    name, types = known
    values = abi_decode(types, bytes(data[4:]))
    return name, tuple(to_checksum_address(v) if t == "address" else v for t, v in zip(types, values))
