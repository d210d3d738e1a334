"""Chain engines behind one small interface.

- `ganache`, `anvil`, `hardhat`: local nodes started as child processes from node_modules,
  reached over JSON-RPC on 127.0.0.1. What each keeps in the data directory, also across `kill -9`:
  ganache its LevelDB database, written as it mines (every block); anvil a state file that
  `ledger_node.statekeeper` replaces atomically after every block (at most the last block is lost);
  Hardhat's node (2.x) nothing.
- `embedded`: web3.py's EthereumTesterProvider (py-evm) in this process, for tests and
  zero-install use; its state lives as long as the process.
- `external`: any JSON-RPC URL (Besu, GoQuorum, another consortium node); nothing is started.

Every engine funds the accounts of the same development mnemonic, so demo departments have the
same keys everywhere. `certnet node start` writes `<data dir>/node.json` (engine, pid, port,
command) and `certnet node stop` stops only the process that file names, after checking that
it still runs the command we started. A chain that `certnet run` keeps in the foreground is
recorded there too, with the pid of that command (`owner`), which `node stop` asks to stop so
that it takes its gateway down with it and cleans up after itself.

web3 and eth-tester are imported where a chain is reached, not when the module loads: the
`certnet` command imports this module for every command, even `--help`.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from ledger_node.compiler import PROJECT_ROOT
from ledger_node.errors import LedgerError
from ledger_node.statekeeper import descendants, wait_until_gone

if TYPE_CHECKING:
    from web3 import Web3

LOCAL_ENGINES = ("ganache", "anvil", "hardhat")
ENGINES = (*LOCAL_ENGINES, "embedded", "external")
DEV_ACCOUNTS = 64  # the city demo has 50 departments, each with its own account
DEV_HD_PATH = "m/44'/60'/0'/0"
ANVIL_STATE_FILE = "anvil-state.json"  # in the node's state directory


class EngineError(LedgerError):
    """An engine could not be started, stopped or reached."""

    code = "engine_error"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def ensure_can_listen(host: str, port: int, what: str) -> None:
    """Refuses, before anything is started, an address that `what` could not listen on.

    Binds as a server does (SO_REUSEADDR, so connections of an earlier run in TIME_WAIT do not count).
    """
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise EngineError(f"{what} port {port} on {host} is in use: stop what listens there or choose "
                                  "another port") from None
            raise EngineError(f"{what} cannot listen on {host}:{port}: {error.strerror or error}") from None


def embedded_web3(accounts: int = DEV_ACCOUNTS) -> Web3:
    """An in-process chain whose funded, unlocked accounts are those of the development mnemonic."""
    from eth_tester import EthereumTester, PyEVMBackend
    from web3 import EthereumTesterProvider, Web3

    from ledger_node.accounts import DEV_MNEMONIC  # eth-account: heavy to import

    backend = PyEVMBackend.from_mnemonic(DEV_MNEMONIC, num_accounts=accounts, hd_path=DEV_HD_PATH)
    return Web3(EthereumTesterProvider(EthereumTester(backend)))


def connect(urls: str | Sequence[str], *, timeout: float = 30) -> Web3:
    """A connection to a JSON-RPC node whose every call fails after `timeout` seconds without an
    answer; raises `EngineError` when it does not answer. Several URLs of one chain are used with
    failover (`ledger_node.failover`): the first healthy one answers; all must be of the same chain.

    PoA chains (Besu/GoQuorum clique or QBFT) put more than 32 bytes in extraData, which
    web3.py rejects unless the PoA middleware is in place; it is added when the chain needs it.
    """
    import requests
    from web3 import Web3
    from web3.middleware import ExtraDataToPOAMiddleware
    from web3.providers.rpc.utils import ExceptionRetryConfiguration

    from ledger_node.failover import Endpoints, FailoverProvider

    urls = [urls] if isinstance(urls, str) else list(urls)
    if len(urls) == 1:
        # web3.py retries a read call that timed out, four more times by default: a node that accepts
        # connections but never answers would hold each call for five timeouts. One is the bound.
        retry = ExceptionRetryConfiguration(errors=(ConnectionError, requests.HTTPError))
        w3 = Web3(Web3.HTTPProvider(urls[0], request_kwargs={"timeout": timeout}, exception_retry_configuration=retry))
    else:
        refuse_other_chains(urls, timeout=timeout)
        w3 = Web3(FailoverProvider(Endpoints(urls), timeout=timeout))
    try:
        latest = w3.eth.get_block("latest")
    except Exception as exc:
        if "extraData" in str(exc):
            w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
            return w3
        raise EngineError(f"no JSON-RPC answer from {', '.join(urls)}: {type(exc).__name__}") from exc
    if len(latest.get("extraData", b"")) > 32:
        w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    return w3


def refuse_other_chains(urls: Sequence[str], *, timeout: float) -> None:
    """`EngineError` when the URLs that answer are not all of one chain (a mistyped URL of another
    network would take over the transactions when the first fails); those down now are not asked."""
    import requests

    chains: dict[str, int] = {}
    for url in urls:
        try:
            answer = requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
                                   timeout=timeout).json()
            chains[url] = int(answer["result"], 16)
        except (requests.RequestException, ValueError, KeyError, TypeError):
            continue
    if len(set(chains.values())) > 1:
        raise EngineError("the JSON-RPC URLs are not of one chain: "
                          + ", ".join(f"{url} has chain id {chain}" for url, chain in chains.items()))


def _binary(name: str) -> str:
    local = PROJECT_ROOT / "node_modules" / ".bin" / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if not found:
        raise EngineError(f"{name} is not installed: run `npm ci` in {PROJECT_ROOT}")
    return found


def engine_command(engine: str, port: int, accounts: int, state_dir: Path | None,
                   options: Sequence[str] = ()) -> list[str]:
    """The command line that starts a local engine with the development accounts and the engine's own
    `options` (e.g. anvil's `--hardfork`); it runs in the project's directory, so the state directory
    is given absolute."""
    from ledger_node.accounts import DEV_MNEMONIC  # eth-account: heavy to import

    if engine == "ganache":
        command = [_binary("ganache"), "--server.host", "127.0.0.1", "--server.port", str(port),
                   "--wallet.mnemonic", DEV_MNEMONIC, "--wallet.totalAccounts", str(accounts),
                   "--chain.chainId", "1337", "--logging.quiet", *options]
        return command + (["--database.dbPath", str(state_dir.resolve())] if state_dir else [])
    if engine == "anvil":
        # Interval mining (1 s blocks, like a consortium chain): anvil 1.7.1's automine stops mining
        # when thousands of pipelined transactions arrive, leaving them pending until the next one.
        command = [_binary("anvil"), "--host", "127.0.0.1", "--port", str(port), "--mnemonic", DEV_MNEMONIC,
                   "--accounts", str(accounts), "--chain-id", "31337", "--silent", "--block-time", "1", *options]
        if not state_dir:
            return command
        # anvil only reads its state; the keeper, its parent, saves it after every block (see statekeeper:
        # anvil's own `--state-interval` rewrites the file in place, and a kill mid-write loses the chain).
        state = state_dir.resolve() / ANVIL_STATE_FILE
        return [sys.executable, "-m", "ledger_node.statekeeper", str(state), f"http://127.0.0.1:{port}", "--",
                *command, *(["--load-state", str(state)] if state.exists() else [])]
    if engine == "hardhat":
        # Hardhat's node reads the dev mnemonic's accounts from hardhat.config.js (its default).
        return [_binary("hardhat"), "node", "--hostname", "127.0.0.1", "--port", str(port), *options]
    raise EngineError(f"unknown local engine {engine!r}; choose one of {', '.join(LOCAL_ENGINES)}")


@dataclass
class NodeRecord:
    """What `<data dir>/node.json` says about a node we started."""

    engine: str
    pid: int
    port: int
    command: list[str]
    log: str
    started_at: float
    owner: int | None = None  # pid of the `certnet run` that keeps the node in its foreground; None: detached

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class LocalNode:
    """A ganache, anvil or hardhat process that this object starts and stops."""

    engine: str
    port: int = 0
    accounts: int = DEV_ACCOUNTS
    state_dir: Path | None = None
    options: tuple[str, ...] = ()  # the engine's own command-line options
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        if self.engine not in LOCAL_ENGINES:
            raise EngineError(f"unknown local engine {self.engine!r}; choose one of {', '.join(LOCAL_ENGINES)}")
        self.port = self.port or free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, log_path: Path | None = None, detached: bool = False, timeout: float = 60) -> Web3:
        """Starts the engine and returns a connection once its RPC answers.

        `detached` puts the process in its own session so it outlives this one (`certnet node start`).
        """
        if port_in_use(self.port):
            # Otherwise we would wait for, and then talk to, whatever already listens there.
            raise EngineError(f"port {self.port} is in use: stop what listens there or choose another port")
        command = engine_command(self.engine, self.port, self.accounts, self.state_dir, self.options)
        if self.state_dir:
            self.state_dir.mkdir(parents=True, exist_ok=True)
        output = open(log_path, "ab") if log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(command, stdout=output, stderr=output if log_path else subprocess.PIPE,
                                        cwd=PROJECT_ROOT, start_new_session=detached)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EngineError(f"{self.engine} exited with code {self.process.returncode}: {self._error_tail(log_path)}")
            if port_in_use(self.port):
                try:
                    return connect(self.url)
                except EngineError:
                    pass
            time.sleep(0.2)
        self.stop()
        raise EngineError(f"{self.engine} did not answer on {self.url} within {timeout:.0f} s")

    def _error_tail(self, log_path: Path | None) -> str:
        if log_path:
            text = log_path.read_text(errors="replace")
        else:
            text = self.process.stderr.read().decode(errors="replace") if self.process and self.process.stderr else ""
        return " ".join(text.strip().splitlines()[-3:])[-400:] or "no output"

    def stop(self, timeout: float = 15) -> None:
        if self.process and self.process.poll() is None:
            # Wait for the processes below ours too (npm's anvil wrapper exits before the binary it started):
            # when this returns the port is free and anvil's keeper has saved its state a last time.
            children = descendants(self.process.pid)
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                for pid in [self.process.pid, *children]:
                    _kill(pid)
                self.process.wait()
            wait_until_gone(children, timeout)

    def record(self, log_path: Path, *, owner: int | None = None) -> NodeRecord:
        assert self.process is not None
        return NodeRecord(engine=self.engine, pid=self.process.pid, port=self.port,
                          command=[str(c) for c in self.process.args], log=str(log_path.resolve()),
                          started_at=time.time(),
                          owner=owner)


# ----- detached nodes managed through <data dir>/node.json -----


def node_file(data_dir: Path) -> Path:
    return data_dir / "node.json"


def read_node(data_dir: Path) -> NodeRecord | None:
    path = node_file(data_dir)
    try:
        return NodeRecord(**json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError) as error:
        raise EngineError(f"{path} is not a node record ({type(error).__name__}): if no node runs from "
                          f"{data_dir}, remove it") from None


def is_running(record: NodeRecord) -> bool:
    """Whether the recorded pid is alive and still runs the command we started (pids get reused)."""
    try:
        cmdline = Path(f"/proc/{record.pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(part.endswith(Path(record.command[0]).name.encode()) for part in cmdline) and \
        str(record.port).encode() in cmdline


def start_node(data_dir: Path, engine: str, port: int | None = None) -> NodeRecord:
    """Starts a detached local node keeping its state under `data_dir`; refuses if one runs."""
    refuse_second_node(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    node = LocalNode(engine, port=port or 0, state_dir=data_dir / engine)
    log_path = data_dir / f"{engine}.log"
    node.start(log_path=log_path, detached=True)
    record = node.record(log_path)
    write_node_record(data_dir, record)
    return record


def write_node_record(data_dir: Path, record: NodeRecord) -> None:
    node_file(data_dir).write_text(json.dumps(asdict(record), indent=2) + "\n")


def remove_node_record(data_dir: Path, pid: int) -> None:
    """Forgets the node `pid` here, and only it: a record naming another node (one that another
    command started in this directory and that still runs) is left as it is."""
    record = read_node(data_dir)
    if record is not None and record.pid == pid:
        node_file(data_dir).unlink(missing_ok=True)


def refuse_second_node(data_dir: Path) -> None:
    """Raises if a node started from `data_dir` (by `node start` or `certnet run`) still runs."""
    existing = read_node(data_dir)
    if existing and is_running(existing):
        kept_by = f"kept by `certnet run`, pid {existing.owner}" if existing.owner else f"pid {existing.pid}"
        raise EngineError(f"the {existing.engine} node started from {data_dir} already runs on {existing.url} "
                          f"({kept_by}): stop it with `certnet node stop` or use another --data-dir")


def stop_node(data_dir: Path, timeout: float = 15) -> NodeRecord:
    """Stops the node started from `data_dir`, and only that one.

    A detached node (`node start`) is its own process group: its first process is asked to stop (it stops
    those it started; anvil's state keeper saves the state a last time first), and the group is killed if
    it still runs after `timeout`. A node that
    `certnet run` keeps in its foreground is stopped by asking that command to stop (SIGTERM): it shuts
    its gateway down, stops the chain and removes the record, as on Ctrl-C.
    """
    record = read_node(data_dir)
    if record is None:
        raise EngineError(f"no node was started from {data_dir}")
    if is_running(record):
        _signal(record, signal.SIGTERM, via_owner=True)
        # Until the port is free too: anvil's npm wrapper exits before the binary it started.
        deadline = time.monotonic() + timeout
        while (is_running(record) or port_in_use(record.port)) and time.monotonic() < deadline:
            time.sleep(0.1)
        if is_running(record):
            _signal(record, signal.SIGKILL, via_owner=False)
    node_file(data_dir).unlink(missing_ok=True)
    return record


def _signal(record: NodeRecord, signum: int, *, via_owner: bool) -> None:
    """Sends `signum` to the node's owner (`via_owner`, when it still runs the node) or to the node;
    a process that is gone meanwhile is not an error."""
    try:
        if via_owner and record.owner and _parent_pid(record.pid) == record.owner:
            os.kill(record.owner, signum)
        elif not via_owner and os.getpgid(record.pid) == record.pid:  # a detached node that did not stop
            os.killpg(record.pid, signum)
        else:  # the node's first process stops those it started (anvil's keeper saves its state first)
            os.kill(record.pid, signum)
    except ProcessLookupError:
        pass


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _parent_pid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])  # the command name in parentheses may hold spaces
