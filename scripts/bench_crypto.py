"""The crypto suites side by side: per certificate the hash, the issuer's signature and its check, and composing a
batch (what the gateway's `compose_batch` does per member, then the Merkle root) under secp256k1-keccak and sm2-sm3.

    .venv/bin/python scripts/bench_crypto.py [--batch 10000] [--markdown docs/benchmarks.md]

In-process and chain-free: the work measured is CPU-bound and identical whatever the chain (the gateway also
writes each composed document to its database, the same under both suites). Times are the process's CPU time
(`time.process_time`), so that other work on a shared machine does not enter them; the process is single-threaded,
so CPU time is what the work would take alone. Fails (exit 1) when sm2-sm3
composes a batch more than 2x slower than secp256k1-keccak, the bound issue 19 sets. About 30 s for 10 000.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gateway.certificates.document import CertificateType, IssuerRef, certificate_hash, new_certificate  # noqa: E402
from gateway.certificates.merkle import MerkleBatch  # noqa: E402
from gateway.certificates.signing import IssuerKey, SigningDomain, recover_signer, sign  # noqa: E402
from gateway.certificates.suites import SECP256K1_KECCAK, SM2_SM3, CryptoSuite, Sm2PrivateKey  # noqa: E402
from ledger_node.accounts import dev_account  # noqa: E402
from ledger_node.types import checksum_address  # noqa: E402
from scripts.bench import replace_section  # noqa: E402

SCHEMA = {"type": "object", "required": ["id", "holderName", "certificateNumber", "issuedOn"],
          "properties": {"id": {"type": "string"}, "holderName": {"type": "string"},
                         "certificateNumber": {"type": "string"}, "issuedOn": {"type": "string", "format": "date"}}}
TYPE = CertificateType("320100-MZ-001", 1, SCHEMA)
ISSUER = IssuerRef("11320100MB0000027A", "市民政局")
DOMAIN = SigningDomain(31337, checksum_address("0x" + "ab" * 20))
HOLDER = "urn:certnet:holder:" + "9b" * 32
#: Per-operation series: enough samples for a stable mean in well under a second each.
SAMPLES = 2_000
TABLE_START, TABLE_END = "<!-- crypto table: written by scripts/bench_crypto.py -->", "<!-- end of crypto table -->"
MAX_SLOWDOWN = 2.0


def per_call(work: Callable[[int], Any], count: int) -> float:
    """Mean CPU seconds per call of `work(i)` over `count` calls."""
    started = time.process_time()
    for i in range(count):
        work(i)
    return (time.process_time() - started) / count


def unsigned(suite: CryptoSuite, i: int) -> dict[str, Any]:
    return new_certificate({"holderName": "张三", "certificateNumber": f"J320102-2026-{i:06d}", "issuedOn": "2026-11-24"},
                           HOLDER, TYPE, ISSUER, valid_from=dt.datetime(2026, 11, 24, tzinfo=dt.timezone.utc),
                           suite=suite)


def compose_batch(suite: CryptoSuite, key: IssuerKey, size: int) -> float:
    """CPU seconds to compose and sign `size` documents and build their Merkle tree."""
    started = time.process_time()
    documents = [sign(unsigned(suite, i), key, DOMAIN) for i in range(size)]
    MerkleBatch.build([bytes.fromhex(d["proof"]["certificateHash"][2:]) for d in documents])
    return time.process_time() - started


def measure(suite: CryptoSuite, key: IssuerKey, batch: int) -> dict[str, float]:
    documents = [unsigned(suite, i) for i in range(SAMPLES)]
    signed = [sign(document, key, DOMAIN) for document in documents[:SAMPLES // 4]]
    return {
        "hash": per_call(lambda i: certificate_hash(documents[i], shape_checked=True), SAMPLES),
        "sign": per_call(lambda i: sign(documents[i], key, DOMAIN), SAMPLES // 4),
        "verify": per_call(lambda i: recover_signer(signed[i]), SAMPLES // 4),
        "compose": compose_batch(suite, key, batch),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=10_000, help="members of the composed batch")
    parser.add_argument("--markdown", type=Path, help="rewrite the crypto table section of this page")
    args = parser.parse_args()
    keccak = measure(SECP256K1_KECCAK, dev_account(2), args.batch)
    sm = measure(SM2_SM3, Sm2PrivateKey.from_secret(os.urandom(32)), args.batch)
    rows = [
        ("certificate hash (field hashes + commitment), per certificate", "hash", 1e6, "µs"),
        ("issuer signature (EIP-712 / SM2), per certificate", "sign", 1e6, "µs"),
        ("signature check (recover / SM2 verify), per certificate", "verify", 1e6, "µs"),
        (f"compose a batch of {args.batch:,} (documents, signatures, Merkle root)", "compose", 1, "s"),
    ]
    lines = ["| measure | secp256k1-keccak | sm2-sm3 | sm2-sm3 / keccak |", "|---|---|---|---|"]
    for label, name, scale, unit in rows:
        lines.append(f"| {label} | {keccak[name] * scale:,.1f} {unit} | {sm[name] * scale:,.1f} {unit} | "
                     f"{sm[name] / keccak[name]:.2f}x |")
    print("\n".join(lines))
    if args.markdown:
        replace_section(args.markdown, TABLE_START, TABLE_END, [
            f"Recorded {dt.date.today().isoformat()} by `scripts/bench_crypto.py --batch {args.batch}` (`make bench`) "
            f"on the {os.cpu_count()}-core development machine, in one process, CPU time:", "", *lines])
    slowdown = sm["compose"] / keccak["compose"]
    if slowdown > MAX_SLOWDOWN:
        sys.exit(f"sm2-sm3 composes a batch {slowdown:.2f}x slower than secp256k1-keccak (at most {MAX_SLOWDOWN}x)")


if __name__ == "__main__":
    main()
