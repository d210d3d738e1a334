#!/usr/bin/env python3
"""Times bootstrapping a demo consortium on a fresh local engine (a benchmark, not a test).

    .venv/bin/python scripts/bench_bootstrap.py --engine anvil --size city
    .venv/bin/python scripts/bench_bootstrap.py --engine ganache --size city

Starts the engine in a temporary directory, deploys, bootstraps the generated spec, re-runs the
bootstrap (which must send nothing), and prints the numbers.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from ledger_node.bootstrap import bootstrap
from ledger_node.demo import SIZES, demo_spec
from ledger_node.devnet import deploy
from ledger_node.engines import LOCAL_ENGINES, connect, start_node, stop_node
from ledger_node.spec import parse_spec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=LOCAL_ENGINES, default="anvil")
    parser.add_argument("--size", choices=list(SIZES), default="city")
    args = parser.parse_args()

    spec = parse_spec(demo_spec(args.size))
    with tempfile.TemporaryDirectory() as data_dir:
        record = start_node(Path(data_dir), args.engine)
        try:
            w3 = connect(record.url)
            started = time.monotonic()
            manifest = deploy(w3, spec, Path(data_dir) / "manifest.json", engine=args.engine, rpc_url=record.url)
            deployment = manifest.deployment(w3)
            deployed = time.monotonic()
            sent = bootstrap(w3, spec, deployment)
            finished = time.monotonic()
            resent = bootstrap(w3, spec, deployment)
            rerun = time.monotonic() - finished
        finally:
            stop_node(Path(data_dir))
    elapsed = finished - deployed
    print(f"engine {args.engine}, demo {args.size}: {len(spec.departments)} departments, {len(spec.types)} types, "
          f"{len(spec.service_items)} service items")
    print(f"deploy            {deployed - started:8.1f} s")
    print(f"bootstrap         {elapsed:8.1f} s  ({sent} transactions, {sent / elapsed:.0f} tx/s)")
    print(f"re-run (no-op)    {rerun:8.1f} s  ({resent} transactions)")


if __name__ == "__main__":
    main()
