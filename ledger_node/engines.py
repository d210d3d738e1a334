"""Local chain engines started as child processes (ganache, anvil) and reached over JSON-RPC."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from web3 import Web3

from ledger_node.compiler import PROJECT_ROOT
from ledger_node.errors import LedgerError

#: Development mnemonic shared by every local engine, so the same accounts exist everywhere.
DEV_MNEMONIC = "test test test test test test test test test test test junk"


class EngineError(LedgerError):
    """A local engine could not be started or did not answer."""

    code = "engine_error"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _binary(name: str) -> str:
    local = PROJECT_ROOT / "node_modules" / ".bin" / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if not found:
        raise EngineError(f"{name} is not installed: run `npm ci` in {PROJECT_ROOT}")
    return found


def _command(engine: str, port: int, accounts: int, state_dir: Path | None) -> list[str]:
    if engine == "ganache":
        command = [_binary("ganache"), "--server.host", "127.0.0.1", "--server.port", str(port),
                   "--wallet.mnemonic", DEV_MNEMONIC, "--wallet.totalAccounts", str(accounts),
                   "--chain.chainId", "1337", "--logging.quiet"]
        if state_dir:
            command += ["--database.dbPath", str(state_dir)]
        return command
    if engine == "anvil":
        command = [_binary("anvil"), "--host", "127.0.0.1", "--port", str(port), "--mnemonic", DEV_MNEMONIC,
                   "--accounts", str(accounts), "--chain-id", "31337", "--silent"]
        if state_dir:
            command += ["--state", str(state_dir / "anvil-state.json")]
        return command
    raise EngineError(f"unknown engine {engine!r}; choose ganache or anvil")


@dataclass
class LocalNode:
    """A ganache or anvil process this object started, and stops."""

    engine: str
    port: int = field(default_factory=free_port)
    accounts: int = 20
    state_dir: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> Web3:
        """Starts the engine and returns a connection once its RPC answers."""
        if port_in_use(self.port):
            # Otherwise we would wait for, and then talk to, whatever already listens there.
            raise EngineError(f"port {self.port} is in use: stop what listens there or choose another port")
        self.process = subprocess.Popen(
            _command(self.engine, self.port, self.accounts, self.state_dir),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        w3 = Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": 30}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode(errors="replace").strip() if self.process.stderr else ""
                raise EngineError(f"{self.engine} exited with code {self.process.returncode}: {error[-500:]}")
            try:
                w3.eth.block_number
                return w3
            except Exception:  # not listening yet
                time.sleep(0.2)
        self.stop()
        raise EngineError(f"{self.engine} did not answer on {self.url} within {timeout:.0f} s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
