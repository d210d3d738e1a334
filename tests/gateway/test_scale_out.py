"""Several gateway processes on one PostgreSQL database and one chain: every endpoint answered by any
of them, each background duty done by one at a time, a killed or paused leader replaced without an
operation lost or doubled, a nonce used twice or an access-log position taken twice."""

from __future__ import annotations

import itertools
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterator

import pytest
from sqlalchemy import func, select

from gateway.db import AccessLogEntry, Lease, Operation, make_engine, session_factory
from gateway.leases import INDEX_DUTY, OUTBOX_DUTY_PREFIX, outbox_duty
from gateway.process import own_database
from ledger_node.engines import free_port
from tests.conftest import DEMO_DEPARTMENTS, MZ_MARRIAGE, Devnet, GatewayProcess, Tally, marriage_request, wait_done

pytestmark = pytest.mark.slow

SINGLES = 300
BATCH = 10_000


class Fleet:
    """Gateway processes sharing one database, and what the test asks of them."""

    def __init__(self, devnet: Devnet, root: Path, database: str, size: int, **settings: str) -> None:
        self.devnet = devnet
        self.sessions = session_factory(make_engine(database))
        self.gateways = [GatewayProcess(devnet, root / f"gateway-{n}", database=database, **settings)
                         for n in range(size)]
        for gateway in self.gateways:
            gateway.start()
        self.base_nonces = {account: devnet.w3.eth.get_transaction_count(account) for account in self.accounts()}
        self._turn = itertools.count()
        self._lock = threading.Lock()

    def accounts(self) -> list[str]:
        """The sending accounts whose outboxes the processes share."""
        with self.sessions() as session:
            return [duty.removeprefix(OUTBOX_DUTY_PREFIX) for duty in session.scalars(select(Lease.duty))
                    if duty.startswith(OUTBOX_DUTY_PREFIX)]

    def alive(self) -> list[GatewayProcess]:
        return [g for g in self.gateways if g.process is not None and g.process.poll() is None]

    def next(self) -> GatewayProcess:
        """Round robin over the processes still running, as a load balancer does."""
        alive = self.alive()
        with self._lock:
            return alive[next(self._turn) % len(alive)]

    def leader(self, duty: str) -> GatewayProcess | None:
        """The process holding `duty`'s lease now (None: nobody, or a process not of this fleet)."""
        with self.sessions() as session:
            lease = session.get(Lease, duty)
        holder = lease.holder if lease and lease.holder else ""
        return next((g for g in self.gateways if g.process is not None and f":{g.process.pid}:" in holder), None)

    def stop(self) -> None:
        for gateway in self.gateways:
            if gateway.process is not None and gateway.process.poll() is None:
                gateway.resume()  # a paused process does not stop
                gateway.stop()


@pytest.fixture
def fleet_database(postgres_url: str, tmp_path: Path) -> str:
    return own_database(postgres_url, tmp_path / "fleet")


def _issue(fleet: Fleet, tally: Tally, key: str) -> str | None:
    """POST /v1/certificates of civil affairs under `key` to the next process; the operation's path once
    accepted, None when no process answered it."""
    gateway = fleet.next()
    response = tally.send(gateway, "POST", "/v1/certificates", json=marriage_request(f"FLEET-{key}"),
                          headers={**gateway.auth("MZ"), "Idempotency-Key": key})
    if response is None or response.status_code not in (201, 202):
        return None
    certificate_hash = response.json()["certificate"]["proof"]["certificateHash"]
    assert tally.accepted.setdefault(key, certificate_hash) == certificate_hash
    return response.headers["Location"]


def _load(fleet: Fleet, tally: Tally, keys: list[str], *, during: Callable[[], None], after: int) -> None:
    """Issues every key concurrently (32 clients, round robin); `during()` once `after` were accepted."""
    accepted = threading.Semaphore(0)

    def issue(key: str) -> None:
        if _issue(fleet, tally, key) is not None:
            accepted.release()

    with ThreadPoolExecutor(32) as pool:
        issuing = pool.map(issue, keys)
        for _ in range(after):
            assert accepted.acquire(timeout=300), tally
        during()
        list(issuing)


def _settle(fleet: Fleet, tally: Tally, keys: list[str]) -> None:
    """A client after the failure: every request again with its key, to any process, until accepted and done;
    then counts on the chain how often each accepted certificate was anchored."""
    def settle(key: str) -> None:
        deadline = time.monotonic() + 300
        while (path := _issue(fleet, tally, key)) is None:
            assert time.monotonic() < deadline, f"{key} was never accepted"
        assert wait_done(fleet.next(), path, timeout=300)["operation"]["state"] == "done"

    with ThreadPoolExecutor(32) as pool:
        list(pool.map(settle, keys))
    events = fleet.devnet.deployment.registry.events.CertificateIssued().get_logs(from_block=0)
    anchors = Counter("0x" + bytes(event["args"]["certificateHash"]).hex() for event in events)
    for key in keys:
        tally.count_anchoring(anchors[tally.accepted[key]])


