#!/usr/bin/env python3
"""Soak: a bounded mixed load against a gateway on anvil, then what it left behind (a script, not a test).

    .venv/bin/python scripts/soak.py --minutes 30 [--clients 8] [--rate 20]
    .venv/bin/python scripts/soak.py --gateway-url http://127.0.0.1:8000 --data-dir .certnet [--gateway-pid PID]

Starts an anvil devnet with the default demo consortium and a `certnet gateway serve` process that anchors
its access log every `--checkpoint-seconds` (as the tests do: ledger_node.devnet, gateway.process), or
attaches to a running gateway, whose tokens then come from `certnet gateway token` on its data directory.
`--clients` clients then send at most `--rate` requests/s in all for `--minutes`, each request drawn from:
single issuance, a small batch (5-20), verification, provenance history, a sharing request with the
holder's consent, and audit queries (access-log entries, indexed events). One progress line every 30 s;
at the end: requests by endpoint and status, 5xx responses, operations not final after a drain of at most
`--drain-seconds`, the gateway's RSS at start and at the end of the load (and after the drain), and the maxima of the index lag and of the age of
the access log's newest checkpoint (sampled from /readyz every 5 s).

Exit 1 when a request got a 5xx or no answer, or an operation failed or is not final after the drain.
RSS growth beyond 10% after the first 30 s (caches warm up in those) is flagged, not failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gateway.process import GatewayProcess  # noqa: E402
from gateway.sharing.consent import new_consent, new_holder_key, sign_record  # noqa: E402
from ledger_node.devnet import DEMO_DEPARTMENTS, MZ_MARRIAGE, build_devnet_template, citizen_id, start_devnet  # noqa: E402

SHARING_ITEM = "320100-SX-ZJ-0001"  # handled by housing (ZJ), needs civil affairs' (MZ) marriage certificate
#: The holder who shares: one certificate, one consent. The load's certificates go to others (serials 1-999):
#: a sharing request returns all of a holder's certificates, and would grow with the run.
SHARING_HOLDER = citizen_id(0)
PROGRESS_SECONDS = 30
HEALTH_SECONDS = 5
RSS_GROWTH_FLAGGED = 0.10
SERIALS = itertools.count()  # certificate numbers, shared by the clients
#: (operation, weight): mostly reads, as a city's traffic is; every write kind is in the mix.
MIX = (("issue", 20), ("batch", 5), ("verify", 25), ("history", 20), ("share", 15), ("audit", 15))


def bounded(low: float, high: float, kind: Callable[[str], float] = float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = kind(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not within {low}..{high}")
        return value
    return parse


def rss_bytes(pid: int | None) -> int | None:
    """The process's resident set (VmRSS in /proc/<pid>/status), None when unknown."""
    if pid is None:
        return None
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return None


@dataclass
class Tally:
    """What the clients saw, shared between their threads."""

    statuses: Counter[tuple[str, str]] = field(default_factory=Counter)  # (endpoint, status or error name)
    seconds: dict[str, list[float]] = field(default_factory=dict)  # endpoint -> each answer's latency
    pending: dict[int, str] = field(default_factory=dict)  # operation id -> where its state is read (202s)
    documents: list[dict[str, Any]] = field(default_factory=list)  # anchored certificates, newest last
    lag_max: int = 0
    rss_warm: int | None = None  # the gateway's RSS at the first progress line, once its caches are warm
    checkpoint_age_max: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, endpoint: str, status: str, seconds: float) -> None:
        with self.lock:
            self.statuses[(endpoint, status)] += 1
            self.seconds.setdefault(endpoint, []).append(seconds)

    def server_errors(self) -> int:
        return sum(n for (_endpoint, status), n in self.statuses.items() if status.startswith("5"))

    def transport_errors(self) -> int:
        return sum(n for (_endpoint, status), n in self.statuses.items() if not status.isdigit())


class Pacer:
    """At most `rate` starts per second across all threads."""

    def __init__(self, rate: float) -> None:
        self.interval = 1 / rate
        self.next_at = time.monotonic()
        self.lock = threading.Lock()

    def wait(self) -> None:
        with self.lock:
            now = time.monotonic()
            start_at = self.next_at = max(self.next_at + self.interval, now)
        time.sleep(max(0.0, start_at - now))


