#!/usr/bin/env bash
# Static analysis of the CertNet contracts with slither; fails on High or Medium findings.
#
#   scripts/slither.sh            # triaged false positives (listed below) do not fail the run
#   scripts/slither.sh --strict   # every High/Medium finding fails the run
#
# slither 0.11.6 needs web3 < 8, so it lives in its own virtualenv (.venv-slither, gitignored),
# created here when missing. The compiler is the solcjs stand-in scripts/solc.js. It only speaks
# --standard-json, while crytic-compile's default `solc` platform calls `solc --combined-json`
# on a single file; so slither is pointed at the contracts/ directory with --solc-standard-json,
# which compiles every contracts/*.sol (the four deployable contracts and their bases;
# interfaces come in through imports) in one standard-JSON compilation.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SLITHER_VENV:-$ROOT/.venv-slither}"
SLITHER_VERSION=0.11.6
DEPLOYABLE=(Consortium Catalog CertificateRegistry AuditCheckpoints)
STRICT=0
[[ "${1:-}" == "--strict" ]] && STRICT=1

cd "$ROOT"
if [[ ! -x "$VENV/bin/slither" ]] || [[ "$("$VENV/bin/slither" --version 2>/dev/null)" != "$SLITHER_VERSION" ]]; then
  echo "slither: creating $VENV with slither-analyzer==$SLITHER_VERSION" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "slither-analyzer==$SLITHER_VERSION"
fi
for name in "${DEPLOYABLE[@]}"; do
  [[ -f "contracts/$name.sol" ]] || { echo "slither: contracts/$name.sol is missing" >&2; exit 2; }
done
[[ -d node_modules/@openzeppelin/contracts && -d node_modules/solc ]] || { echo "slither: run npm ci first" >&2; exit 2; }

workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT
report="$workdir/slither.json"

start=$SECONDS
# --fail-none: the exit status is decided below, after triage; a crash still fails (no report).
if ! "$VENV/bin/slither" contracts \
    --solc-standard-json \
    --solc scripts/solc.js \
    --solc-remaps "@openzeppelin/=node_modules/@openzeppelin/" \
    --filter-paths node_modules \
    --exclude-dependencies \
    --json "$report" \
    --fail-none >"$workdir/slither.log" 2>&1 || [[ ! -s "$report" ]]; then
  cat "$workdir/slither.log" >&2
  echo "slither: analysis did not run" >&2
  exit 2
fi
elapsed=$((SECONDS - start))

STRICT="$STRICT" ELAPSED="$elapsed" "$VENV/bin/python" - "$report" <<'PY'
"""Summarises slither's JSON report and decides the exit status."""
import collections
import json
import os
import sys

# Triaged High/Medium false positives: (detector, Contract.member, expression or None) -> why.
# Matched by name, not line, so that they survive edits elsewhere in the file; anything new in the
# same function or variable still fails.
TRIAGED = {
    ("incorrect-equality", "CertificateRegistry._isMember", "anchor.issuerId == 0"): "existence check of a "
    "stored anchor: _anchor() writes block.timestamp/number into _anchors, and slither's taint is not "
    "field-sensitive, so every field read from _anchors counts as timestamp-derived",
    ("incorrect-equality", "CertificateRegistry._isMember", "anchor.memberCount == 0"): "single-vs-batch "
    "check on a stored field; same field-insensitive timestamp taint of _anchors",
    ("incorrect-equality", "CertificateRegistry._revokeAsIssuer", "anchor.issuerId == 0"): "existence check "
    "of a stored anchor; same field-insensitive timestamp taint of _anchors",
}

with open(sys.argv[1]) as handle:
    report = json.load(handle)
if not report.get("success"):
    sys.exit(f"slither failed: {report.get('error')}")
results = report.get("results", {}).get("detectors", [])
strict = os.environ["STRICT"] == "1"


def key(result):
    first = result["elements"][0]
    parent = first.get("type_specific_fields", {}).get("parent", {}).get("name", "")
    nodes = [e["name"] for e in result["elements"] if e["type"] == "node"]
    return result["check"], f"{parent}.{first['name']}", nodes[0] if nodes else None


def where(result):
    mapping = next((e for e in result["elements"] if e["type"] == "node"), result["elements"][0])["source_mapping"]
    lines = mapping["lines"]
    span = f"{lines[0]}-{lines[-1]}" if len(lines) > 1 else f"{lines[0]}" if lines else "?"
    return f"{mapping['filename_relative']}:{span}"


counts = collections.Counter(r["impact"] for r in results)
order = ["High", "Medium", "Low", "Informational", "Optimization"]
print(f"slither: {len(results)} findings in {os.environ['ELAPSED']} s: " + ", ".join(f"{counts[i]} {i}" for i in order))
by_check = collections.Counter((r["impact"], r["check"]) for r in results if r["impact"] not in ("High", "Medium"))
if by_check:
    print("  below Medium: " + ", ".join(f"{check} x{n}" for (_, check), n in sorted(by_check.items(), key=lambda kv: order.index(kv[0][0]))))

failing = []
for result in results:
    if result["impact"] not in ("High", "Medium"):
        continue
    reason = None if strict else TRIAGED.get(key(result))
    label = "triaged" if reason else "FAIL"
    summary = result["description"].splitlines()[0].removesuffix(" It is used in:").rstrip(":")
    if key(result)[2]:
        summary += f": {key(result)[2]}"
    print(f"  [{label}] {result['impact']} {result['check']} at {where(result)}: {summary}")
    if reason:
        print(f"           false positive: {reason}")
    else:
        failing.append(result)

if failing:
    print(f"slither: {len(failing)} High/Medium finding(s) to fix or triage in scripts/slither.sh")
    sys.exit(1)
print("slither: no untriaged High/Medium findings")
PY