def _nonces_used_twice(fleet: Fleet) -> list[tuple[str, int]]:
    with fleet.sessions() as session:
        return [tuple(row) for row in session.execute(
            select(Operation.sender, Operation.nonce).where(Operation.state == "done")
            .group_by(Operation.sender, Operation.nonce).having(func.count() > 1))]


def _transactions_beyond_operations(fleet: Fleet) -> dict[str, int]:
    """Per account, the transactions the chain has from it since the fleet started less its done operations:
    0 when every transaction is one operation's (none doubled or wasted)."""
    with fleet.sessions() as session:
        done = dict(session.execute(select(Operation.sender, func.count()).where(Operation.state == "done")
                                    .group_by(Operation.sender)).all())
    return {account: fleet.devnet.w3.eth.get_transaction_count(account) - base - done.get(account, 0)
            for account, base in fleet.base_nonces.items()}


def _audit_verify(gateway: GatewayProcess) -> subprocess.CompletedProcess[str]:
    certnet = Path(sys.executable).with_name("certnet")
    return subprocess.run([str(certnet), "audit", "verify", "--data-dir", str(gateway.data_dir)], env=gateway.env,
                          capture_output=True, text=True, timeout=300)


def _leading(gateway: GatewayProcess, duty: str) -> float:
    """The process's `certnet_leader` gauge of `duty`: 1 while it does the duty."""
    metrics = gateway.client.get("/metrics").text
    return next(float(line.split()[-1]) for line in metrics.splitlines()
                if line.startswith(f'certnet_leader{{duty="{duty}"}}'))


def _mz_account(fleet: Fleet) -> str:
    """Civil affairs' sending account (the one its issuances are signed with)."""
    with fleet.sessions() as session:
        return session.scalar(select(Operation.sender).where(Operation.department == DEMO_DEPARTMENTS["MZ"]).limit(1))


@pytest.fixture
def make_fleet(own_devnet: Devnet, tmp_path: Path, fleet_database: str) -> Iterator[Callable[..., Fleet]]:
    """Starts `size` gateway processes on the test's devnet and one database; stops them after the test."""
    fleets: list[Fleet] = []

    def make(size: int, **settings: str) -> Fleet:
        fleets.append(Fleet(own_devnet, tmp_path, fleet_database, size, **settings))
        return fleets[-1]

    yield make
    for fleet in fleets:
        fleet.stop()


