"""A lean JSON-RPC client for the gateway's hot reads: one HTTP POST per request (a batch of calls
in one body) on a pooled keep-alive session, without web3.py's middleware and formatters (which ask
the node for its chain id before every call and cost ≈13 ms of CPU per contract call)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import requests
from eth_abi import decode, encode
from eth_utils import function_abi_to_4byte_selector, get_abi_input_types, get_abi_output_types
from hexbytes import HexBytes
from requests.adapters import HTTPAdapter
from web3 import HTTPProvider, Web3
from web3._utils.abi import map_abi_data  # web3.py's own decoding of call results, which it does not export
from web3._utils.normalizers import BASE_RETURN_NORMALIZERS
from web3.contract.contract import ContractFunction

from ledger_node.failover import Endpoints, FailoverProvider, repeatable

#: Connections kept open to the node (one per concurrently verifying request thread).
POOL_SIZE = 64
#: Seconds to wait for the node when its web3 connection does not say.
DEFAULT_TIMEOUT = 10.0


class RpcError(Exception):
    """The node answered, but with a JSON-RPC error or an answer that is not JSON-RPC."""


class JsonRpc:
    @classmethod
    def of(cls, w3: Web3) -> JsonRpc | None:
        """A lean client of `w3`'s node (its URLs, failing over as `w3` does) with `w3`'s timeout; None when
        it is not reached over HTTP (the in-process test chain)."""
        provider = w3.provider
        if not isinstance(provider, HTTPProvider):
            return None
        endpoints = provider.endpoints if isinstance(provider, FailoverProvider) else \
            Endpoints([str(provider.endpoint_uri)])
        return cls(endpoints, timeout=provider.get_request_kwargs().get("timeout", DEFAULT_TIMEOUT))

    def __init__(self, endpoints: Endpoints, *, timeout: float) -> None:
        self.endpoints = endpoints
        self.timeout = timeout
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=POOL_SIZE)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def batch(self, calls: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        """The results of `calls` (method, params), in order, sent as one JSON-RPC batch; `RpcError`
        when any call failed. Connection problems raise requests' errors (OSError) when no URL answers."""
        body = [{"jsonrpc": "2.0", "id": number, "method": method, "params": params}
                for number, (method, params) in enumerate(calls)]
        answers = self.endpoints.call(lambda url: self._post(url, body),
                                      repeat=all(repeatable(method) for method, _params in calls))
        if not isinstance(answers, list):
            raise RpcError(f"the node answered a batch with {str(answers)[:200]}")
        by_id = {answer.get("id"): answer for answer in answers if isinstance(answer, dict)}
        results = []
        for number, (method, _params) in enumerate(calls):
            answer = by_id.get(number)
            if answer is None or "error" in answer or "result" not in answer:
                raise RpcError(f"{method} failed: {(answer or {}).get('error', 'no answer')}")
            results.append(answer["result"])
        return results

    def _post(self, url: str, body: list[dict[str, Any]]) -> Any:
        response = self._session.post(url, json=body, timeout=self.timeout)
        response.raise_for_status()
        return response.json()


@dataclass(frozen=True)
class Head:
    number: int
    hash: str
    timestamp: int


class ViewCalls:
    """Calls of contracts' view functions (web3 `ContractFunction`s with their arguments) at the
    chain's head. Over HTTP they are pre-encoded with eth-abi and sent together in one JSON-RPC batch;
    other providers (the in-process test chain) go through web3.py one by one."""

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3
        self._rpc = JsonRpc.of(w3)

    def read(self, functions: Sequence[ContractFunction]) -> list[Any]:
        """Each call's result (a tuple for several outputs)."""
        if self._rpc is None or not functions:  # (an empty JSON-RPC batch is an error)
            return [function.call() for function in functions]
        return [_decoded(function, output) for function, output in zip(functions, self._rpc.batch(
            [_encoded(function) for function in functions]))]

    def read_with_head(self, functions: Sequence[ContractFunction]) -> tuple[Head, list[Any]]:
        """The head's block and each call's result, the calls made at that block or (over HTTP, where a
        block may land between the two parts of the batch) a newer one."""
        if self._rpc is None:
            block = self.w3.eth.get_block("latest")
            head = Head(block["number"], HexBytes(block["hash"]).to_0x_hex(), block["timestamp"])
            return head, [function.call(block_identifier=head.number) for function in functions]
        block, *outputs = self._rpc.batch([("eth_getBlockByNumber", ["latest", False]),
                                           *(_encoded(function) for function in functions)])
        head = Head(int(block["number"], 16), block["hash"], int(block["timestamp"], 16))
        return head, [_decoded(function, output) for function, output in zip(functions, outputs)]


def _encoded(function: ContractFunction) -> tuple[str, list[Any]]:
    data = function_abi_to_4byte_selector(function.abi) + encode(get_abi_input_types(function.abi), function.args)
    return "eth_call", [{"to": function.address, "data": "0x" + data.hex()}, "latest"]


def _decoded(function: ContractFunction, output: str) -> Any:
    """As web3.py's `call()` answers it: addresses checksummed, arrays as lists."""
    types = get_abi_output_types(function.abi)
    values = map_abi_data(BASE_RETURN_NORMALIZERS, types, decode(types, bytes.fromhex(output.removeprefix("0x"))))
    return values[0] if len(values) == 1 else values
