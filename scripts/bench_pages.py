"""Each web page beside the API call it shows, measured in the same run on the same gateway.

    .venv/bin/python scripts/bench_pages.py [--requests 300] [--markdown docs/benchmarks.md]

A devnet (anvil with the demo consortium, as the tests use it) and a `certnet gateway serve` process with
its SQLite database. For each pair, one client sends the page's request and the API's request alternately
(so that both meet the same chain, index and machine state), `--requests` of each, after a warm-up; the
times are measured at the client on loopback, so both include the same HTTP overhead. The page must cost
no more than twice its API call (the `ratio` column: the page's median over the API's median).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.process import GatewayProcess  # noqa: E402
from ledger_node.devnet import MZ_MARRIAGE, build_devnet_template, start_devnet  # noqa: E402

TABLE_START, TABLE_END = "<!-- pages table: written by scripts/bench_pages.py -->", "<!-- end of pages table -->"
#: What "costs no more" means here: a page's median within this multiple of its API call's.
BOUND = 2.0


@dataclass
class Pair:
    page: str
    api: str
    page_call: Callable[[], httpx.Response]
    api_call: Callable[[], httpx.Response]


def median_ms(call: Callable[[], httpx.Response], samples: list[float]) -> None:
    started = time.perf_counter()
    response = call()
    samples.append((time.perf_counter() - started) * 1000)
    if response.status_code >= 400:
        raise SystemExit(f"{response.request.method} {response.request.url.path}: {response.status_code} "
                         f"{response.text[:200]}")


def measure(pair: Pair, requests: int) -> tuple[float, float]:
    for _ in range(10):  # warm-up: templates compiled, connections pooled
        pair.page_call(), pair.api_call()
    page: list[float] = []
    api: list[float] = []
    for _ in range(requests):
        median_ms(pair.page_call, page)
        median_ms(pair.api_call, api)
    return statistics.median(page), statistics.median(api)


def signed_in_console(gateway: GatewayProcess) -> httpx.Client:
    """A client of its own signed in to the auditor console as the demo audit office, by its development token,
    through the sign-in form as a browser does."""
    console = httpx.Client(base_url=gateway.client.base_url, timeout=60)
    csrf = re.search(r'name="csrf" value="([^"]+)"', console.get("/audit/sign-in").text)
    token = gateway.auth("SJ")["Authorization"].removeprefix("Bearer ")
    signed_in = console.post("/audit/sign-in", data={"token": token, "csrf": csrf.group(1) if csrf else ""})
    if signed_in.status_code != 303:
        raise SystemExit(f"signing in to the console: {signed_in.status_code} {signed_in.text[:200]}")
    return console


def pairs(gateway: GatewayProcess) -> list[Pair]:
    client = gateway.client
    issued = client.post("/v1/certificates", headers=gateway.auth("MZ"), json={
        "type": MZ_MARRIAGE, "holder": "RIC:11010519491231002X",
        "subject": {"holderName": "张三", "certificateNumber": "J320100-2026-BENCH", "issuedOn": "2026-11-24"}})
    if issued.status_code != 201:
        raise SystemExit(f"issuing the bench's certificate: {issued.status_code} {issued.text[:200]}")
    document = issued.json()["certificate"]
    certificate_hash = document["proof"]["certificateHash"]
    file = json.dumps(document, ensure_ascii=False).encode()
    gateway.wait_indexed()
    console, auditor = signed_in_console(gateway), gateway.auth("SJ")
    events = "department=11320100MB0000027A&action=issued&limit=50"
    return [
        Pair("POST /verify (form, file)", "POST /v1/verify",
             lambda: client.post("/verify", files={"file": ("certificate.json", file, "application/json")}),
             lambda: client.post("/v1/verify", json={"document": document})),
        Pair("GET /c/{hash}", "GET /v1/certificates/{hash}",
             lambda: client.get(f"/c/{certificate_hash}"),
             lambda: client.get(f"/v1/certificates/{certificate_hash}")),
        Pair("GET /v1/certificates/{hash}/view", "GET /v1/certificates/{hash}",
             lambda: client.get(f"/v1/certificates/{certificate_hash}/view", headers=gateway.auth("MZ")),
             lambda: client.get(f"/v1/certificates/{certificate_hash}")),
        Pair("GET /audit/events (50 rows)", "GET /v1/audit/events (50 rows)",
             lambda: console.get(f"/audit/events?{events}"),
             lambda: client.get(f"/v1/audit/events?{events}", headers=auditor)),
        Pair("GET /audit/history", "GET /v1/certificates/{hash}/history",
             lambda: console.get(f"/audit/history?certificate={certificate_hash}"),
             lambda: client.get(f"/v1/certificates/{certificate_hash}/history", headers=auditor)),
    ]


def write_markdown(path: Path, lines: list[str]) -> None:
    """Replaces the pages table of `path` (between its markers), or appends it."""
    text = path.read_text(encoding="utf-8")
    block = "\n".join([TABLE_START, *lines, TABLE_END])
    section = re.compile(re.escape(TABLE_START) + ".*?" + re.escape(TABLE_END), re.DOTALL)
    text = section.sub(lambda _match: block, text) if section.search(text) else text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300, help="of each, per pair")
    parser.add_argument("--markdown", type=Path, help="rewrite the pages table of this page")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="certnet-bench-pages-") as scratch:
        root = Path(scratch)
        print("devnet and gateway starting (about 20 s)", flush=True)
        devnet = start_devnet(root / "devnet", build_devnet_template(root / "template"))
        gateway = GatewayProcess(devnet, root / "gateway")
        del gateway.env["CERTNET_ROLE_CACHE_SECONDS"]  # the tests turn the cache off; a gateway in service has it
        gateway.start()
        try:
            lines = ["| page | API call | page p50 | API p50 | ratio |", "|---|---|---|---|---|"]
            over = []
            for pair in pairs(gateway):
                page, api = measure(pair, args.requests)
                ratio = page / api
                lines.append(f"| `{pair.page}` | `{pair.api}` | {page:.2f} ms | {api:.2f} ms | {ratio:.2f}x |")
                print(lines[-1], flush=True)
                if ratio > BOUND:
                    over.append(pair.page)
        finally:
            gateway.stop()
            devnet.node.stop()
    print("\n".join(lines))
    if args.markdown:
        write_markdown(args.markdown, lines)
    if over:
        raise SystemExit(f"over {BOUND}x its API call: {', '.join(over)}")


if __name__ == "__main__":
    main()