class Load:
    """The mixed requests, each counted by endpoint and status."""

    def __init__(self, http: httpx.Client, tokens: dict[str, dict[str, str]], tally: Tally, seed: int,
                 holder_pseudonym: str = "") -> None:
        self.http, self.tokens, self.tally = http, tokens, tally
        self.rng = random.Random(seed)
        self.holder_pseudonym = holder_pseudonym

    def request(self, method: str, path: str, label: str, **kwargs: Any) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as error:
            self.tally.count(f"{method} {label}", type(error).__name__, time.perf_counter() - started)
            return None
        self.tally.count(f"{method} {label}", str(response.status_code), time.perf_counter() - started)
        return response

    def marriage(self, holder: str | None = None) -> dict[str, Any]:
        serial = next(SERIALS)
        return {"type": MZ_MARRIAGE, "holder": holder or citizen_id(1 + serial % 999), "subject": {
            "holderName": "张三", "certificateNumber": f"J320100-2026-{serial % 10**6:06d}", "issuedOn": "2026-11-24"}}

    def prepare_sharing(self, minutes: float) -> str:
        """The holder's key (registered by the holder channel), a certificate, and a consent for the run;
        returns the holder's pseudonym."""
        key = new_holder_key()
        response = self.request("POST", "/v1/holders/keys", "/v1/holders/keys", headers=self.tokens["ZWB"], json={
            "holder": SHARING_HOLDER, "publicKey": key.get_verifying_key().to_pem().decode()})
        if response is None or response.status_code != 201:
            raise SystemExit(f"registering the holder's key failed: {response and response.text}")
        self.holder_pseudonym = response.json()["holder"]
        self.issue(SHARING_HOLDER)
        now = dt.datetime.now(dt.timezone.utc)
        record = new_consent(self.holder_pseudonym, DEMO_DEPARTMENTS["ZJ"], SHARING_ITEM, [MZ_MARRIAGE],
                             not_before=now - dt.timedelta(minutes=1), not_after=now + dt.timedelta(minutes=minutes + 60))
        response = self.request("POST", "/v1/consents", "/v1/consents",
                                json={"record": record, "signature": sign_record(key, record)})
        if response is None or response.status_code != 201:
            raise SystemExit(f"giving the consent failed: {response and response.text}")
        return self.holder_pseudonym

    def run_one(self) -> None:
        operation = self.rng.choices([name for name, _ in MIX], [weight for _, weight in MIX])[0]
        if operation in ("verify", "history") and not self.tally.documents:
            operation = "issue"
        getattr(self, operation)()

    def issue(self, holder: str | None = None) -> None:
        response = self.request("POST", "/v1/certificates", "/v1/certificates", headers=self.tokens["MZ"],
                                json=self.marriage(holder))
        if response is not None and response.status_code == 201:
            with self.tally.lock:
                self.tally.documents = [*self.tally.documents[-499:], response.json()["certificate"]]
        elif response is not None and response.status_code == 202:
            self.tally.pending[response.json()["operation"]["id"]] = "/v1/operations/{}"

    def batch(self) -> None:
        members = [{key: value for key, value in self.marriage().items() if key != "type"}
                   for _ in range(self.rng.randint(5, 20))]
        response = self.request("POST", "/v1/batches", "/v1/batches", headers=self.tokens["MZ"],
                                json={"type": MZ_MARRIAGE, "certificates": members})
        if response is not None and response.status_code == 202:
            self.tally.pending[response.json()["id"]] = "/v1/batches/{}?limit=1"

    def verify(self) -> None:
        document = self.rng.choice(self.tally.documents)
        self.request("POST", "/v1/verify", "/v1/verify", json={"document": document},
                     headers=self.tokens["ZJ"] if self.rng.random() < 0.5 else {})  # a department's read is logged

    def history(self) -> None:
        certificate_hash = self.rng.choice(self.tally.documents)["proof"]["certificateHash"]
        self.request("GET", f"/v1/certificates/{certificate_hash}/history", "/v1/certificates/{hash}/history",
                     headers=self.tokens["MZ"])

    def share(self) -> None:
        self.request("POST", "/v1/sharing/requests", "/v1/sharing/requests", headers=self.tokens["ZJ"],
                     json={"serviceItem": SHARING_ITEM, "holder": self.holder_pseudonym})

    def audit(self) -> None:
        path = self.rng.choice(["/v1/audit/log/entries", "/v1/audit/events"])
        self.request("GET", path, path, headers=self.tokens["SJ"], params={"limit": 20})


def sample_health(http: httpx.Client, tally: Tally) -> dict[str, Any] | None:
    """One /readyz reading folded into the maxima; None when the gateway does not answer."""
    try:
        health = http.get("/readyz").json()
    except (httpx.TransportError, ValueError):
        return None
    with tally.lock:
        tally.lag_max = max(tally.lag_max, health["index"]["lag"] or 0)
        anchored_at = (health.get("checkpoints") or {}).get("lastAnchoredAt")
        if anchored_at:
            age = time.time() - dt.datetime.fromisoformat(anchored_at.replace("Z", "+00:00")).timestamp()
            tally.checkpoint_age_max = max(tally.checkpoint_age_max or 0.0, age)
    return health


