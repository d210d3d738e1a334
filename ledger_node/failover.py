"""Several JSON-RPC URLs of one chain (`CERTNET_RPC_URLS`) used as one: every call goes to the first
healthy URL in the configured order; a URL that fails at the connection level (refused, reset, timed
out, HTTP 5xx from a proxy) is marked down and the call is tried on the next one, if repeating it
cannot do anything twice (reads, and `eth_sendRawTransaction`: the same signed bytes are one
transaction, whichever node gets them). A background probe asks the URLs that are down for their
block number and puts back each one that answers, so the preferred node is used again once it is back.

A JSON-RPC error (a revert, an unknown transaction) is the node's answer, not a failure of the URL: it
is passed on, never retried elsewhere.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Sequence, TypeVar

import requests
from web3 import HTTPProvider
from web3._utils.batching import sort_batch_response_by_response_ids  # as HTTPProvider's own batches
from web3.types import RPCEndpoint

log = logging.getLogger(__name__)

#: How often the probe asks URLs that are down whether they answer again.
PROBE_SECONDS = 2.0
#: The probe's own timeout: a node slower than this to tell its block number is not put back.
PROBE_TIMEOUT_SECONDS = 3.0
#: What may be sent again to another URL after a connection failure: it reads, or it is
#: idempotent. Not `eth_sendTransaction` (the node signs: a second node would make a second
#: transaction) nor test-chain controls (`evm_mine`, `anvil_*`).
REPEATABLE_PREFIXES = ("eth_get", "eth_call", "eth_estimateGas", "eth_blockNumber", "eth_chainId", "eth_gasPrice",
                       "eth_maxPriorityFeePerGas", "eth_feeHistory", "eth_syncing", "net_", "web3_",
                       "eth_sendRawTransaction")

T = TypeVar("T")


def repeatable(method: str) -> bool:
    return method.startswith(REPEATABLE_PREFIXES)


def connection_failure(error: BaseException) -> bool:
    """Whether `error` says the URL is unreachable (not that the node refused what was asked)."""
    if isinstance(error, requests.HTTPError):
        return error.response is not None and error.response.status_code >= 500
    return isinstance(error, (requests.ConnectionError, requests.Timeout, ConnectionError))


class Endpoints:
    """The URLs of one chain, in order of preference, and which of them are down; shared by every
    client of the chain in the process (web3's provider, the lean `JsonRpc` reads) and thread-safe."""

    def __init__(self, urls: Sequence[str], *, probe_seconds: float = PROBE_SECONDS) -> None:
        if not urls:
            raise ValueError("no JSON-RPC URL")
        self.urls = list(dict.fromkeys(urls))  # the same URL twice is one
        self.probe_seconds = probe_seconds
        self._down: dict[str, float] = {}  # URL -> since when
        self._lock = threading.Lock()
        self._probe: threading.Thread | None = None

    def order(self) -> list[str]:
        """The URLs to try, healthy ones first (in configured order), then those down: a call with every
        URL down still tries them all rather than fail without asking."""
        with self._lock:
            down = set(self._down)
        return [url for url in self.urls if url not in down] + [url for url in self.urls if url in down]

    def down(self) -> set[str]:
        with self._lock:
            return set(self._down)

    def mark_down(self, url: str, error: BaseException) -> None:
        with self._lock:
            if url in self._down:
                return
            self._down[url] = time.monotonic()
            if self._probe is None:
                self._probe = threading.Thread(target=self._run_probe, name="rpc-probe", daemon=True)
                self._probe.start()
        log.warning("JSON-RPC endpoint %s is down (%s); using the next one", url, type(error).__name__)

    def mark_up(self, url: str) -> None:
        with self._lock:
            since = self._down.pop(url, None)
        if since is not None:
            log.warning("JSON-RPC endpoint %s answers again after %.1f s", url, time.monotonic() - since)

    def call(self, send: Callable[[str], T], *, repeat: bool) -> T:
        """`send(url)` on the first URL that answers; a URL failing at the connection level is marked
        down and, when the request may `repeat` (see `repeatable`), the next one is tried. The last
        failure is raised."""
        urls = self.order()
        for number, url in enumerate(urls):
            try:
                result = send(url)
            except Exception as error:
                if not connection_failure(error):
                    raise
                if len(self.urls) > 1:
                    self.mark_down(url, error)
                if number == len(urls) - 1 or not repeat:
                    raise
                continue
            self.mark_up(url)  # (a URL down that answered as the last resort; else nothing)
            return result
        raise AssertionError("unreachable")

    def _run_probe(self) -> None:
        """Until no URL is down: asks each one that is for its block number, every `probe_seconds`."""
        while True:
            time.sleep(self.probe_seconds)
            with self._lock:  # (under the lock: a URL marked down meanwhile starts a new probe or is seen here)
                if not self._down:
                    self._probe = None
                    return
                down = set(self._down)
            for url in down:
                if _answers(url):
                    self.mark_up(url)


def _answers(url: str) -> bool:
    try:
        response = requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []},
                                 timeout=PROBE_TIMEOUT_SECONDS)
        response.raise_for_status()
        return "result" in response.json()
    except (requests.RequestException, ValueError):
        return False


class FailoverProvider(HTTPProvider):
    """web3.py's HTTP provider over `Endpoints`: each request goes where `Endpoints.call` sends it.
    Each URL is tried once per call (no per-URL retries: the next URL is the retry)."""

    def __init__(self, endpoints: Endpoints, *, timeout: float) -> None:
        super().__init__(endpoints.urls[0], request_kwargs={"timeout": timeout}, exception_retry_configuration=None)
        self.endpoints = endpoints

    def __str__(self) -> str:
        return f"RPC connection {', '.join(self.endpoints.urls)}"

    def _make_request(self, method: RPCEndpoint, request_data: bytes) -> bytes:
        return self.endpoints.call(lambda url: self._post(url, request_data), repeat=repeatable(method))

    def make_batch_request(self, batch_requests: list[tuple[RPCEndpoint, Any]]) -> Any:
        request_data = self.encode_batch_rpc_request(batch_requests)
        repeat = all(repeatable(method) for method, _params in batch_requests)
        response = self.decode_rpc_response(self.endpoints.call(lambda url: self._post(url, request_data),
                                                                repeat=repeat))
        return sort_batch_response_by_response_ids(response) if isinstance(response, list) else response

    def _post(self, url: str, request_data: bytes) -> bytes:
        return self._request_session_manager.make_post_request(url, request_data, **self.get_request_kwargs())