@pytest.mark.postgres
def test_three_processes_lose_and_double_nothing_when_the_dispatching_one_is_killed(
        make_fleet: Callable[..., Fleet]) -> None:
    fleet = make_fleet(3)
    tally = Tally("3 gateway processes on PostgreSQL, the dispatching one killed (SIGKILL) mid-load")
    first = fleet.gateways[0]
    sample = first.client.post("/v1/certificates", json=marriage_request("FLEET-SAMPLE"), headers=first.auth("MZ"))
    assert sample.status_code == 201, sample.text
    members = [{k: v for k, v in marriage_request(f"FLEET-BATCH-{n}").items() if k != "type"} for n in range(BATCH)]
    batch = first.client.post("/v1/batches", json={"type": MZ_MARRIAGE, "certificates": members},
                              headers={**first.auth("MZ"), "Idempotency-Key": "fleet-batch"})
    assert batch.status_code == 202, batch.text
    duty = outbox_duty(_mz_account(fleet))
    handover: list[float] = []
    statuses: list[int] = []

    def verify_through_each(times: int) -> list[int]:
        """Departments' verifications, each logged, through every process: appends to one access log."""
        return [g.client.post("/v1/verify", json={"document": sample.json()["certificate"]},
                              headers=g.auth("SJ")).status_code for _ in range(times) for g in fleet.alive()]

    def measure_handover(killed: GatewayProcess, at: float) -> None:
        while fleet.leader(duty) in (None, killed):
            time.sleep(0.05)
        handover.append(time.monotonic() - at)

    def kill_the_dispatcher() -> None:
        leader = fleet.leader(duty)
        assert leader is not None
        statuses.extend(verify_through_each(3))
        leader.kill()
        threading.Thread(target=measure_handover, args=(leader, time.monotonic())).start()

    keys = [str(uuid.uuid4()) for _ in range(SINGLES)]
    _load(fleet, tally, keys, during=kill_the_dispatcher, after=SINGLES // 3)
    _settle(fleet, tally, keys)
    done = wait_done(fleet.next(), f"{batch.headers['Location']}?limit=1", timeout=600)
    assert done["state"] == "done", done
    registry = fleet.devnet.deployment.registry
    batch_roots = [e["args"]["batchRoot"] for e in registry.events.BatchAnchored().get_logs(from_block=0)]
    tally.count_anchoring(sum(registry.functions.anchorOf(root).call()[6] == BATCH for root in batch_roots), BATCH)
    print(f"{tally}; the dispatcher's lease taken over {handover[0]:.1f} s after the kill")

    assert (tally.anchored, tally.duplicated, tally.lost) == (SINGLES + BATCH, 0, 0), tally
    assert _nonces_used_twice(fleet) == []
    assert set(_transactions_beyond_operations(fleet).values()) == {0}
    assert set(statuses + verify_through_each(3)) == {200}
    verified = _audit_verify(fleet.alive()[0])
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert sum(_leading(g, INDEX_DUTY) for g in fleet.alive()) == 1
    with fleet.sessions() as session:
        assert session.scalar(select(func.count()).select_from(AccessLogEntry)) == 3 * 3 + 2 * 3


@pytest.mark.postgres
def test_a_paused_dispatcher_resumes_fenced_and_sends_nothing_twice(make_fleet: Callable[..., Fleet]) -> None:
    fleet = make_fleet(2, lease_seconds="2")
    tally = Tally("2 gateway processes on PostgreSQL, the dispatching one paused (SIGSTOP) past its lease")
    first = fleet.gateways[0]
    assert first.client.post("/v1/certificates", json=marriage_request("PAUSE-SAMPLE"),
                             headers=first.auth("MZ")).status_code == 201
    duty = outbox_duty(_mz_account(fleet))
    paused = fleet.leader(duty)
    assert paused is not None
    successor = next(g for g in fleet.gateways if g is not paused)

    def pause_until_taken_over() -> None:
        paused.pause()
        while fleet.leader(duty) is not successor:
            time.sleep(0.1)

    keys = [str(uuid.uuid4()) for _ in range(60)]
    fleet.next = lambda: successor  # type: ignore[method-assign]  # the load balancer sees the paused one down
    _load(fleet, tally, keys[:30], during=pause_until_taken_over, after=10)
    paused.resume()  # with rounds of its own in flight, and a lease that is no longer its
    del fleet.next  # round robin again over both
    _settle(fleet, tally, keys)

    assert (tally.anchored, tally.duplicated, tally.lost) == (len(keys), 0, 0), tally
    assert _nonces_used_twice(fleet) == []
    assert set(_transactions_beyond_operations(fleet).values()) == {0}
    # The resumed process says it lost the duties: on its next renewal or fence, or when its database
    # connection, closed by the server during the pause, fails (it may lead again later: leases are short).
    deadline = time.monotonic() + 60
    while "no longer leading" not in paused.log:
        assert time.monotonic() < deadline, paused.log[-5_000:]
        time.sleep(0.1)


@pytest.fixture(scope="module")
def on_sqlite(devnet: Devnet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """A gateway on a SQLite file, whatever database the run's other gateways use."""
    data_dir = tmp_path_factory.mktemp("sqlite-gateway")
    gateway = GatewayProcess(devnet, data_dir, database=f"sqlite:///{data_dir / 'gateway.db'}").start()
    yield gateway
    gateway.stop()


def test_a_second_process_on_a_sqlite_database_is_refused_in_one_line(on_sqlite: GatewayProcess) -> None:
    second = GatewayProcess(on_sqlite.devnet, on_sqlite.data_dir, database=on_sqlite.database_url)
    logged_before = len(on_sqlite.log)  # the two share the data dir's log file
    with pytest.raises(RuntimeError, match="exited"):
        second.start()
    said = second.log[logged_before:]
    assert "already serves the SQLite database" in said and "Traceback" not in said, said
    assert on_sqlite.client.get("/healthz").status_code == 200  # the first one serves on


def test_several_workers_on_a_sqlite_database_are_refused_in_one_line(on_sqlite: GatewayProcess) -> None:
    refused = subprocess.run([*on_sqlite.command[:3], "--workers", "2", "--port", str(free_port()), "--data-dir",
                              str(on_sqlite.data_dir)], env=on_sqlite.env, capture_output=True, text=True,
                             timeout=120)
    assert refused.returncode == 1 and "use PostgreSQL" in refused.stderr, refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr


@pytest.mark.postgres
def test_workers_of_one_serve_command_share_the_database_and_the_port(own_devnet: Devnet, tmp_path: Path,
                                                                       fleet_database: str) -> None:
    served = GatewayProcess(own_devnet, tmp_path / "gateway", database=fleet_database, workers=2).start()
    try:
        issued = served.client.post("/v1/certificates", json=marriage_request("WORKERS-1"), headers=served.auth("MZ"))
        assert issued.status_code == 201, issued.text
        verdicts = {served.client.post("/v1/verify", json={"document": issued.json()["certificate"]}).json()["verdict"]
                    for _ in range(20)}
        children = subprocess.run(["pgrep", "-P", str(served.process.pid)], capture_output=True, text=True)  # type: ignore[union-attr]
        workers = [pid for pid in children.stdout.split()  # uvicorn's workers, not multiprocessing's resource tracker
                   if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()]
        assert (verdicts, len(workers)) == ({"valid"}, 2)
    finally:
        served.stop()