def drain(http: httpx.Client, tokens: dict[str, str], tally: Tally, seconds: float) -> tuple[list[int], list[int]]:
    """Waits (at most `seconds`) for every operation answered 202; returns those failed and those not final."""
    deadline = time.monotonic() + seconds
    failed: list[int] = []
    open_ids = dict(tally.pending)
    while open_ids and time.monotonic() < deadline:
        for operation_id, path in list(open_ids.items()):
            body = http.get(path.format(operation_id), headers=tokens).json()
            state = (body.get("operation") or body)["state"]
            if state in ("done", "failed"):
                del open_ids[operation_id]
                if state == "failed":
                    failed.append(operation_id)
        time.sleep(1)
    return failed, sorted(open_ids)


def report(tally: Tally, rss: tuple[int | None, int | None, int | None], failed: list[int], not_final: list[int],
           pending_at_end: int | None, checkpoint_seconds: float | None) -> bool:
    """Prints the summary; returns whether the run passed."""
    by_endpoint: dict[str, Counter[str]] = {}
    for (endpoint, status), n in sorted(tally.statuses.items()):
        by_endpoint.setdefault(endpoint, Counter())[status] += n
    print(f"{'endpoint':<36} {'requests':>8} {'p50 ms':>7} {'p99 ms':>7}  by status")
    for endpoint, statuses in by_endpoint.items():
        seconds = sorted(tally.seconds[endpoint])
        p50, p99 = (seconds[min(len(seconds) - 1, int(q * len(seconds)))] * 1000 for q in (0.5, 0.99))
        print(f"{endpoint:<36} {sum(statuses.values()):>8} {p50:>7.0f} {p99:>7.0f}  "
              + "  ".join(f"{s}: {n}" for s, n in sorted(statuses.items())))
    print(f"{'all':<36} {sum(tally.statuses.values()):>8}")
    server_errors, transport_errors = tally.server_errors(), tally.transport_errors()
    print(f"5xx responses: {server_errors}; requests without an answer: {transport_errors}")
    print(f"operations answered 202: {len(tally.pending)}; failed: {len(failed)} {failed[:10]}; not final after the "
          f"drain: {len(not_final)} {not_final[:10]}; outbox pending at the end (/readyz): {pending_at_end}")
    start, end, drained = rss
    if start and end and drained:
        warm = tally.rss_warm or start
        growth = end / warm - 1
        flag = "  FLAG: grew beyond 10%" if growth > RSS_GROWTH_FLAGGED else ""
        print(f"gateway RSS: start {start / 2**20:.1f} MiB, after {PROGRESS_SECONDS} s {warm / 2**20:.1f} MiB, end of "
              f"the load {end / 2**20:.1f} MiB ({growth:+.1%} since the first {PROGRESS_SECONDS} s, "
              f"{end / start - 1:+.1%} since the start){flag}; after the drain {drained / 2**20:.1f} MiB")
    else:
        print("gateway RSS: unknown (attached without --gateway-pid)")
    print(f"index lag max: {tally.lag_max} blocks")
    interval = f" (interval {checkpoint_seconds:.0f} s)" if checkpoint_seconds else ""
    age = "no checkpoint seen" if tally.checkpoint_age_max is None else f"{tally.checkpoint_age_max:.0f} s"
    print(f"checkpoint age max: {age}{interval}")
    passed = not (server_errors or transport_errors or failed or not_final)
    print(f"result: {'PASS' if passed else 'FAIL'}")
    return passed


