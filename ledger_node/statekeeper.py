"""Keeps a local anvil chain's state on disk after every block, so that `kill -9` loses at most the last one.

anvil 1.7.1 can save its state itself, on exit and every N seconds (`--state`, `--state-interval`), but it
rewrites the file in place: it truncates it, then writes. A kill during that write leaves the file empty or
cut short, and anvil then refuses to start from it ("failed to parse json file"), so the whole chain is
gone. Measured on a state of 6 000 transactions (10 MB): 1 of 30 `kill -9` at random moments and 15 of 15
kills while the file was being rewritten left it unreadable. So anvil here only reads the file at start
(`--load-state`), and this process, anvil's parent, saves it: after every new block it asks anvil for its
state (`anvil_dumpState`, about 0.1 s for that state) and replaces the file atomically (a temporary file,
fsync, rename). A reader sees the previous complete state or the new one, never part of one.

    python -m ledger_node.statekeeper STATE_FILE RPC_URL -- ANVIL COMMAND...

anvil runs as this process's child, in its process group: killing the group takes both. On SIGTERM or
SIGINT it saves the state a last time, then stops anvil. It exits when anvil exits, with anvil's code.
Only the standard library is imported: this process lives as long as the chain.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

#: How often the chain's head is asked for; a new head is saved at once (1-second blocks: within 0.25 s).
POLL_SECONDS = 0.25
RPC_TIMEOUT_SECONDS = 30.0


def rpc(url: str, method: str, params: list[Any] | None = None) -> Any:
    """One JSON-RPC call; raises OSError when the node does not answer, ValueError when it answers an error."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=RPC_TIMEOUT_SECONDS) as response:
        answer = json.load(response)
    if "error" in answer:
        raise ValueError(f"{method}: {answer['error']}")
    return answer["result"]


def write_atomically(path: Path, data: bytes) -> None:
    """Replaces `path` by `data` so that a kill at any moment leaves either the old file or the new one."""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_DIRECTORY)
    try:
        os.fsync(directory)  # the rename itself survives a power loss
    finally:
        os.close(directory)


def save_state(url: str, path: Path) -> None:
    """Writes the chain's state as `anvil --load-state` reads it (anvil_dumpState answers it gzipped, in hex)."""
    dump: str = rpc(url, "anvil_dumpState")
    write_atomically(path, gzip.decompress(bytes.fromhex(dump.removeprefix("0x"))))


def keep(path: Path, url: str, command: list[str]) -> int:
    """Runs `command` (anvil) and saves its state to `path` after every new block until it exits or we are
    asked to stop; returns anvil's exit code."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: stop.set())
    anvil = subprocess.Popen(command)
    saved_head = None
    last_error = ""
    while anvil.poll() is None and not stop.wait(POLL_SECONDS):
        try:
            head = rpc(url, "eth_getBlockByNumber", ["latest", False])["hash"]
            if head != saved_head:
                save_state(url, path)
                saved_head, last_error = head, ""
        except (urllib.error.URLError, ConnectionError):
            pass  # not listening yet, or going away: the file keeps the last state saved
        except (OSError, ValueError) as error:  # a full disk, say: tried again, said once in the node's log
            if str(error) != last_error:
                last_error = str(error)
                print(f"statekeeper: cannot save the chain's state to {path}: {error}", file=sys.stderr, flush=True)
    if anvil.poll() is None:
        try:
            save_state(url, path)
        except (OSError, ValueError):
            pass  # anvil got the signal too and is gone: the state saved after its last block stands
        _stop(anvil)
    return anvil.returncode


def _stop(anvil: subprocess.Popen[bytes]) -> None:
    """Stops anvil and waits until its own processes are gone too (npm's wrapper exits before the binary)."""
    children = descendants(anvil.pid)
    anvil.terminate()
    anvil.wait()
    wait_until_gone(children)


def descendants(pid: int) -> list[int]:
    """The process ids below `pid` (Linux /proc; empty where it is not available)."""
    found: list[int] = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in map(int, children.read_text().split()):
            found += [child, *descendants(child)]
    return found


def wait_until_gone(pids: list[int], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while any(Path(f"/proc/{pid}").exists() for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[2] != "--":
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    return keep(Path(argv[0]), argv[1], argv[3:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
