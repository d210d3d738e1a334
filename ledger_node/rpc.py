"""A lean JSON-RPC client for the gateway's hot reads: one HTTP POST per request (a batch of calls
in one body) on a pooled keep-alive session, without web3.py's middleware and formatters (which ask
the node for its chain id before every call and cost ≈13 ms of CPU per contract call)."""

from __future__ import annotations

from typing import Any, Sequence

import requests
from requests.adapters import HTTPAdapter
from web3 import HTTPProvider, Web3

#: Connections kept open to the node (one per concurrently verifying request thread).
POOL_SIZE = 64
#: Seconds to wait for the node when its web3 connection does not say.
DEFAULT_TIMEOUT = 10.0


class RpcError(Exception):
    """The node answered, but with a JSON-RPC error or an answer that is not JSON-RPC."""


class JsonRpc:
    @classmethod
    def of(cls, w3: Web3) -> JsonRpc | None:
        """A lean client of `w3`'s node with `w3`'s timeout; None when it is not reached over HTTP (the
        in-process test chain)."""
        provider = w3.provider
        if not isinstance(provider, HTTPProvider):
            return None
        return cls(str(provider.endpoint_uri), timeout=provider.get_request_kwargs().get("timeout", DEFAULT_TIMEOUT))

    def __init__(self, url: str, *, timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=POOL_SIZE)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def batch(self, calls: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        """The results of `calls` (method, params), in order, sent as one JSON-RPC batch; `RpcError`
        when any call failed. Connection problems raise requests' errors (OSError)."""
        body = [{"jsonrpc": "2.0", "id": number, "method": method, "params": params}
                for number, (method, params) in enumerate(calls)]
        response = self._session.post(self.url, json=body, timeout=self.timeout)
        response.raise_for_status()
        answers = response.json()
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