def tokens_from_cli(data_dir: Path) -> dict[str, dict[str, str]]:
    """Tokens of an attached gateway, made by `certnet gateway token` on its data directory."""
    certnet = str(Path(sys.executable).with_name("certnet"))
    tokens = {}
    for abbr in ("MZ", "ZWB", "ZJ", "SJ"):
        made = subprocess.run([certnet, "gateway", "token", DEMO_DEPARTMENTS[abbr], "--label", "soak",
                               "--data-dir", str(data_dir)], capture_output=True, text=True, check=False)
        if made.returncode != 0:
            raise SystemExit(f"certnet gateway token failed: {made.stderr.strip()}")
        tokens[abbr] = {"Authorization": f"Bearer {made.stdout.strip()}"}
    return tokens


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=bounded(0.1, 720), default=30.0)
    parser.add_argument("--clients", type=bounded(1, 64, int), default=8, help="concurrent clients (1-64)")
    parser.add_argument("--rate", type=bounded(0.1, 500), default=20.0, help="at most this many requests/s in all")
    parser.add_argument("--drain-seconds", type=bounded(1, 600), default=120.0)
    parser.add_argument("--checkpoint-seconds", type=bounded(5, 3600), default=30.0,
                        help="access-log checkpoint interval of the gateway started here")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--gateway-url", help="attach to this gateway instead of starting one")
    parser.add_argument("--data-dir", type=Path, help="with --gateway-url: its data directory (tokens)")
    parser.add_argument("--gateway-pid", type=int, help="with --gateway-url: its pid (RSS)")
    args = parser.parse_args()
    if args.gateway_url and not args.data_dir:
        parser.error("--gateway-url needs --data-dir (where `certnet gateway token` makes the soak's tokens)")

    workdir = Path(tempfile.mkdtemp(prefix="certnet-soak-"))
    gateway: GatewayProcess | None = None
    if args.gateway_url:
        base_url, pid, tokens = args.gateway_url, args.gateway_pid, tokens_from_cli(args.data_dir)
        checkpoint_seconds = None
    else:
        print(f"starting an anvil devnet and a gateway in {workdir} ...", flush=True)
        devnet = start_devnet(workdir / "devnet", build_devnet_template(workdir / "template"))
        gateway = GatewayProcess(devnet, workdir / "gateway", checkpoint_interval_seconds=str(args.checkpoint_seconds),
                                 index_poll_seconds="0.5", role_cache_seconds="5").start()
        base_url, pid = str(gateway.client.base_url), gateway.process.pid if gateway.process else None
        tokens = {abbr: gateway.auth(abbr) for abbr in ("MZ", "ZWB", "ZJ", "SJ")}
        checkpoint_seconds = args.checkpoint_seconds
    http = httpx.Client(base_url=base_url, timeout=120, limits=httpx.Limits(max_connections=2 * args.clients))
    tally = Tally()
    passed = False
    try:
        holder = Load(http, tokens, tally, args.seed).prepare_sharing(args.minutes)
        rss_start = rss_bytes(pid)
        print(f"soak: {args.minutes:g} min, {args.clients} clients, at most {args.rate:g} req/s, gateway {base_url} "
              f"(pid {pid})", flush=True)
        run(http, tokens, tally, args, pid, holder)
        rss_end = rss_bytes(pid)  # before the drain, whose burst of batch reads is no part of the load
        failed, not_final = drain(http, tokens["MZ"], tally, args.drain_seconds)
        health = sample_health(http, tally)
        passed = report(tally, (rss_start, rss_end, rss_bytes(pid)), failed, not_final,
                        health["outbox"]["pending"] if health else None, checkpoint_seconds)
    finally:
        http.close()
        if gateway is not None:
            gateway.stop()
            gateway.devnet.node.stop()
    if passed:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"the chain's and the gateway's logs are kept in {workdir}")
    return 0 if passed else 1


def run(http: httpx.Client, tokens: dict[str, dict[str, str]], tally: Tally, args: argparse.Namespace,
        pid: int | None, holder: str) -> None:
    """The load itself, with a health sampler and a progress line every PROGRESS_SECONDS."""
    started = time.monotonic()
    deadline = started + args.minutes * 60
    pacer = Pacer(args.rate)

    def client(index: int) -> None:
        load = Load(http, tokens, tally, args.seed + index, holder)
        while time.monotonic() < deadline:
            pacer.wait()
            load.run_one()

    with ThreadPoolExecutor(args.clients) as pool:
        futures = [pool.submit(client, index) for index in range(args.clients)]
        next_progress = started + PROGRESS_SECONDS
        while time.monotonic() < deadline:
            health = sample_health(http, tally)
            if time.monotonic() >= next_progress:
                next_progress += PROGRESS_SECONDS
                total = sum(tally.statuses.values())
                rss = rss_bytes(pid)
                tally.rss_warm = tally.rss_warm or rss
                print(f"{(time.monotonic() - started) / 60:5.1f} min  {total} requests "
                      f"({total / (time.monotonic() - started):.1f}/s)  5xx {tally.server_errors()}  "
                      f"no answer {tally.transport_errors()}  answered 202 {len(tally.pending)}  "
                      f"index lag {health and health['index']['lag']}  outbox {health and health['outbox']['pending']}"
                      f"  RSS {rss / 2**20 if rss else float('nan'):.0f} MiB", flush=True)
            time.sleep(min(HEALTH_SECONDS, max(0.0, deadline - time.monotonic())))
        for future in futures:
            future.result()


if __name__ == "__main__":
    sys.exit(main())
