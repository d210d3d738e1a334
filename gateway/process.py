"""`certnet gateway serve` as a child process on a devnet, with tokens for the demo departments: what the
HTTP tests and `scripts/soak.py` talk to. On PostgreSQL (`CERTNET_DATABASE_URL`, `make test-postgres`) each
gateway data dir gets a database of its own on that server."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, make_url, text

from gateway.auth import create_token
from gateway.chain import Chain
from gateway.db import make_engine, session_factory
from ledger_node.devnet import DEMO_DEPARTMENTS, Devnet
from ledger_node.engines import free_port


def own_database(url: str, data_dir: Path) -> str:
    """The URL of a database of `data_dir`'s own on the PostgreSQL server of `url`, created when missing: two
    gateways of different chains on one database would share an outbox and an event index. A gateway
    restarted on the same data dir finds its database again."""
    server = make_url(url)
    name = "certnet_" + hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    engine = create_engine(server, isolation_level="AUTOCOMMIT")  # CREATE DATABASE cannot run in a transaction
    try:
        with engine.connect() as connection:
            if connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}) is None:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return server.set(database=name).render_as_string(hide_password=False)


class GatewayProcess:
    """`certnet gateway serve` as a child process with its own database, so a test can kill it."""

    def __init__(self, devnet: Devnet, data_dir: Path, *, database: str | None = None, workers: int = 1,
                 **settings: str) -> None:
        """`database`: a PostgreSQL URL shared with other gateway processes, used as it is; by default a
        database of this data dir's own. `workers`: `serve --workers` (`kill` then kills only uvicorn's
        supervisor)."""
        self.workers = workers
        self.devnet = devnet
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(devnet.data_dir / "manifest.json", data_dir / "manifest.json")
        shutil.copytree(devnet.data_dir / "schemas", data_dir / "schemas", dirs_exist_ok=True)
        self.port = free_port()
        self.env = {**os.environ, "CERTNET_RPC_URL": devnet.node.url, "CERTNET_ROLE_CACHE_SECONDS": "0",
                    "CERTNET_INDEX_POLL_SECONDS": "0.1", "CERTNET_CHECKPOINT_INTERVAL_SECONDS": "0",
                    **{f"CERTNET_{name.upper()}": value for name, value in settings.items()}}
        if database is not None:
            self.env["CERTNET_DATABASE_URL"] = database
        elif self.env.get("CERTNET_DATABASE_URL", "").startswith("postgresql"):
            self.env["CERTNET_DATABASE_URL"] = own_database(self.env["CERTNET_DATABASE_URL"], data_dir)
        self.process: subprocess.Popen[bytes] | None = None
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=120)
        self._tokens: dict[str, str] = {}

    @property
    def database_url(self) -> str:
        """The gateway's database: CERTNET_DATABASE_URL when the run sets one (PostgreSQL), else its SQLite file."""
        return self.env.get("CERTNET_DATABASE_URL") or f"sqlite:///{self.data_dir / 'gateway.db'}"

    @property
    def command(self) -> list[str]:
        return [str(Path(sys.executable).with_name("certnet")), "gateway", "serve", "--port", str(self.port),
                "--data-dir", str(self.data_dir), *(["--workers", str(self.workers)] if self.workers > 1 else [])]

    def start(self) -> GatewayProcess:
        log = open(self.data_dir / "gateway.log", "ab")
        self.process = subprocess.Popen(self.command, env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the gateway exited: {(self.data_dir / 'gateway.log').read_text()[-2000:]}")
            try:
                if self.client.get("/healthz").status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the gateway did not come up within 60 s")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        self._running().send_signal(signal.SIGKILL)
        self._running().wait()

    def pause(self) -> None:
        """SIGSTOP: the process is frozen where it is, connections open, until `resume`."""
        self._running().send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._running().send_signal(signal.SIGCONT)

    def _running(self) -> subprocess.Popen[bytes]:
        if self.process is None:
            raise RuntimeError("the gateway was not started")
        return self.process

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.terminate()

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM, as a service manager stops it; its exit code once it has exited."""
        self._running().terminate()
        return self._running().wait(timeout=timeout)

    @property
    def log(self) -> str:
        return (self.data_dir / "gateway.log").read_text(errors="replace")

    def auth(self, abbr: str) -> dict[str, str]:
        """Bearer-token headers of a demo department (the token made once, stored hashed)."""
        if abbr not in self._tokens:
            sessions = session_factory(make_engine(self.database_url))
            chain = Chain(self.devnet.deployment, role_cache_seconds=0)
            self._tokens[abbr] = create_token(sessions, chain, DEMO_DEPARTMENTS[abbr])
        return {"Authorization": f"Bearer {self._tokens[abbr]}"}

    def wait_indexed(self, timeout: float = 30) -> None:
        """Until the index has caught up with the chain head (less the confirmations it waits for)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            index = self.client.get("/readyz").json()["index"]
            if index["block"] >= self.devnet.w3.eth.block_number - index["confirmations"]:
                return
            time.sleep(0.1)
        raise RuntimeError("the index did not catch up")
