#!/usr/bin/env bash
# Static analysis of the CertNet contracts: a stock `slither .`, failing on any High or Medium
# finding. There is no triage list: a finding judged a false positive is silenced in the source,
# beside the line, with `// slither-disable-next-line <detector> (<why>)`.
#
# slither runs on crytic-compile's Hardhat platform, which compiles contracts/ with
# hardhat.config.js (the pinned npm solc: nothing is downloaded). slither 0.11.6 needs web3 < 8,
# so it lives in its own virtualenv (.venv-slither, gitignored), created here when missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SLITHER_VENV:-$ROOT/.venv-slither}"
SLITHER_VERSION=0.11.6

cd "$ROOT"
if [[ ! -x "$VENV/bin/slither" ]] || [[ "$("$VENV/bin/slither" --version 2>/dev/null)" != "$SLITHER_VERSION" ]]; then
  echo "slither: creating $VENV with slither-analyzer==$SLITHER_VERSION" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --disable-pip-version-check "slither-analyzer==$SLITHER_VERSION"
fi
[[ -d node_modules/hardhat ]] || { echo "slither: run npm ci (or make setup) first" >&2; exit 2; }

if "$VENV/bin/slither" . --fail-medium; then
  echo "slither: no High or Medium findings"
else
  status=$?
  echo "slither: High or Medium findings above (or the analysis failed): fix each, or silence a false" \
       "positive beside its line with // slither-disable-next-line <detector> (<why>)" >&2
  exit "$status"
fi
